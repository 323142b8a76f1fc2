import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError } from '@crucible/client';
import type { MonitorCreate, MonitorView } from '@crucible/contracts/api';
import { TestTypes } from '@crucible/contracts/catalog';
import type { TestType } from '@crucible/contracts/catalog';
import { EMPTY_JUDGING, JudgingFields, judgingBody } from '../components/judging-fields';
import type { JudgingDraft } from '../components/judging-fields';
import { TypeChoices, TypeOptions, UrlField, topError, urlError } from '../components/test-fields';
import { EXAMPLE_STEPS, configToSteps, stepsToConfig } from '../lib/api-steps';
import type { StepDraft } from '../lib/api-steps';
import { buildConfig, configFields, configToValues } from '../lib/config-form';
import type { Field, FieldErrors, FormValues } from '../lib/config-form';
import { problemField } from '../lib/monitors';
import { api } from '../session';

// A browser monitor is refused by the API until its runs go to the browser workers' queue.
const MONITOR_TYPES = Object.values(TestTypes).filter((t) => t !== 'browser');
const STEP_KEYS = ['name', 'method', 'url', 'body', 'status', 'maxTimeMs', 'bodyContains'];

/** Everything the form holds, as the text of its inputs. */
interface Draft {
  name: string;
  testType: TestType;
  url: string;
  values: FormValues;
  steps: StepDraft[];
  judging: JudgingDraft;
  kind: 'every' | 'cron';
  everySeconds: string;
  cron: string;
  timezone: string;
}

const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

function emptyDraft(): Draft {
  return {
    name: '',
    testType: 'api',
    url: '',
    values: {},
    steps: EXAMPLE_STEPS,
    judging: EMPTY_JUDGING,
    kind: 'every',
    everySeconds: '60',
    cron: '',
    timezone: browserZone(),
  };
}

/** The form's text for an existing monitor. */
function draftOf(m: MonitorView): Draft {
  const test = m.test as {
    testType: TestType;
    url: string;
    config?: unknown;
    thresholds?: string[];
    runs?: number;
  };
  const steps = test.testType === 'api' ? configToSteps(test.config) : EXAMPLE_STEPS;
  const schedule = m.schedule as { everySeconds?: number; cron?: string; timezone?: string };
  return {
    name: m.name,
    testType: test.testType,
    url: test.url,
    values: test.testType === 'api' ? {} : configToValues(test.testType, test.config),
    steps: typeof steps === 'string' ? EXAMPLE_STEPS : steps,
    judging: { thresholds: (test.thresholds ?? []).join('\n'), runs: test.runs ? String(test.runs) : '' },
    kind: schedule.everySeconds ? 'every' : 'cron',
    everySeconds: schedule.everySeconds ? String(schedule.everySeconds) : '60',
    cron: schedule.cron ?? '',
    timezone: schedule.timezone ?? browserZone(),
  };
}

function leafKeys(fields: Field[]): string[] {
  return fields.flatMap((f) => (f.kind === 'group' ? leafKeys(f.fields) : [f.key]));
}

/**
 * Where an API refusal shows: under its field when the form has one (`steps.0.url`, `iterations`,
 * `everySeconds`…), else above the submit button.
 */
function placeRefusal(testType: TestType, err: ApiError): FieldErrors {
  const key = problemField(err.code, err.message);
  const top = ['name', 'url', 'thresholds', 'runs', 'everySeconds', 'cron', 'timezone'];
  if (top.includes(key)) return { [key]: err.message };
  if (testType === 'api') {
    const step = /^steps\.(\d+)(?:\.(\w+))?/.exec(key);
    if (step)
      return {
        [step[2] && STEP_KEYS.includes(step[2]) ? `steps.${step[1]}.${step[2]}` : `steps.${step[1]}`]:
          err.message,
      };
  } else if (key === 'config' || leafKeys(configFields(testType)).includes(key))
    return { [key]: err.message };
  return { '': `${err.message} (${err.code})` };
}

/** The request body from the draft, or the messages of what is wrong before anything is sent. */
function bodyOf(draft: Draft): { body: MonitorCreate | null; errors: FieldErrors } {
  const { config, errors: configErrors } =
    draft.testType === 'api' ? stepsToConfig(draft.steps) : buildConfig(draft.testType, draft.values);
  const judged = judgingBody(draft.testType, draft.judging);
  const errors: FieldErrors = { ...judged.errors };
  for (const [key, message] of Object.entries(configErrors))
    errors[key ? key : draft.testType === 'api' ? 'steps' : 'config'] = message;
  if (!draft.name.trim()) errors.name = 'Give the monitor a name';
  const wrongUrl = urlError(draft.url);
  if (wrongUrl) errors.url = wrongUrl;
  const every = Number(draft.everySeconds);
  if (draft.kind === 'every' && !(Number.isInteger(every) && every >= 1))
    errors.everySeconds = 'A whole number of seconds';
  if (draft.kind === 'cron' && !draft.cron.trim())
    errors.cron = 'A cron expression: minute hour day month weekday';
  if (Object.keys(errors).length > 0) return { body: null, errors };
  // The API checks the test as it checks a submitted one; the form built it from the same schemas.
  const body = {
    name: draft.name.trim(),
    test: { testType: draft.testType, url: draft.url, ...judged.body, config },
    schedule:
      draft.kind === 'every'
        ? { everySeconds: every }
        : { cron: draft.cron.trim(), timezone: draft.timezone.trim() || 'UTC' },
  } as MonitorCreate;
  return { body, errors };
}

function TextField({
  id,
  label,
  value,
  error,
  hint,
  onInput,
  ...rest
}: {
  id: string;
  label: string;
  value: string;
  error?: string;
  hint?: string;
  onInput: (value: string) => void;
  inputMode?: 'numeric';
  list?: string;
  placeholder?: string;
}) {
  return (
    <div class="field">
      <label for={`f-${id}`}>{label}</label>
      <input
        id={`f-${id}`}
        value={value}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={error ? `f-${id}-error` : hint ? `f-${id}-hint` : undefined}
        onInput={(e) => onInput(e.currentTarget.value)}
        {...rest}
      />
      {error ? (
        <p id={`f-${id}-error`} class="error-text">
          {error}
        </p>
      ) : (
        hint && (
          <p id={`f-${id}-hint`} class="hint">
            {hint}
          </p>
        )
      )}
    </div>
  );
}

/** Every N seconds, or a cron expression in a time zone. */
function ScheduleFields({
  draft,
  errors,
  set,
}: {
  draft: Draft;
  errors: FieldErrors;
  set: (changes: Partial<Draft>) => void;
}) {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return (
    <fieldset>
      <legend>Schedule</legend>
      <div class="schedule-kind">
        <label>
          <input
            type="radio"
            name="kind"
            checked={draft.kind === 'every'}
            onChange={() => set({ kind: 'every' })}
          />{' '}
          Every N seconds
        </label>
        <label>
          <input
            type="radio"
            name="kind"
            checked={draft.kind === 'cron'}
            onChange={() => set({ kind: 'cron' })}
          />{' '}
          Cron
        </label>
      </div>
      {draft.kind === 'every' ? (
        <TextField
          id="everySeconds"
          label="Every (seconds)"
          inputMode="numeric"
          value={draft.everySeconds}
          error={errors.everySeconds}
          hint="Slots are aligned to the clock: every 60 s runs at each minute's start"
          onInput={(everySeconds) => set({ everySeconds })}
        />
      ) : (
        <div class="field-row">
          <TextField
            id="cron"
            label="Cron (5 fields)"
            placeholder="*/5 * * * *"
            value={draft.cron}
            error={errors.cron}
            hint="minute hour day-of-month month day-of-week"
            onInput={(cron) => set({ cron })}
          />
          <TextField
            id="timezone"
            label="Time zone"
            list="time-zones"
            value={draft.timezone}
            error={errors.timezone}
            hint="An IANA time zone, e.g. Europe/Paris"
            onInput={(timezone) => set({ timezone })}
          />
          <datalist id="time-zones">
            {zones.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
        </div>
      )}
    </fieldset>
  );
}

/**
 * A new monitor (`/monitors/new`) or an existing one's settings (`/monitors/:id/edit`): the test
 * form's pieces (type, URL, the type's options, thresholds) plus a name and a schedule. What the
 * API refuses shows under the field it is about.
 */
export function MonitorFormPage({ id }: { id?: string }) {
  const { route } = useLocation();
  const [draft, setDraft] = useState<Draft | null>(id ? null : emptyDraft());
  // Set for a monitor made by `crucible deploy`: its file is where it is kept.
  const [codeKey, setCodeKey] = useState<string | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!id) return;
    api
      .call('getMonitor', { params: { id } })
      .then((m) => {
        setDraft(draftOf(m));
        setCodeKey(m.codeKey);
      })
      .catch((err: unknown) => setErrors({ '': err instanceof ApiError ? err.message : String(err) }));
  }, [id]);
  const set = (changes: Partial<Draft>) => setDraft((d) => (d ? { ...d, ...changes } : d));

  const submit = async (event: Event) => {
    event.preventDefault();
    if (!draft) return;
    const { body, errors: found } = bodyOf(draft);
    setErrors(found);
    if (!body) {
      document.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    setBusy(true);
    try {
      const saved = id
        ? await api.call('updateMonitor', { params: { id }, body })
        : await api.call('createMonitor', { body });
      route(`/monitors/${saved.id}`);
    } catch (err) {
      setErrors(err instanceof ApiError ? placeRefusal(draft.testType, err) : { '': String(err) });
    } finally {
      setBusy(false);
    }
  };

  const title = id ? 'Edit monitor' : 'New monitor';
  if (!draft) {
    return (
      <main>
        <h1>{title}</h1>
        {errors[''] && (
          <p role="alert" class="error-text">
            {errors['']}
          </p>
        )}
      </main>
    );
  }
  return (
    <main>
      <h1>{title}</h1>
      {codeKey && (
        <p class="notice-line" data-testid="code-key">
          <code>crucible deploy</code> made this monitor (check <code>{codeKey}</code>): the next deploy of
          its file puts back what the file says.
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <TextField
          id="name"
          label="Monitor name"
          value={draft.name}
          error={errors.name}
          onInput={(name) => set({ name })}
        />
        <TypeChoices
          types={MONITOR_TYPES}
          testType={draft.testType}
          onChoose={(testType) => {
            set({ testType, values: {}, steps: EXAMPLE_STEPS });
            setErrors({});
          }}
        />
        {topError(errors, 'testType')}
        <UrlField url={draft.url} errors={errors} setUrl={(url) => set({ url })} />
        <TypeOptions
          testType={draft.testType}
          values={draft.values}
          steps={draft.steps}
          errors={errors}
          setValue={(key, value) => set({ values: { ...draft.values, [key]: value } })}
          setSteps={(steps) => set({ steps })}
        />
        <JudgingFields
          testType={draft.testType}
          draft={draft.judging}
          errors={errors}
          onChange={(judging) => set({ judging })}
        />
        <ScheduleFields draft={draft} errors={errors} set={set} />
        {errors[''] && (
          <p role="alert" class="error-text">
            {errors['']}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {id ? 'Save monitor' : 'Create monitor'}
        </button>
      </form>
    </main>
  );
}
