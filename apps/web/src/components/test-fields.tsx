import { TestTypes } from '@crucible/contracts/catalog';
import type { TestType } from '@crucible/contracts/catalog';
import type { StepDraft } from '../lib/api-steps';
import { configFields } from '../lib/config-form';
import type { Field, FieldErrors, FormValues } from '../lib/config-form';
import { StepsEditor } from './steps-editor';

/**
 * The pieces of a test's form that the new-test form and the monitor form share: the type, the
 * URL, and the type's own options (the step editor for api tests, the catalogue's fields for the
 * others), each message under the input it is about.
 */

const DESCRIPTIONS: Record<TestType, string> = {
  performance: 'Timed requests: DNS, connect, TLS, first byte, download.',
  stress: 'Load generation with live requests per second, latency and errors.',
  api: 'Requests with assertions, variables carried between steps.',
  seo: 'Title, description, headings, links, robots.txt, sitemap and more.',
  security: 'Security headers, cookies, TLS, CORS, methods, mixed content.',
  browser: 'A real Chromium loads the page: Core Web Vitals and Lighthouse scores.',
};
export function FieldInput({
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

/** The URL's form, as the API wants it: absolute, http or https; null when it is fine. */
export function urlError(url: string): string | null {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'Use an http or https URL';
  } catch {
    return 'Enter an absolute URL, e.g. https://example.com/';
  }
  return null;
}

/** An error of a field outside `config`, under it (`f-url-error`), or nothing. */
export function topError(errors: FieldErrors, key: string) {
  return errors[key] ? (
    <p id={`f-${key}-error`} class="error-text">
      {errors[key]}
    </p>
  ) : null;
}

/** The URL a test (or a monitor's runs) requests, with its error under it. */
export function UrlField({
  url,
  errors,
  setUrl,
}: {
  url: string;
  errors: FieldErrors;
  setUrl: (url: string) => void;
}) {
  return (
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
      {topError(errors, 'url')}
    </div>
  );
}

/** The test types as radio cards, each with what it measures. */
export function TypeChoices({
  testType,
  onChoose,
  types = Object.values(TestTypes),
}: {
  testType: TestType;
  onChoose: (type: TestType) => void;
  /** The types offered. @defaultValue every type */
  types?: readonly TestType[];
}) {
  return (
    <fieldset>
      <legend>Type</legend>
      <div class="type-choices">
        {types.map((t) => (
          <label key={t} class={`type-choice${t === testType ? ' selected' : ''}`}>
            <input
              type="radio"
              name="testType"
              value={t}
              checked={t === testType}
              onChange={() => onChoose(t)}
            />
            <span class="type-name">{t}</span>
            <span class="hint">{DESCRIPTIONS[t]}</span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

/** The chosen type's own options: the step editor for api tests, the catalogue's fields otherwise. */
export function TypeOptions({
  testType,
  values,
  steps,
  errors,
  setValue,
  setSteps,
}: {
  testType: TestType;
  values: FormValues;
  steps: StepDraft[];
  errors: FieldErrors;
  setValue: (key: string, value: string) => void;
  setSteps: (steps: StepDraft[]) => void;
}) {
  if (testType === 'api') {
    return (
      <fieldset>
        <legend>Steps</legend>
        <StepsEditor steps={steps} errors={errors} onChange={setSteps} />
      </fieldset>
    );
  }
  const fields = configFields(testType);
  if (fields.length === 0) return null;
  return (
    <fieldset>
      <legend>{testType} options</legend>
      {fields.map((f) => (
        <FieldInput key={f.key} field={f} values={values} errors={errors} onChange={setValue} />
      ))}
      {errors.config && <p class="error-text">{errors.config}</p>}
    </fieldset>
  );
}
