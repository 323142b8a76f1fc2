import { describe, expect, it } from 'vitest';
import type { AlertRuleView } from '@crucible/contracts/api';
import { draftOf, ruleField, ruleRequest, ruleSummary } from './alert-rules';

const rule: AlertRuleView = {
  id: 'r1',
  workspaceId: 'w',
  name: 'slow',
  target: { monitorId: 'm1' },
  condition: { kind: 'threshold', expression: 'duration.total < 500' },
  failAfter: 3,
  recoverAfter: 1,
  remindEveryMinutes: 30,
  severity: 'warning',
  channelIds: ['c1', 'c2'],
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

describe('ruleRequest', () => {
  it('sends a new rule’s defaults as the API documents them: every monitor, down, 2 and 2, no reminders', () => {
    expect(ruleRequest({ ...draftOf(), name: ' site down ' })).toEqual({
      body: {
        name: 'site down',
        target: { allMonitors: true },
        condition: { kind: 'down' },
        failAfter: 2,
        recoverAfter: 2,
        remindEveryMinutes: null,
        severity: 'critical',
        channelIds: [],
      },
    });
  });

  it('sends an existing rule back as it was, so saving unchanged changes nothing', () => {
    const { id: _id, workspaceId: _w, createdAt: _c, updatedAt: _u, ...fields } = rule;
    expect(ruleRequest(draftOf(rule))).toEqual({ body: fields });
  });

  it('names each field it can judge by itself instead of sending', () => {
    expect(
      ruleRequest({
        ...draftOf(),
        kind: 'threshold',
        expression: ' ',
        failAfter: '2.5',
        recoverAfter: '',
        remindEveryMinutes: 'soon',
      }),
    ).toEqual({
      errors: {
        name: 'Give the rule a name',
        expression: 'An expression such as latency.p95 < 500',
        failAfter: 'A whole number of runs',
        recoverAfter: 'A whole number of runs',
        remindEveryMinutes: 'A whole number of minutes, or empty for none',
      },
    });
  });
});

describe('ruleField', () => {
  it('places the API’s refusal under the field it is about', () => {
    expect(
      ruleField(
        'INVALID_THRESHOLD',
        'condition.expression: threshold "latency.p95 < 500": api tests have no metric',
      ),
    ).toBe('expression');
    expect(ruleField('VALIDATION', 'body.failAfter must be <= 20')).toBe('failAfter');
    expect(ruleField('VALIDATION', 'remindEveryMinutes must be >= 5')).toBe('remindEveryMinutes');
    expect(ruleField('VALIDATION', 'condition.kind must be equal to one of the allowed values')).toBe('kind');
    expect(ruleField('VALIDATION', 'target.monitorId must match format "uuid"')).toBe('monitorId');
    expect(ruleField('NOT_FOUND', 'monitor not found')).toBe('');
  });
});

describe('ruleSummary', () => {
  it('says when the rule fires, resolves and reminds', () => {
    expect(ruleSummary(rule)).toBe(
      'breaks duration.total < 500 3 runs in a row · resolves after 1 passing · reminds every 30 min',
    );
    expect(
      ruleSummary({ ...rule, condition: { kind: 'down' }, failAfter: 1, remindEveryMinutes: null }),
    ).toBe('down once · resolves after 1 passing · no reminders');
  });
});
