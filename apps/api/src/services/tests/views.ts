import type { TestAttempt, TestRow } from '@crucible/db';
import type { TestDetail, TestView } from '@crucible/contracts/api';

export function toTestView(row: TestRow): TestView {
  return {
    testId: row.test_id,
    testType: row.test_type,
    url: row.url,
    name: row.test_name,
    status: row.status,
    verdict: row.verdict,
    rerunOf: row.rerun_of,
    monitorId: row.monitor_id,
    scheduledFor: row.scheduled_for?.toISOString() ?? null,
    priority: row.priority,
    progress: row.progress,
    retryCount: row.retry_count,
    config: row.config,
    thresholds: row.judging?.thresholds ?? [],
    runs: row.judging?.runs ?? 1,
    baseline: row.judging?.baseline ?? null,
    failOnRegression: row.judging?.failOnRegression ?? false,
    result: row.result ?? null,
    errorMessage: row.error_message,
    createdAt: row.created_at.toISOString(),
    startedAt: row.started_at?.toISOString() ?? null,
    completedAt: row.completed_at?.toISOString() ?? null,
    updatedAt: row.updated_at.toISOString(),
  };
}

export function toAttemptView(a: TestAttempt): TestDetail['attempts'][number] {
  return {
    attempt: a.attempt,
    run: a.run,
    status: a.status,
    errorMessage: a.error_message,
    startedAt: a.started_at.toISOString(),
    finishedAt: a.finished_at?.toISOString() ?? null,
  };
}
