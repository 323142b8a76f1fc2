import type { MonitorSchedule } from '@crucible/contracts';
import type { RunTestBody } from '@crucible/contracts/api';
import type { TestsRepository } from '@crucible/db';
import type { Allowlist } from '@crucible/egress';
import { InvalidScheduleError, checkSchedule, slotAfter } from '@crucible/runtime';
import { HttpProblem } from '../../errors.js';
import { resolveBaseline, validateConfig, validateJudging, validateTargetUrl } from '../tests/validation.js';
import type { Actor } from '../workspace-access.js';

/**
 * A monitor's run submission, checked exactly as `POST /api/test/run` checks one (same errors):
 * the stored body (URL normalised, config with its defaults), how runs are judged, and the
 * baseline (`previous`: each run's previous completed run; an id: one of the workspace's tests).
 */
export async function checkTest(
  deps: { tests: Pick<TestsRepository, 'findById' | 'latestCompleted'>; targetAllowlist?: Allowlist },
  actor: Actor,
  body: RunTestBody,
) {
  // Monitor runs go on the monitors queue, which ordinary workers consume: a browser run there
  // would start Chromium outside the browser workers' queue and limits.
  if (body.testType === 'browser')
    throw new HttpProblem(
      400,
      'MONITOR_TYPE_UNSUPPORTED',
      'Bad Request',
      'body.test.testType: browser tests cannot be monitored yet; run them as tests',
    );
  const url = validateTargetUrl(body.url, deps.targetAllowlist);
  const config = validateConfig(body.testType, body.config);
  const judging = validateJudging(body.testType, body);
  let baseline: string | null = null;
  if (body.baseline === 'previous') baseline = 'previous';
  else if (body.baseline !== undefined) {
    const test = { testType: body.testType, url, baseline: body.baseline };
    baseline = (await resolveBaseline(deps.tests, actor.workspaceId, test)) ?? null;
  }
  return { test: { ...body, url, config } as Record<string, unknown>, judging, baseline };
}

/** A schedule as stored, and its next slot from now; 400 `INVALID_SCHEDULE` naming what is wrong. */
export function checkMonitorSchedule(schedule: MonitorSchedule, minIntervalSeconds: number) {
  try {
    checkSchedule(schedule, minIntervalSeconds);
  } catch (err) {
    if (err instanceof InvalidScheduleError)
      throw new HttpProblem(400, 'INVALID_SCHEDULE', 'Bad Request', err.message);
    throw err;
  }
  return {
    everySeconds: 'everySeconds' in schedule ? schedule.everySeconds : null,
    cron: 'cron' in schedule ? schedule.cron.trim().split(/\s+/).join(' ') : null,
    timezone: 'cron' in schedule ? (schedule.timezone ?? 'UTC') : null,
    // The next slot from now: a new, resumed or rescheduled monitor never catches up.
    next: slotAfter(schedule, new Date()),
  };
}
