import type { TestType } from '@crucible/contracts/catalog';
import { MAX_RUNS } from '@crucible/contracts/judging';
import { metricNames } from '@crucible/contracts/metrics';
import { InvalidThresholdError, validateThresholds } from '@crucible/contracts/thresholds';

/** What the form holds of how a test is judged: the text of each input. */
export interface JudgingDraft {
  /** One threshold expression per line. */
  thresholds: string;
  runs: string;
}

export const EMPTY_JUDGING: JudgingDraft = { thresholds: '', runs: '' };

/**
 * The body's `thresholds` and `runs` from the form, checked with the API's own parser and metric
 * catalogue so a bad expression is named before anything is sent.
 */
export function judgingBody(
  testType: TestType,
  draft: JudgingDraft,
): { body: { thresholds?: string[]; runs?: number }; errors: Record<string, string> } {
  const thresholds = draft.thresholds
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const errors: Record<string, string> = {};
  try {
    validateThresholds(testType, thresholds);
  } catch (err) {
    if (!(err instanceof InvalidThresholdError)) throw err;
    errors.thresholds = err.message;
  }
  const runs = draft.runs.trim() === '' ? undefined : Number(draft.runs);
  if (runs !== undefined && !(Number.isInteger(runs) && runs >= 1 && runs <= MAX_RUNS))
    errors.runs = `runs must be a whole number from 1 to ${MAX_RUNS}`;
  return {
    body: { ...(thresholds.length > 0 ? { thresholds } : {}), ...(runs === undefined ? {} : { runs }) },
    errors,
  };
}

/** Thresholds (one per line, on the type's metrics) and how many runs the test makes. */
export function JudgingFields({
  testType,
  draft,
  errors,
  onChange,
}: {
  testType: TestType;
  draft: JudgingDraft;
  errors: Record<string, string | undefined>;
  onChange: (draft: JudgingDraft) => void;
}) {
  return (
    <fieldset>
      <legend>Pass / fail</legend>
      <div class="field">
        <label for="f-thresholds">Thresholds (one per line)</label>
        <textarea
          id="f-thresholds"
          rows={3}
          placeholder={testType === 'stress' ? 'latency.p95 < 300' : `${metricNames(testType)[0]} < 500`}
          value={draft.thresholds}
          aria-invalid={errors.thresholds ? 'true' : undefined}
          aria-describedby="f-thresholds-hint"
          onInput={(e) => onChange({ ...draft, thresholds: e.currentTarget.value })}
        />
        {errors.thresholds && (
          <p id="f-thresholds-error" class="error-text">
            {errors.thresholds}
          </p>
        )}
        <p id="f-thresholds-hint" class="hint">
          <code>&lt;metric&gt; &lt;op&gt; &lt;number&gt;</code>, op one of &lt; &lt;= &gt; &gt;= == !=;
          metrics: {metricNames(testType).join(', ')}
        </p>
      </div>
      <div class="field">
        <label for="f-runs">Runs</label>
        <input
          id="f-runs"
          type="number"
          inputMode="numeric"
          min={1}
          max={MAX_RUNS}
          placeholder="1"
          value={draft.runs}
          aria-invalid={errors.runs ? 'true' : undefined}
          onInput={(e) => onChange({ ...draft, runs: e.currentTarget.value })}
        />
        {errors.runs && <p class="error-text">{errors.runs}</p>}
      </div>
    </fieldset>
  );
}
