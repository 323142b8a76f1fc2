/**
 * Channel templates of the WebSocket protocol (DESIGN.md, "Channels").
 * A template's `{param}` placeholders are filled by {@link channelName}.
 */
export const Channels = {
  TEST_UPDATES: 'test-updates',
  TEST_PROGRESS: 'test-progress-{testId}',
  TEST_HISTORY_UPDATES: 'test-history-updates',
  STRESS_TEST: 'stress-test-{testId}',
  QUEUE_UPDATES: 'queue-updates',
  JOB_STATUS: 'job-status-{jobId}',
  SYSTEM_ALERTS: 'system-alerts',
  SYSTEM_MAINTENANCE: 'system-maintenance',
  USER_NOTIFICATIONS: 'user-notifications-{userId}',
  USER_ACTIVITY: 'user-activity',
  TEAM: 'team-{teamId}',
  SHARED_TESTS: 'shared-tests-{shareId}',
} as const;

export type ChannelTemplate = (typeof Channels)[keyof typeof Channels];

type ParamNames<T extends string> = T extends `${string}{${infer P}}${infer Rest}`
  ? P | ParamNames<Rest>
  : never;
export type ChannelParams<T extends ChannelTemplate> = [ParamNames<T>] extends [never]
  ? Record<string, never>
  : { [K in ParamNames<T>]: string };

/** Parameter values: letters, digits, `-` and `_` only, so a value can never forge another channel. */
const PARAM_VALUE = /^[A-Za-z0-9_-]{1,128}$/;

/** Builds a concrete channel name from a template, e.g. `channelName(Channels.TEST_PROGRESS, {testId})`. */
export function channelName<T extends ChannelTemplate>(template: T, params: ChannelParams<T>): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = (params as Record<string, string>)[key];
    if (value === undefined || !PARAM_VALUE.test(value)) {
      throw new TypeError(`channel ${template}: parameter ${key} is missing or invalid`);
    }
    return value;
  });
}

export interface ParsedChannel {
  template: ChannelTemplate;
  params: Record<string, string>;
}

const templateMatchers = Object.values(Channels).map((template) => {
  const names: string[] = [];
  const source = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return '([A-Za-z0-9_-]{1,128})';
  });
  return { template, names, regex: new RegExp(`^${source}$`) };
});

/** Recognises a concrete channel name; returns undefined for anything that is not one of the templates. */
export function parseChannel(name: string): ParsedChannel | undefined {
  if (typeof name !== 'string' || name.length > 200) return undefined;
  // Exact templates first so that `test-updates` never parses as a parameterised one.
  for (const m of templateMatchers) {
    if (m.names.length === 0 && m.template === name) return { template: m.template, params: {} };
  }
  for (const m of templateMatchers) {
    if (m.names.length === 0) continue;
    const match = m.regex.exec(name);
    if (match) {
      const params: Record<string, string> = {};
      m.names.forEach((n, i) => (params[n] = match[i + 1]!));
      return { template: m.template, params };
    }
  }
  return undefined;
}
