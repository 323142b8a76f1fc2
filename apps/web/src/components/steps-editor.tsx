import { useState } from 'preact/hooks';
import { configToSteps, emptyStep, METHODS, parseJson, stepsToConfig } from '../lib/api-steps';
import type { JsonRow, Row, StepDraft } from '../lib/api-steps';
import type { FieldErrors } from '../lib/config-form';

const MAX_STEPS = 50;

function Message({ id, error }: { id: string; error: string | undefined }) {
  return error ? (
    <p id={`${id}-error`} class="error-text">
      {error}
    </p>
  ) : null;
}

/** Props shared by every input of the editor: its id, its error and the described-by link. */
function inputProps(id: string, error: string | undefined) {
  return {
    id,
    'aria-invalid': error ? ('true' as const) : undefined,
    'aria-describedby': error ? `${id}-error` : undefined,
  };
}

function Rows<R extends Row | JsonRow>({
  id,
  legend,
  rows,
  columns,
  error,
  blank,
  onChange,
}: {
  id: string;
  legend: string;
  rows: R[];
  columns: [keyof R & string, string][];
  error: string | undefined;
  blank: R;
  onChange: (rows: R[]) => void;
}) {
  return (
    <fieldset id={id}>
      <legend>{legend}</legend>
      {rows.map((row, r) => (
        <div class="field-row" key={r}>
          {columns.map(([key, label]) => (
            <input
              key={key}
              aria-label={`${legend} ${r + 1} ${label}`}
              placeholder={label}
              value={row[key] as string}
              onInput={(e) =>
                onChange(rows.map((x, i) => (i === r ? { ...x, [key]: e.currentTarget.value } : x)))
              }
            />
          ))}
          <button type="button" onClick={() => onChange(rows.filter((_, i) => i !== r))}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...rows, { ...blank }])}>
        Add {legend.toLowerCase().replace(/s$/, '')}
      </button>
      <Message id={id} error={error} />
    </fieldset>
  );
}

/** One step's part of the form: its ids (`step-0-url`), its errors by key, and how it changes. */
interface StepFieldsProps {
  step: StepDraft;
  id: (key: string) => string;
  error: (key: string) => string | undefined;
  set: (patch: Partial<StepDraft>) => void;
}

/** What the step sends: name, method, URL, headers, body. */
function StepRequest({ step, id, error, set }: StepFieldsProps) {
  return (
    <>
      <div class="field-row">
        <div class="field">
          <label for={id('name')}>Name</label>
          <input
            {...inputProps(id('name'), error('name'))}
            value={step.name}
            onInput={(e) => set({ name: e.currentTarget.value })}
          />
          <Message id={id('name')} error={error('name')} />
        </div>
        <div class="field">
          <label for={id('method')}>Method</label>
          <select
            {...inputProps(id('method'), error('method'))}
            value={step.method}
            onChange={(e) => set({ method: e.currentTarget.value })}
          >
            {METHODS.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
          <Message id={id('method')} error={error('method')} />
        </div>
      </div>
      <div class="field">
        <label for={id('url')}>URL</label>
        <input
          {...inputProps(id('url'), error('url'))}
          value={step.url}
          placeholder="/path, resolved against the URL to test"
          onInput={(e) => set({ url: e.currentTarget.value })}
        />
        <Message id={id('url')} error={error('url')} />
      </div>
      <Rows
        id={id('headers')}
        legend="Headers"
        rows={step.headers}
        columns={[
          ['name', 'Name'],
          ['value', 'Value'],
        ]}
        blank={{ name: '', value: '' }}
        error={error('headers')}
        onChange={(headers) => set({ headers })}
      />
      <div class="field">
        <label for={id('body')}>Body</label>
        <textarea
          {...inputProps(id('body'), error('body'))}
          rows={3}
          spellcheck={false}
          class="mono"
          value={step.body}
          onInput={(e) => set({ body: e.currentTarget.value })}
        />
        <Message id={id('body')} error={error('body')} />
      </div>
    </>
  );
}

/** What the step's response must satisfy. */
function StepAssertions({ step, id, error, set }: StepFieldsProps) {
  return (
    <fieldset>
      <legend>Assertions</legend>
      <div class="field-row">
        {(
          [
            ['status', 'Status'],
            ['maxTimeMs', 'Max time (ms)'],
            ['bodyContains', 'Body contains'],
          ] as const
        ).map(([key, label]) => (
          <div class="field" key={key}>
            <label for={id(key)}>{label}</label>
            <input
              {...inputProps(id(key), error(`assert.${key}`))}
              inputMode={key === 'bodyContains' ? undefined : 'numeric'}
              value={step[key]}
              onInput={(e) => set({ [key]: e.currentTarget.value })}
            />
            <Message id={id(key)} error={error(`assert.${key}`)} />
          </div>
        ))}
      </div>
      <Rows
        id={id('assert-headers')}
        legend="Response headers"
        rows={step.assertHeaders}
        columns={[
          ['name', 'Name'],
          ['value', 'Equals'],
        ]}
        blank={{ name: '', value: '' }}
        error={error('assert.headers')}
        onChange={(assertHeaders) => set({ assertHeaders })}
      />
      <Rows
        id={id('json')}
        legend="JSON paths"
        rows={step.json}
        columns={[
          ['path', 'Path ($.a.b)'],
          ['equals', 'Equals (JSON)'],
        ]}
        blank={{ path: '', equals: '' }}
        error={error('assert.json')}
        onChange={(json) => set({ json })}
      />
    </fieldset>
  );
}

/** Step `index` (from 0) as a fieldset; the only step cannot be removed. */
function StepForm({
  step,
  index,
  errors,
  removable,
  set,
  onRemove,
}: {
  step: StepDraft;
  index: number;
  errors: FieldErrors;
  removable: boolean;
  set: (patch: Partial<StepDraft>) => void;
  onRemove: () => void;
}) {
  const fields: StepFieldsProps = {
    step,
    id: (key) => `step-${index}-${key}`,
    error: (key) => errors[`steps.${index}.${key}`],
    set,
  };
  return (
    <fieldset class="step">
      <legend>Step {index + 1}</legend>
      <Message id={`step-${index}`} error={errors[`steps.${index}`]} />
      <StepRequest {...fields} />
      <StepAssertions {...fields} />
      <button type="button" disabled={!removable} onClick={onRemove}>
        Remove step {index + 1}
      </button>
    </fieldset>
  );
}

/** The steps as JSON text; its parse error under it, and the steps' errors by path. */
function StepsJson({
  text,
  error,
  errors,
  onInput,
}: {
  text: string;
  error: string | null;
  errors: FieldErrors;
  onInput: (text: string) => void;
}) {
  return (
    <div class="field">
      <label for="steps-json">Steps as JSON</label>
      <textarea
        {...inputProps('steps-json', error ?? undefined)}
        rows={16}
        spellcheck={false}
        class="mono"
        value={text}
        onInput={(e) => onInput(e.currentTarget.value)}
      />
      <Message id="steps-json" error={error ?? undefined} />
      {Object.entries(errors).map(([key, message]) => (
        <p key={key} class="error-text">
          {key}: {message}
        </p>
      ))}
    </div>
  );
}

/**
 * The api test's steps as a form, or as the equivalent JSON: both edit the same steps, so a
 * change in one shows in the other. Errors are keyed by path (`steps.0.url`), as `stepsToConfig`
 * returns them.
 */
export function StepsEditor({
  steps,
  errors,
  onChange,
}: {
  steps: StepDraft[];
  errors: FieldErrors;
  onChange: (steps: StepDraft[]) => void;
}) {
  const [json, setJson] = useState<{ text: string; error: string | null } | null>(null);
  const toJson = () => setJson({ text: JSON.stringify(stepsToConfig(steps).config, null, 2), error: null });
  const editJson = (text: string) => {
    const parsed = parseJson(text);
    const next = 'error' in parsed ? parsed.error : configToSteps(parsed.value);
    if (typeof next === 'string') return setJson({ text, error: next });
    setJson({ text, error: null });
    onChange(next);
  };
  const set = (i: number, patch: Partial<StepDraft>) =>
    onChange(steps.map((s, j) => (j === i ? { ...s, ...patch } : s)));

  return (
    <div class="steps-editor">
      <label>
        <input
          type="checkbox"
          checked={json !== null}
          onChange={(e) => (e.currentTarget.checked ? toJson() : setJson(null))}
        />{' '}
        JSON
      </label>
      {json !== null ? (
        <StepsJson text={json.text} error={json.error} errors={errors} onInput={editJson} />
      ) : (
        <>
          {steps.map((step, i) => (
            <StepForm
              key={i}
              step={step}
              index={i}
              errors={errors}
              removable={steps.length > 1}
              set={(patch) => set(i, patch)}
              onRemove={() => onChange(steps.filter((_, j) => j !== i))}
            />
          ))}
          <Message id="steps" error={errors.steps} />
          <button
            type="button"
            disabled={steps.length >= MAX_STEPS}
            onClick={() => onChange([...steps, emptyStep(steps.length + 1)])}
          >
            Add step
          </button>
        </>
      )}
    </div>
  );
}
