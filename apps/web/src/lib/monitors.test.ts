import { describe, expect, it } from 'vitest';
import type { MonitorRunView, MonitorView } from '@crucible/contracts/api';
import type { EventMessage } from '@crucible/contracts/envelope';
import {
  applyMonitorEvent,
  formatUptime,
  isMonitorEvent,
  mergeRuns,
  problemField,
  runChart,
  scheduleText,
  sparklinePoints,
  untilText,
} from './monitors';

const at = (s: number) => new Date(Date.UTC(2026, 11, 6, 1, 0, s)).toISOString();
const sec = (s: number) => Date.UTC(2026, 11, 6, 1, 0, s) / 1000;

function run(s: number, over: Partial<MonitorRunView> = {}): MonitorRunView {
  return {
    testId: `t${s}`,
    scheduledFor: at(s),
    outcome: 'run',
    reason: null,
    status: 'completed',
    verdict: 'none',
    state: 'up',
    startedAt: at(s),
    completedAt: at(s + 1),
    metrics: { 'duration.total': { value: s * 10, unit: 'ms' } },
    ...over,
  };
}

function monitor(over: Partial<MonitorView> = {}): MonitorView {
  return {
    id: 'm1',
    name: 'home',
    test: {},
    schedule: { everySeconds: 30 },
    enabled: true,
    status: 'up',
    nextRunAt: at(60),
    codeKey: null,
    createdAt: at(0),
    updatedAt: at(0),
    lastRun: { testId: 't30', scheduledFor: at(30), state: 'up', completedAt: at(31) },
    uptime24h: 100,
    uptime30d: 100,
    keyMetric: null,
    ...over,
  };
}

const statusEvent = (data: Record<string, unknown>) =>
  ({
    event: 'monitor:status',
    data: { monitorId: 'm1', workspaceId: 'w', name: 'home', from: 'up', ...data },
  }) as unknown as EventMessage;

describe('monitor figures', () => {
  it('writes uptime without rounding a failure up to 100 %', () => {
    expect(formatUptime(null)).toBe('—');
    expect(formatUptime(100)).toBe('100 %');
    expect(formatUptime(99.999)).toBe('99.99 %');
    expect(formatUptime(99.5)).toBe('99.5 %');
    expect(formatUptime(50)).toBe('50 %');
    expect(formatUptime(0)).toBe('0 %');
  });

  it('says when the next run is, relative to now', () => {
    const now = Date.parse(at(0));
    expect(untilText(null, now)).toBe('—');
    expect(untilText(at(0), now)).toBe('now');
    expect(untilText(at(12), now)).toBe('in 12 s');
    expect(untilText(new Date(now + 5 * 60_000).toISOString(), now)).toBe('in 5 min');
    expect(untilText(new Date(now + 3 * 3600_000).toISOString(), now)).toBe('in 3 h');
    expect(untilText(new Date(now + 3 * 86_400_000).toISOString(), now)).toBe('in 3 d');
  });

  it('writes a schedule as a person would say it', () => {
    expect(scheduleText({ everySeconds: 45 })).toBe('every 45 s');
    expect(scheduleText({ everySeconds: 300 })).toBe('every 5 min');
    expect(scheduleText({ everySeconds: 7200 })).toBe('every 2 h');
    expect(scheduleText({ cron: '0 9 * * 1-5', timezone: 'Europe/Paris' })).toBe(
      '0 9 * * 1-5 (Europe/Paris)',
    );
  });

  it('draws a sparkline by time and value, a flat or lone series across the middle', () => {
    expect(sparklinePoints([], 100, 20)).toBe('');
    expect(
      sparklinePoints(
        [
          { t: at(0), v: 10 },
          { t: at(10), v: 30 },
          { t: at(40), v: 20 },
        ],
        100,
        20,
      ),
    ).toBe('0,19 25,1 100,10');
    expect(
      sparklinePoints(
        [
          { t: at(0), v: 5 },
          { t: at(5), v: 5 },
        ],
        100,
        20,
      ),
    ).toBe('0,10 100,10');
    expect(sparklinePoints([{ t: at(0), v: 5 }], 100, 20)).toBe('0,10 100,10');
  });
});

describe('live monitor list', () => {
  it('shows a new state at once, but never over a paused monitor or from replayed history', () => {
    const items = [monitor(), monitor({ id: 'm2' })];
    const down = statusEvent({ to: 'down', testId: 't60', changedAt: at(61) });
    const after = applyMonitorEvent(items, down);
    expect(after.map((m) => m.status)).toEqual(['down', 'up']);

    expect(applyMonitorEvent([monitor({ status: 'paused' })], down)[0]!.status).toBe('paused');
    expect(applyMonitorEvent([monitor({ status: 'maintenance' })], down)[0]!.status).toBe('maintenance');
    // A change replayed from before the list's last finished run is already in the list.
    const old = statusEvent({ to: 'down', testId: 't10', changedAt: at(11) });
    expect(applyMonitorEvent(items, old)[0]!.status).toBe('up');
    // ... unless it is that run's own change.
    const own = statusEvent({ to: 'down', testId: 't30', changedAt: at(30) });
    expect(applyMonitorEvent(items, own)[0]!.status).toBe('down');
    // The first run of a new monitor.
    const first = statusEvent({ from: null, to: 'up', testId: 't1', changedAt: at(1) });
    expect(applyMonitorEvent([monitor({ status: 'pending', lastRun: null })], first)[0]!.status).toBe('up');
  });

  it('knows which events concern a monitor', () => {
    const runEvent = { event: 'monitor:run', data: { monitorId: 'm1' } } as unknown as EventMessage;
    expect(isMonitorEvent(runEvent)).toBe(true);
    expect(isMonitorEvent(runEvent, 'm1')).toBe(true);
    expect(isMonitorEvent(runEvent, 'm2')).toBe(false);
    expect(isMonitorEvent({ event: 'workspace:member:added', data: {} } as unknown as EventMessage)).toBe(
      false,
    );
  });
});

describe('the run chart', () => {
  it('puts each run’s key metric in time order and merges slots of one kind into bands', () => {
    const runs = [
      run(50, { outcome: 'skipped', reason: 'maintenance', testId: null, state: null, metrics: null }),
      run(40, { outcome: 'skipped', reason: 'maintenance', testId: null, state: null, metrics: null }),
      run(30, { state: 'down', status: 'failed', metrics: null }),
      run(20),
      run(10),
      run(0, { outcome: 'missed', testId: null, state: null, metrics: null }),
    ];
    const chart = runChart(runs, 'duration.total');
    expect(chart.t).toEqual([0, 10, 20, 30, 40, 50].map(sec));
    expect(chart.v).toEqual([null, 100, 200, null, null, null]);
    expect(chart.unit).toBe('ms');
    expect(chart.bands).toEqual([
      { from: sec(0), to: sec(10), kind: 'missed' },
      { from: sec(10), to: sec(30), kind: 'up' },
      { from: sec(30), to: sec(40), kind: 'down' },
      // The newest slot is as wide as the gap before it.
      { from: sec(40), to: sec(60), kind: 'maintenance' },
    ]);
  });

  it('gives a run still going no band, and a lone run the width it is told', () => {
    const going = run(20, { state: null, status: 'running', completedAt: null, metrics: null });
    expect(runChart([going, run(10)], 'duration.total').bands).toEqual([
      { from: sec(10), to: sec(20), kind: 'up' },
    ]);
    expect(runChart([run(0)], 'duration.total', 30).bands).toEqual([
      { from: sec(0), to: sec(30), kind: 'up' },
    ]);
    expect(runChart([], 'duration.total')).toEqual({ t: [], v: [], unit: '', bands: [] });
  });
});

describe('API refusals on the monitor form', () => {
  it('names the field each refusal is about', () => {
    expect(problemField('INVALID_SCHEDULE', 'schedule.everySeconds must be >= 30')).toBe('everySeconds');
    expect(problemField('INVALID_SCHEDULE', 'schedule.timezone: Mars/Olympus is not an IANA time zone')).toBe(
      'timezone',
    );
    expect(problemField('INVALID_SCHEDULE', 'schedule.cron must have 5 fields (minute …); it has 6')).toBe(
      'cron',
    );
    expect(problemField('VALIDATION_ERROR', 'body.schedule.everySeconds must be >= 1')).toBe('everySeconds');
    expect(problemField('INVALID_CONFIG', 'body.test.config.iterations must be >= 1')).toBe('iterations');
    expect(problemField('INVALID_CONFIG', 'body.test.config.steps.0.url must match format "uri"')).toBe(
      'steps.0.url',
    );
    expect(problemField('INVALID_THRESHOLD', 'unknown metric "latency.p95" for performance')).toBe(
      'thresholds',
    );
    expect(problemField('TARGET_REFUSED', 'target 10.0.0.1 is a private address')).toBe('url');
    expect(problemField('MONITOR_TYPE_UNSUPPORTED', 'body.test.testType: browser …')).toBe('testType');
    expect(problemField('VALIDATION_ERROR', 'body.name must NOT have fewer than 1 characters')).toBe('name');
    expect(problemField('VALIDATION_ERROR', 'body.test.url must match format "uri"')).toBe('url');
    expect(problemField('QUOTA_EXCEEDED', 'too many')).toBe('');
  });
});

describe('the run list', () => {
  it('reloads its first page and keeps the older runs paged to below it', () => {
    const shown = [run(30), run(20), run(10), run(0)];
    const fresh = [run(50), run(40, { state: 'down' }), run(30, { state: 'down' })];
    expect(mergeRuns(fresh, shown).map((r) => [r.scheduledFor, r.state])).toEqual([
      [at(50), 'up'],
      [at(40), 'down'],
      [at(30), 'down'],
      [at(20), 'up'],
      [at(10), 'up'],
      [at(0), 'up'],
    ]);
    expect(mergeRuns([], shown)).toEqual([]);
  });
});
