import { Launcher } from 'chrome-launcher';
import { describe, expect, it } from 'vitest';
import { chromiumFlags } from './chromium.js';

const features = (flags: string[]) =>
  flags
    .filter((f) => f.startsWith('--disable-features='))
    .flatMap((f) => f.slice('--disable-features='.length).split(','));

describe('chromiumFlags', () => {
  const flags = chromiumFlags('http://127.0.0.1:9', 256);

  it("turns Chromium's background networking off", () => {
    expect(flags).toEqual(
      expect.arrayContaining([
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-default-apps',
        '--disable-domain-reliability',
        '--metrics-recording-only',
        '--disable-client-side-phishing-detection',
        '--disable-extensions',
        '--no-pings',
      ]),
    );
  });

  it("keeps every one of chrome-launcher's defaults, which are not added implicitly any more", () => {
    const defaults = Launcher.defaultFlags();
    expect(flags).toEqual(
      expect.arrayContaining(defaults.filter((f) => !f.startsWith('--disable-features='))),
    );
    expect(features(flags)).toEqual(
      expect.arrayContaining(features(defaults).filter((f) => f !== 'CalculateNativeWinOcclusion')),
    );
    // One --disable-features: Chromium keeps only the last.
    expect(flags.filter((f) => f.startsWith('--disable-features='))).toHaveLength(1);
    expect(features(flags)).toContain('NetworkTimeServiceQuerying');
  });

  it('sends everything through the proxy, loopback included', () => {
    expect(flags).toEqual(
      expect.arrayContaining(['--proxy-server=http://127.0.0.1:9', '--proxy-bypass-list=<-loopback>']),
    );
  });
});
