import { describe, expect, it } from 'vitest';
import { buildConfig, configFields, configToValues, labelOf } from './config-form';

describe('the config form of each test type', () => {
  it('draws the stress options from the catalogue schema, with its bounds and defaults', () => {
    const fields = configFields('stress');
    expect(fields.map((f) => `${f.kind}:${f.key}`)).toEqual([
      'number:connections',
      'number:durationSec',
      'number:rampUpSec',
      'select:mode',
      'select:method',
      'headers:headers',
      'text:body',
      'number:rate',
      'number:shards',
      'group:thresholds',
    ]);
    expect(fields[0]).toEqual({
      kind: 'number',
      key: 'connections',
      label: 'Connections',
      integer: true,
      min: 1,
      max: 1000,
      defaultValue: 10,
    });
    expect(fields[3]).toMatchObject({ options: ['load', 'stress', 'spike'], defaultValue: 'load' });
    expect(fields[8]).toMatchObject({ kind: 'number', key: 'shards', integer: true, min: 1, max: 64 });
    const thresholds = fields[9]!;
    expect(thresholds.kind === 'group' && thresholds.fields.map((f) => f.label)).toEqual([
      'P95 (ms)',
      'P99 (ms)',
      'Error rate (%)',
      'Min rps',
    ]);
  });

  it('labels keys with their unit', () => {
    expect(labelOf('durationSec')).toBe('Duration (s)');
    expect(labelOf('timeoutMs')).toBe('Timeout (ms)');
    expect(labelOf('checkLinks')).toBe('Check links');
  });

  it('leaves empty inputs out, so the schema defaults apply at the API', () => {
    expect(buildConfig('stress', { connections: '', durationSec: ' 4 ' })).toEqual({
      config: { durationSec: 4 },
      errors: {},
    });
  });

  it('nests groups, parses headers and JSON', () => {
    const { config, errors } = buildConfig('stress', {
      'thresholds.p95Ms': '250',
      headers: 'x-a: 1\nAccept: text/html\n',
      method: 'POST',
    });
    expect(errors).toEqual({});
    expect(config).toEqual({
      thresholds: { p95Ms: 250 },
      headers: { 'x-a': '1', Accept: 'text/html' },
      method: 'POST',
    });
    expect(buildConfig('api', { steps: '[{"name":"home","path":"/"}]' }).config).toEqual({
      steps: [{ name: 'home', path: '/' }],
    });
  });

  it('reports the schema’s own message beside the field that is wrong', () => {
    expect(buildConfig('stress', { connections: '0', 'thresholds.errorRatePct': '101' }).errors).toEqual({
      connections: 'Expected integer to be greater or equal to 1',
      'thresholds.errorRatePct': 'Expected number to be less or equal to 100',
    });
    expect(buildConfig('performance', { iterations: '2.5' }).errors).toEqual({
      iterations: 'Expected integer',
    });
    expect(buildConfig('stress', { headers: 'no colon here' }).errors).toEqual({
      headers: '"no colon here" is not "Name: value"',
    });
    expect(buildConfig('api', { steps: '[{"path":"/"}]' }).errors).toEqual({
      steps: '0.name: Expected required property',
    });
    expect(buildConfig('api', { steps: '{' }).errors).toEqual({ steps: 'Expected JSON' });
  });
});

describe('a stored config back in the form', () => {
  it('gives the text that builds the same config again', () => {
    const config = {
      connections: 5,
      durationSec: 10,
      mode: 'spike',
      headers: { authorization: 'Bearer x', 'x-probe': '1' },
      thresholds: { p95Ms: 300 },
    };
    const values = configToValues('stress', config);
    expect(values).toMatchObject({
      connections: '5',
      durationSec: '10',
      mode: 'spike',
      headers: 'authorization: Bearer x\nx-probe: 1',
      'thresholds.p95Ms': '300',
    });
    expect(buildConfig('stress', values)).toEqual({ config, errors: {} });
    expect(configToValues('performance', undefined)).toEqual({});
  });
});
