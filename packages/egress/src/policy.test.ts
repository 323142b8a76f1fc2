import { describe, expect, it } from 'vitest';
import { Egress } from './client.js';
import type { ResolvedAddress } from './client.js';
import { EgressError, addressRange, checkTargetLiteral, parseAllowlist, refusalOf } from './policy.js';

// No test here opens a socket: the guard's decisions are made before any connection.

/** Each spelling, and the range the guard must name when refusing it. */
const HOSTILE: [string, string][] = [
  ['http://127.0.0.1/', 'loopback'],
  ['http://127.1/', 'loopback'],
  ['http://127.0.1/', 'loopback'],
  ['http://2130706433/', 'loopback'],
  ['http://0x7f000001/', 'loopback'],
  ['http://0x7f.0x0.0x0.0x1/', 'loopback'],
  ['http://0177.0.0.1/', 'loopback'],
  ['http://017700000001/', 'loopback'],
  ['http://127.000.000.001/', 'loopback'],
  ['http://127.0.0.1./', 'loopback'],
  ['http://１２７.０.０.１/', 'loopback'],
  ['https://[::1]:8443/', 'loopback'],
  ['http://[0:0:0:0:0:0:0:1]/', 'loopback'],
  ['http://[::ffff:127.0.0.1]/', 'loopback'],
  ['http://[::ffff:7f00:1]/', 'loopback'],
  ['http://[0:0:0:0:0:ffff:127.0.0.2]/', 'loopback'],
  ['http://[::127.0.0.1]/', 'nonGlobal'],
  ['http://0.0.0.0/', 'unspecified'],
  ['http://0/', 'unspecified'],
  ['http://[::]/', 'unspecified'],
  ['http://10.0.0.1/', 'private'],
  ['http://012.1.2.3/', 'private'],
  ['http://172.16.0.1/', 'private'],
  ['http://172.31.255.255/', 'private'],
  ['http://192.168.1.1/', 'private'],
  ['http://0300.0250.0.1/', 'private'],
  ['http://3232235777/', 'private'],
  ['http://100.64.0.1/', 'carrierGradeNat'],
  ['http://100.100.100.200/', 'carrierGradeNat'],
  ['http://169.254.169.254/', 'linkLocal'],
  ['http://2852039166/', 'linkLocal'],
  ['http://0xa9fea9fe/', 'linkLocal'],
  ['http://[::ffff:169.254.169.254]/', 'linkLocal'],
  ['http://[::ffff:a9fe:a9fe]/', 'linkLocal'],
  ['http://[fe80::1]/', 'linkLocal'],
  ['http://[fd00:ec2::254]/', 'uniqueLocal'],
  ['http://[fc00::1]/', 'uniqueLocal'],
  ['http://[64:ff9b::7f00:1]/', 'rfc6052'],
  ['http://[64:ff9b::169.254.169.254]/', 'rfc6052'],
  ['http://[64:ff9b:1::a00:1]/', 'rfc6052'],
  ['http://[2002:7f00:1::]/', '6to4'],
  ['http://[2001::1]/', 'teredo'],
  ['http://224.0.0.1/', 'multicast'],
  ['http://[ff02::1]/', 'multicast'],
  ['http://255.255.255.255/', 'broadcast'],
  ['http://192.0.0.192/', 'reserved'],
  ['http://198.18.0.1/', 'reserved'],
  ['http://240.0.0.1/', 'reserved'],
  ['http://[2001:db8::1]/', 'reserved'],
];

const LOCAL_NAMES = [
  'http://localhost/',
  'http://LOCALHOST./',
  'http://app.localhost:8080/',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://metadata/',
  'http://instance-data/latest/meta-data/',
];

const NOT_WEB = [
  ['ftp://example.com/', 'only http and https URLs can be tested, not ftp:'],
  ['file:///etc/passwd', 'only http and https URLs can be tested, not file:'],
  ['gopher://example.com/', 'only http and https URLs can be tested, not gopher:'],
  ['javascript:alert(1)', 'only http and https URLs can be tested, not javascript:'],
  ['http://user:secret@example.com/', 'a target URL must not contain credentials'],
  ['http://example.com:22/', 'port 22 is not a web port and cannot be tested'],
  ['http://example.com:25/', 'port 25 is not a web port and cannot be tested'],
  ['/relative/path', 'not an absolute URL: /relative/path'],
] as const;

function refusal(fn: () => unknown): EgressError {
  try {
    fn();
  } catch (err) {
    if (err instanceof EgressError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('checkTargetLiteral', () => {
  it(`refuses ${HOSTILE.length} hostile spellings of non-public addresses, naming the range`, () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(40);
    for (const [url, range] of HOSTILE) {
      const err = refusal(() => checkTargetLiteral(url));
      expect({ url, code: err.code }).toEqual({ url, code: 'TARGET_REFUSED' });
      expect(err.message, url).toMatch(new RegExp(`is a ${range} address$`));
    }
  });

  it('refuses names that only mean this machine or a metadata service', () => {
    for (const url of LOCAL_NAMES) {
      const err = refusal(() => checkTargetLiteral(url));
      expect({ url, code: err.code }).toEqual({ url, code: 'TARGET_REFUSED' });
    }
  });

  it('refuses what is not an http(s) URL to a web port', () => {
    for (const [url, message] of NOT_WEB) {
      const err = refusal(() => checkTargetLiteral(url));
      expect({ code: err.code, message: err.message }).toEqual({ code: 'INVALID_TARGET', message });
    }
  });

  it('accepts public addresses and names, normalising the spelling', () => {
    expect(checkTargetLiteral('http://93.184.215.14/').hostname).toBe('93.184.215.14');
    expect(checkTargetLiteral('http://1572394766/').hostname).toBe('93.184.215.14');
    expect(checkTargetLiteral('https://[2606:4700:4700::1111]/').hostname).toBe('[2606:4700:4700::1111]');
    expect(checkTargetLiteral('https://Example.COM:8443/a?b').toString()).toBe(
      'https://example.com:8443/a?b',
    );
  });

  it('opens exactly what the allowlist names', () => {
    const allowlist = parseAllowlist('127.0.0.1, 10.1.0.0/16, localhost, ::1');
    expect(checkTargetLiteral('http://127.0.0.1:8080/', allowlist).port).toBe('8080');
    expect(checkTargetLiteral('http://2130706433/', allowlist).hostname).toBe('127.0.0.1');
    expect(checkTargetLiteral('http://[::ffff:127.0.0.1]/', allowlist).hostname).toBe('[::ffff:7f00:1]');
    expect(checkTargetLiteral('http://10.1.200.3/', allowlist).hostname).toBe('10.1.200.3');
    expect(checkTargetLiteral('http://localhost/', allowlist).hostname).toBe('localhost');
    expect(checkTargetLiteral('http://[::1]/', allowlist).hostname).toBe('[::1]');
    expect(refusal(() => checkTargetLiteral('http://127.0.0.2/', allowlist)).message).toBe(
      'target refused: 127.0.0.2 is a loopback address',
    );
    expect(refusal(() => checkTargetLiteral('http://10.2.0.1/', allowlist)).code).toBe('TARGET_REFUSED');
    expect(refusal(() => checkTargetLiteral('http://app.localhost/', allowlist)).code).toBe('TARGET_REFUSED');
  });
});

describe('parseAllowlist', () => {
  it('reads hosts, addresses and CIDRs', () => {
    const list = parseAllowlist(' 127.0.0.0/8 ,Intranet.Example, fd00::/8,');
    expect([...list.hosts]).toEqual(['intranet.example']);
    expect(list.cidrs.map(([net, bits]) => `${net.toString()}/${bits}`)).toEqual(['127.0.0.0/8', 'fd00::/8']);
    expect(parseAllowlist('').cidrs).toEqual([]);
  });

  it('names a bad entry', () => {
    expect(() => parseAllowlist('10.0.0.0/33')).toThrow('"10.0.0.0/33" is not a valid CIDR');
    expect(() => parseAllowlist('bad_host!')).toThrow(
      '"bad_host!" is neither a host name, an IP address nor a CIDR',
    );
  });
});

describe('addressRange and refusalOf', () => {
  it('judges IPv4-mapped IPv6 as the IPv4 it carries', () => {
    expect(addressRange('::ffff:10.0.0.1')).toBe('private');
    expect(addressRange('::ffff:93.184.215.14')).toBe('unicast');
    expect(refusalOf('::ffff:8.8.8.8')).toBeNull();
  });

  it('refuses what is not an address at all', () => {
    expect(refusalOf('2130706433')).toBe('2130706433 is not an IP address');
    expect(refusalOf('0x7f.1')).toBe('0x7f.1 is not an IP address');
  });
});

describe('Egress.resolve', () => {
  const answers = (map: Record<string, string[]>) => async (name: string) => {
    const list = map[name];
    if (!list) throw new Error(`getaddrinfo ENOTFOUND ${name}`);
    return list.map((address): ResolvedAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

  it('refuses a name when any of its addresses is private', async () => {
    const egress = new Egress({
      resolver: answers({
        'mixed.test': ['93.184.215.14', '10.0.0.5'],
        'v6.test': ['2606:4700::1', 'fe80::1'],
        'mapped.test': ['::ffff:169.254.169.254'],
        'public.test': ['93.184.215.14', '2606:4700::1'],
      }),
    });
    await expect(egress.resolve('mixed.test')).rejects.toThrow(
      'target refused: mixed.test resolves to 10.0.0.5 is a private address',
    );
    await expect(egress.resolve('v6.test')).rejects.toThrow('fe80::1 is a linkLocal address');
    await expect(egress.resolve('mapped.test')).rejects.toThrow('169.254.169.254 is a linkLocal address');
    await expect(egress.resolve('public.test')).resolves.toEqual({ address: '93.184.215.14', family: 4 });
  });

  it('reports a name that does not resolve as DNS_FAILED', async () => {
    const egress = new Egress({ resolver: answers({ 'empty.test': [] }) });
    await expect(egress.resolve('nowhere.test')).rejects.toMatchObject({
      code: 'DNS_FAILED',
      message: 'cannot resolve nowhere.test: getaddrinfo ENOTFOUND nowhere.test',
    });
    await expect(egress.resolve('empty.test')).rejects.toMatchObject({ code: 'DNS_FAILED' });
  });

  it('lets an allowlisted name resolve to private addresses, and only that name', async () => {
    const egress = new Egress({
      allowlist: parseAllowlist('intranet.test'),
      resolver: answers({ 'intranet.test': ['10.0.0.5'], 'other.test': ['10.0.0.5'] }),
    });
    await expect(egress.resolve('intranet.test')).resolves.toEqual({ address: '10.0.0.5', family: 4 });
    await expect(egress.resolve('other.test')).rejects.toMatchObject({ code: 'TARGET_REFUSED' });
  });
});
