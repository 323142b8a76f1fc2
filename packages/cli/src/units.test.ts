import { describe, expect, it } from 'vitest';
import { CliError } from './exit-codes.js';
import { githubAnnotations } from './github.js';
import { junitXml, xmlEscape } from './junit.js';
import { colorsEnabled } from './output.js';
import { thresholdsOf, worstExitCode } from './report.js';
import type { CheckReport } from './report-schema.js';
import { buildConfig, parseDuration, runTestBody } from './submission.js';

const check = (over: Partial<CheckReport>): CheckReport => ({
  id: 'id-1',
  name: 'home',
  type: 'performance',
  target: 'http://127.0.0.1/',
  status: 'completed',
  verdict: 'failed',
  exitCode: 1,
  metrics: {},
  thresholds: [],
  comparison: [],
  durationMs: 1500,
  url: 'http://127.0.0.1:3000/tests/id-1',
  error: null,
  ...over,
});

describe('flags', () => {
  it('--config: JSON values, text otherwise, dotted keys nest; a bad pair is a usage error', () => {
    expect(
      buildConfig(['iterations=3', 'thresholds.p95Ms=250', 'method=POST', 'headers={"a":"b"}'], undefined),
    ).toEqual({
      iterations: 3,
      thresholds: { p95Ms: 250 },
      method: 'POST',
      headers: { a: 'b' },
    });
    expect(() => buildConfig(['iterations'], undefined)).toThrow(CliError);
    expect(() => buildConfig(['a=1', 'a.b=2'], undefined)).toThrow(/a is already a value/);
  });

  it('--timeout: 90 and 90s are seconds, 10m minutes; nonsense is refused', () => {
    expect([parseDuration('90'), parseDuration('90s'), parseDuration('10m'), parseDuration('500ms')]).toEqual(
      [90_000, 90_000, 600_000, 500],
    );
    expect(() => parseDuration('soon')).toThrow(/expected a duration/);
    expect(() => parseDuration('0s')).toThrow(/more than 0/);
  });

  it('leaves out what was not given, so the server applies its defaults', () => {
    expect(runTestBody({ type: 'seo', target: 'http://x/', thresholds: [] })).toEqual({
      testType: 'seo',
      url: 'http://x/',
    });
    expect(
      runTestBody({
        type: 'seo',
        target: 'http://x/',
        thresholds: ['score >= 80'],
        runs: 3,
        baseline: 'previous',
        failOnRegression: true,
      }),
    ).toEqual({
      testType: 'seo',
      url: 'http://x/',
      thresholds: ['score >= 80'],
      runs: 3,
      baseline: 'previous',
      failOnRegression: true,
    });
  });

  it('NO_COLOR wins, FORCE_COLOR=0 turns colour off, else a terminal decides', () => {
    expect(colorsEnabled({ NO_COLOR: '1', FORCE_COLOR: '1' }, true)).toBe(false);
    expect(colorsEnabled({ FORCE_COLOR: '0' }, true)).toBe(false);
    expect(colorsEnabled({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colorsEnabled({}, true)).toBe(true);
    expect(colorsEnabled({}, false)).toBe(false);
  });
});

describe('reports', () => {
  it("reads stress's config thresholds and the threshold language alike", () => {
    expect(
      thresholdsOf({
        thresholds: [
          { name: 'minRps', limit: 10, actual: 4.5, passed: false },
          {
            expression: 'latency.p95 < 300',
            metric: 'latency.p95',
            op: '<',
            limit: 300,
            actual: 120,
            passed: true,
          },
        ],
      }),
    ).toEqual([
      { expression: 'minRps >= 10', metric: 'minRps', op: '>=', limit: 10, actual: 4.5, passed: false },
      {
        expression: 'latency.p95 < 300',
        metric: 'latency.p95',
        op: '<',
        limit: 300,
        actual: 120,
        passed: true,
      },
    ]);
    expect(worstExitCode([0, 1, 3, 2])).toBe(3);
  });

  it('JUnit escapes what XML must, drops what XML cannot hold, and has a case even without thresholds', () => {
    expect(xmlEscape(`a<b>&"c'\u0001`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
    const xml = junitXml([
      check({ name: 'api "x"', type: 'api' }),
      check({ status: 'failed', verdict: null, exitCode: 3, error: 'boom' }),
    ]);
    expect(xml).toContain('<testsuite name="api &quot;x&quot;" tests="1" failures="1" errors="0"');
    expect(xml).toContain('<error message="boom" type="failed"/>');
    expect(xml).toContain('<testsuites name="crucible" tests="2" failures="1" errors="1"');
  });

  it('GitHub annotations escape newlines, colons and commas', () => {
    const [line] = githubAnnotations([
      check({
        name: 'a:b,c',
        thresholds: [{ expression: 'x < 1', metric: 'x', op: '<', limit: 1, actual: 2, passed: false }],
      }),
    ]);
    expect(line).toBe('::error title=Crucible%3A a%3Ab%2Cc threshold failed::x < 1 (actual 2)');
  });
});
