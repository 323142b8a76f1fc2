import { describe, expect, it } from 'vitest';
import { configToSteps, EXAMPLE_STEPS, parseJson, stepsToConfig } from './api-steps';

describe('the api step editor', () => {
  it('turns the pre-filled example into a config the catalogue accepts', () => {
    expect(stepsToConfig(EXAMPLE_STEPS)).toEqual({
      config: { steps: [{ name: 'home', method: 'GET', url: '/', assert: { status: 200 } }] },
      errors: {},
    });
  });

  it('round-trips a config through the editor, keeping what it has no input for', () => {
    const config = {
      steps: [
        {
          name: 'login',
          method: 'POST',
          url: '/login',
          headers: { 'x-a': '1' },
          body: { user: 'ann' },
          capture: { token: '$.token' },
          assert: {
            status: 201,
            maxTimeMs: 500,
            bodyContains: 'ok',
            headers: { 'content-type': 'application/json' },
            json: [
              { path: '$.n', equals: 42 },
              { path: '$.s', equals: 'yes' },
              { path: '$.q', equals: '42' },
            ],
          },
        },
        { name: 'me', path: '/me', body: 'plain text' },
      ],
    };
    const steps = configToSteps(structuredClone(config));
    expect(Array.isArray(steps) && steps[0]).toMatchObject({
      url: '/login',
      headers: [{ name: 'x-a', value: '1' }],
      body: '{\n  "user": "ann"\n}',
      status: '201',
      json: [
        { path: '$.n', equals: '42' },
        { path: '$.s', equals: 'yes' },
        { path: '$.q', equals: '"42"' },
      ],
      rest: { capture: { token: '$.token' } },
    });
    expect(stepsToConfig(steps as never)).toEqual({ config, errors: {} });
  });

  it('puts each catalogue message under the input of the step it is about', () => {
    const [first] = EXAMPLE_STEPS;
    const { errors } = stepsToConfig([
      first!,
      { ...first!, name: '', url: 'ftp://example.com/', status: '700', maxTimeMs: 'soon' },
      { ...first!, url: 'http://[' },
    ]);
    expect(errors).toEqual({
      'steps.1.name': 'Expected string length greater or equal to 1',
      'steps.1.url': 'Use an http or https URL, or a path such as /login',
      'steps.1.assert.status': 'Expected integer to be less or equal to 599',
      'steps.1.assert.maxTimeMs': 'Expected a number',
      'steps.2.url': 'Not a URL: use an http or https URL, or a path such as /login',
    });
    expect(stepsToConfig([]).errors).toEqual({ steps: 'Expected array length to be greater or equal to 1' });
    expect(stepsToConfig([{ ...first!, url: `/${'a'.repeat(2048)}` }]).errors).toEqual({
      'steps.0.url': 'Expected string length less or equal to 2048',
    });
    const wrongType = configToSteps({ steps: [{ name: 'x', url: 5 }] });
    expect(stepsToConfig(wrongType as never).errors).toEqual({ 'steps.0.url': 'Expected string' });
  });

  it('says where JSON is broken, by line and column', () => {
    expect(parseJson('{"steps": [\n  {"name": "a",}\n]}')).toEqual({
      error: expect.stringMatching(/^Line 2, column 16: /),
    });
    expect(parseJson('{"steps": [')).toEqual({ error: expect.stringMatching(/^Line 1, column 12: /) });
    expect(parseJson('{"steps": []}')).toEqual({ value: { steps: [] } });
    expect(configToSteps({ steps: [], x: 1 })).toBe('Expected {"steps": [ ... ]}');
  });
});
