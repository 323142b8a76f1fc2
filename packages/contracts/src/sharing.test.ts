import { describe, expect, it } from 'vitest';
import { REDACTED, redactShared, redactUrls, sharedLiveData } from './sharing.js';

describe('redactShared', () => {
  it('keeps header names, drops their values, bodies, credentials and URL queries at any depth', () => {
    const config = {
      method: 'POST',
      headers: { 'X-Api-Key': 'k1', Accept: 'text/html' },
      steps: [{ body: { password: 'p' }, capture: { t: '$.token' }, url: 'https://a.test/x?sig=abc#frag' }],
      accessToken: 'tok',
      connections: 10,
    };
    expect(redactShared(config)).toEqual({
      method: 'POST',
      headers: { 'X-Api-Key': REDACTED, Accept: REDACTED },
      steps: [{ body: REDACTED, capture: { t: '$.token' }, url: `https://a.test/x?${REDACTED}` }],
      accessToken: REDACTED,
      connections: 10,
    });
  });

  it('takes credentials out of URLs inside any text', () => {
    expect(redactUrls('GET https://u:p@h.test/a?x=1 failed; see http://h.test/b')).toBe(
      `GET https://h.test/a?${REDACTED} failed; see http://h.test/b`,
    );
  });
});

describe('sharedLiveData', () => {
  it('passes status and figures, never ids, URLs, stages or errors', () => {
    expect(
      sharedLiveData({
        testId: 't',
        jobId: 'j',
        url: 'http://h.test/?k=1',
        stage: 'GET http://h.test/?k=1',
        error: 'boom at http://h.test/?k=1',
        status: 'running',
        progress: 40,
        rps: 120.5,
        latency: { p50: 3, p95: 9, who: 'x' },
      }),
    ).toEqual({ status: 'running', progress: 40, rps: 120.5, latency: { p50: 3, p95: 9 } });
  });
});
