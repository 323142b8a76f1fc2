import { useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { Value } from '@sinclair/typebox/value';
import { ApiError } from '@crucible/client';
import { RunTestFields } from '@crucible/shared/api';
import { TestTypes } from '@crucible/shared/catalog';
import type { TestType } from '@crucible/shared/catalog';
import { EXAMPLE_STEPS, stepsToConfig } from '../lib/api-steps';
import type { StepDraft } from '../lib/api-steps';
import { buildConfig, configFields } from '../lib/config-form';
import { StepsEditor } from '../components/steps-editor';
import type { Field, FieldErrors, FormValues } from '../lib/config-form';
import { api } from '../session';

const TYPES = Object.values(TestTypes);
const DESCRIPTIONS: Record<TestType, string> = {
  performance: 'Timed requests: DNS, connect, TLS, first byte, download.',
  stress: 'Load generation with live requests per second, latency and errors.',
  api: 'Requests with assertions, variables carried between steps.',
  seo: 'Title, description, headings, links, robots.txt, sitemap and more.',
  security: 'Security headers, cookies, TLS, CORS, methods, mixed content.',
};
const PRIORITY = RunTestFields.properties.priority;

/** A random key (crypto.randomUUID needs a secure context; a LAN http:// address is not one). */
function newIdempotencyKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}

function FieldInput({
  field,
  values,
  errors,
  onChange,
}: {
  field: Field;
  values: FormValues;
  errors: FieldErrors;
  onChange: (key: string, value: string) => void;
}) {
  if (field.kind === 'group') {
    return (
      <fieldset>
        <legend>{field.label}</legend>
        {field.fields.map((f) => (
          <FieldInput key={f.key} field={f} values={values} errors={errors} onChange={onChange} />
        ))}
      </fieldset>
    );
  }
  const id = `f-${field.key.replaceAll('.', '-')}`;
  const error = errors[field.key];
  const common = {
    id,
    name: field.key,
    value: values[field.key] ?? '',
    'aria-invalid': error ? ('true' as const) : undefined,
    'aria-describedby': error ? `${id}-error` : `${id}-hint`,
    onInput: (e: Event) => onChange(field.key, (e.currentTarget as HTMLInputElement).value),
  };
  let input;
  let hint = '';
  switch (field.kind) {
    case 'number':
      hint = [
        field.min !== undefined && field.max !== undefined ? `${field.min}–${field.max}` : '',
        field.min !== undefined && field.max === undefined ? `at least ${field.min}` : '',
        field.defaultValue !== undefined ? `default ${field.defaultValue}` : '',
      ]
        .filter(Boolean)
        .join(', ');
      input = (
        <input
          {...common}
          type="number"
          inputMode={field.integer ? 'numeric' : 'decimal'}
          step={field.integer ? 1 : 'any'}
          placeholder={field.defaultValue === undefined ? '' : String(field.defaultValue)}
        />
      );
      break;
    case 'select':
      hint = field.defaultValue ? `default ${field.defaultValue}` : '';
      input = (
        <select {...common} onChange={common.onInput}>
          <option value="">{field.defaultValue ? `default (${field.defaultValue})` : '—'}</option>
          {field.options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      );
      break;
    case 'headers':
      hint = 'One "Name: value" per line';
      input = <textarea {...common} rows={3} spellcheck={false} />;
      break;
    case 'json':
      hint = 'JSON';
      input = <textarea {...common} rows={8} spellcheck={false} class="mono" />;
      break;
    case 'text':
      input = field.multiline ? (
        <textarea {...common} rows={4} maxLength={field.maxLength} />
      ) : (
        <input {...common} maxLength={field.maxLength} />
      );
      break;
  }
  return (
    <div class="field">
      <label for={id}>{field.label}</label>
      {input}
      {error ? (
        <p id={`${id}-error`} class="error-text">
          {error}
        </p>
      ) : (
        <p id={`${id}-hint`} class="hint">
          {hint}
        </p>
      )}
    </div>
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
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
        errors.url = 'Use an http or https URL';
    } catch {
      errors.url = 'Enter an absolute URL, e.g. https://example.com/';
    }
  }
  return errors;
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
    const all: FieldErrors = { ...bodyErrors(url, name, priorityValue) };
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

  const fields = configFields(testType);
  const topError = (key: string) =>
    errors[key] ? (
      <p id={`f-${key}-error`} class="error-text">
        {errors[key]}
      </p>
    ) : null;

  return (
    <main>
      <h1>New test</h1>
      <form onSubmit={submit} noValidate>
        <fieldset>
          <legend>Type</legend>
          <div class="type-choices">
            {TYPES.map((t) => (
              <label key={t} class={`type-choice${t === testType ? ' selected' : ''}`}>
                <input
                  type="radio"
                  name="testType"
                  value={t}
                  checked={t === testType}
                  onChange={() => {
                    setTestType(t);
                    setValues({});
                    setSteps(EXAMPLE_STEPS);
                    setErrors({});
                  }}
                />
                <span class="type-name">{t}</span>
                <span class="hint">{DESCRIPTIONS[t]}</span>
              </label>
            ))}
          </div>
        </fieldset>
        <div class="field">
          <label for="f-url">URL to test</label>
          <input
            id="f-url"
            type="url"
            required
            inputMode="url"
            placeholder="https://example.com/"
            value={url}
            aria-invalid={errors.url ? 'true' : undefined}
            aria-describedby={errors.url ? 'f-url-error' : undefined}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
          {topError('url')}
        </div>
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
            {topError('name')}
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
            {topError('priority') ?? (
              <p id="f-priority-hint" class="hint">
                {PRIORITY.minimum}–{PRIORITY.maximum}, higher runs first; default {PRIORITY.default}
              </p>
            )}
          </div>
        </div>
        {testType === 'api' ? (
          <fieldset>
            <legend>Steps</legend>
            <StepsEditor steps={steps} errors={errors} onChange={setSteps} />
          </fieldset>
        ) : (
          fields.length > 0 && (
            <fieldset>
              <legend>{testType} options</legend>
              {fields.map((f) => (
                <FieldInput
                  key={f.key}
                  field={f}
                  values={values}
                  errors={errors}
                  onChange={(key, value) => setValues((v) => ({ ...v, [key]: value }))}
                />
              ))}
              {errors.config && <p class="error-text">{errors.config}</p>}
            </fieldset>
          )
        )}
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
