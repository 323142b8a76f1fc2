import { useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { Value } from '@sinclair/typebox/value';
import { ApiError } from '@crucible/client';
import { RunTestFields } from '@crucible/contracts/api';
import { TestTypes } from '@crucible/contracts/catalog';
import type { TestType } from '@crucible/contracts/catalog';
import { EXAMPLE_STEPS, stepsToConfig } from '../lib/api-steps';
import type { StepDraft } from '../lib/api-steps';
import { buildConfig } from '../lib/config-form';
import { TypeChoices, TypeOptions, UrlField, topError, urlError } from '../components/test-fields';
import { EMPTY_JUDGING, JudgingFields, judgingBody } from '../components/judging-fields';
import type { JudgingDraft } from '../components/judging-fields';
import type { FieldErrors, FormValues } from '../lib/config-form';
import { api } from '../session';

const TYPES = Object.values(TestTypes);
const PRIORITY = RunTestFields.properties.priority;

/** A random key (crypto.randomUUID needs a secure context; a LAN http:// address is not one). */
function newIdempotencyKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}

/** Checks the parts of the body outside `config` with the API's own schema, plus the URL's form. */
function bodyErrors(url: string, name: string, priority: number | undefined): FieldErrors {
  const errors: FieldErrors = {};
  const body = {
    url,
    ...(name ? { name } : {}),
    ...(priority === undefined ? {} : { priority }),
  };
  for (const error of Value.Errors(RunTestFields, body)) {
    const key = error.path.split('/').filter(Boolean)[0] ?? '';
    errors[key] ??= error.message;
  }
  if (!errors.url) {
    const wrong = urlError(url);
    if (wrong) errors.url = wrong;
  }
  return errors;
}

/** The fields every test type has: the URL to test, a name, a priority. */
function CommonFields({
  url,
  name,
  priority,
  errors,
  setUrl,
  setName,
  setPriority,
}: {
  url: string;
  name: string;
  priority: string;
  errors: FieldErrors;
  setUrl: (url: string) => void;
  setName: (name: string) => void;
  setPriority: (priority: string) => void;
}) {
  return (
    <>
      <UrlField url={url} errors={errors} setUrl={setUrl} />
      <div class="field-row">
        <div class="field">
          <label for="f-name">Name (optional)</label>
          <input
            id="f-name"
            maxLength={RunTestFields.properties.name.maxLength}
            value={name}
            aria-invalid={errors.name ? 'true' : undefined}
            onInput={(e) => setName(e.currentTarget.value)}
          />
          {topError(errors, 'name')}
        </div>
        <div class="field">
          <label for="f-priority">Priority</label>
          <input
            id="f-priority"
            type="number"
            inputMode="numeric"
            min={PRIORITY.minimum}
            max={PRIORITY.maximum}
            placeholder={String(PRIORITY.default)}
            value={priority}
            aria-invalid={errors.priority ? 'true' : undefined}
            aria-describedby={errors.priority ? 'f-priority-error' : 'f-priority-hint'}
            onInput={(e) => setPriority(e.currentTarget.value)}
          />
          {topError(errors, 'priority') ?? (
            <p id="f-priority-hint" class="hint">
              {PRIORITY.minimum}–{PRIORITY.maximum}, higher runs first; default {PRIORITY.default}
            </p>
          )}
        </div>
      </div>
    </>
  );
}

export function NewTestPage() {
  const { route, query } = useLocation();
  const initialType = TYPES.includes(query.type as TestType) ? (query.type as TestType) : 'performance';
  const [testType, setTestType] = useState<TestType>(initialType);
  const [url, setUrl] = useState('');
  const [name, setName] = useState('');
  const [priority, setPriority] = useState('');
  const [values, setValues] = useState<FormValues>({});
  const [steps, setSteps] = useState<StepDraft[]>(EXAMPLE_STEPS);
  const [judging, setJudging] = useState<JudgingDraft>(EMPTY_JUDGING);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [submitError, setSubmitError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The same body is sent with the same key: a double submit or a retry creates the test once.
  const lastSubmit = useRef<{ body: string; key: string } | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setSubmitError(null);
    const priorityValue = priority.trim() === '' ? undefined : Number(priority);
    // The api type has its step editor, whose messages are keyed by step (`steps.0.url`).
    const { config, errors: configErrors } =
      testType === 'api' ? stepsToConfig(steps) : buildConfig(testType, values);
    const judged = judgingBody(testType, judging);
    const all: FieldErrors = { ...bodyErrors(url, name, priorityValue), ...judged.errors };
    for (const [key, message] of Object.entries(configErrors))
      all[key ? key : testType === 'api' ? 'steps' : 'config'] = message;
    setErrors(all);
    if (Object.keys(all).length > 0) {
      document.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    setBusy(true);
    try {
      const body = {
        testType,
        url,
        ...(name ? { name } : {}),
        ...(priorityValue === undefined ? {} : { priority: priorityValue }),
        ...judged.body,
        config,
      };
      const text = JSON.stringify(body);
      if (lastSubmit.current?.body !== text) lastSubmit.current = { body: text, key: newIdempotencyKey() };
      const accepted = await api.call('runTest', {
        headers: { 'idempotency-key': lastSubmit.current.key },
        body,
      });
      route(`/tests/${accepted.testId}`);
    } catch (err) {
      setSubmitError(err instanceof ApiError ? `${err.message} (${err.code})` : String(err));
    } finally {
      setBusy(false);
    }
  };

  const chooseType = (type: TestType) => {
    setTestType(type);
    setValues({});
    setSteps(EXAMPLE_STEPS);
    setErrors({});
  };

  return (
    <main>
      <h1>New test</h1>
      <form onSubmit={submit} noValidate>
        <TypeChoices testType={testType} onChoose={chooseType} />
        <CommonFields
          url={url}
          name={name}
          priority={priority}
          errors={errors}
          setUrl={setUrl}
          setName={setName}
          setPriority={setPriority}
        />
        <TypeOptions
          testType={testType}
          values={values}
          steps={steps}
          errors={errors}
          setValue={(key, value) => setValues((v) => ({ ...v, [key]: value }))}
          setSteps={setSteps}
        />
        <JudgingFields testType={testType} draft={judging} errors={errors} onChange={setJudging} />
        {submitError && (
          <p role="alert" class="error-text">
            {submitError}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Run {testType} test
        </button>
      </form>
    </main>
  );
}
