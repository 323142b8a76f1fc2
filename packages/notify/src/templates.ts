import Mustache from 'mustache';
import type { ChannelType, NotificationData, NotificationEventType } from '@crucible/contracts';
import type { ChannelTemplates } from '@crucible/contracts/api';

/** One state's template: `title` (an email's subject), `body` (plain text), `html` (email only). */
export interface Template {
  title: string;
  body: string;
  html: string;
}

/** What a channel sends for one event: the templates rendered. */
export interface RenderedNotification {
  title: string;
  body: string;
  /** Email only: the HTML part, every value HTML-escaped. */
  html: string;
}

const HTML_FRAME = (inner: string) =>
  `<!doctype html><html><body style="font-family:sans-serif">${inner}` +
  `<p style="color:#666">Severity: {{severity}} · sent by Crucible</p></body></html>`;

// `url`: the notification's one link (the incident, the open incidents of a group, a test's
// channel), set when `PUBLIC_URL` is (links.ts).
const LINK_TEXT = '{{#url}}\nOpen in Crucible: {{url}}{{/url}}';
const LINK_HTML = '{{#url}}<p><a href="{{url}}">Open in Crucible</a></p>{{/url}}';

function stateTemplate(titlePrefix: string): Template {
  return {
    title: `${titlePrefix}{{title}}`,
    body: `{{message}}${LINK_TEXT}`,
    html: HTML_FRAME(`<h2>${titlePrefix}{{title}}</h2><p>{{message}}</p>${LINK_HTML}`),
  };
}

/** The default template of each state, whatever the channel. */
export const DEFAULT_TEMPLATES: Record<NotificationEventType, Template> = {
  'incident.opened': stateTemplate('Incident opened: '),
  'incident.reminder': stateTemplate('Still open: '),
  'incident.acknowledged': stateTemplate('Acknowledged: '),
  'incident.resolved': stateTemplate('Resolved: '),
  'test.notification': stateTemplate(''),
  'system.alert.firing': stateTemplate('System alert: '),
  'system.alert.resolved': stateTemplate('System alert resolved: '),
};

/** One body for every state. */
const everyState = (body: string) =>
  Object.fromEntries(Object.keys(DEFAULT_TEMPLATES).map((state) => [state, { body }]));

/**
 * Where a channel type writes differently: Slack links as `<url|text>`; in-app has no link in its
 * text, since the notification centre links each notification to its incident itself.
 */
const TYPE_TEMPLATES: Partial<
  Record<ChannelType, Partial<Record<NotificationEventType, Partial<Template>>>>
> = {
  slack: everyState('{{message}}{{#url}}\n<{{url}}|Open in Crucible>{{/url}}'),
  'in-app': everyState('{{message}}'),
};

/** The template a channel uses for a state: its own fields, else its type's, else the default. */
export function templateFor(
  type: ChannelType,
  state: NotificationEventType,
  own: ChannelTemplates | undefined,
): Template {
  return { ...DEFAULT_TEMPLATES[state], ...TYPE_TEMPLATES[type]?.[state], ...own?.[state] };
}

/** Fails (naming the state and field) on a template the engine cannot parse; what a channel's create and update check. */
export function checkTemplates(templates: ChannelTemplates | undefined): void {
  for (const [state, fields] of Object.entries(templates ?? {})) {
    for (const [field, text] of Object.entries(fields ?? {})) {
      try {
        Mustache.parse(text as string);
      } catch (err) {
        throw new TemplateError(`${state}.${field}: ${(err as Error).message}`, { cause: err });
      }
    }
  }
}

export class TemplateError extends Error {
  readonly code = 'INVALID_TEMPLATE';
}

const asIs = (value: unknown) => String(value);

/**
 * The values a template reads, as objects without a prototype (so `{{constructor}}` and the like
 * find nothing to call), with dotted metric names nested: `{{metrics.latency.p95}}`.
 */
function viewOf(value: unknown, nestDots = false): unknown {
  if (Array.isArray(value)) return value.map((v) => viewOf(v));
  if (value === null || typeof value !== 'object') return value;
  const view = Object.create(null) as Record<string, unknown>;
  for (const [key, v] of Object.entries(value)) {
    const path = nestDots ? key.split('.') : [key];
    let at = view;
    for (const part of path.slice(0, -1)) {
      const next = at[part];
      at = (next !== null && typeof next === 'object' ? next : (at[part] = Object.create(null))) as Record<
        string,
        unknown
      >;
    }
    at[path.at(-1)!] = viewOf(v, key === 'metrics');
  }
  return view;
}

/**
 * Renders a state's template with Mustache (logic-less): `{{title}}`, `{{message}}`, `{{severity}}`,
 * `{{url}}`, `{{incident.url}}`, `{{monitor.name}}`, `{{metrics.*}}`, `{{channel.name}}`, `{{event.type}}`…
 * Title and body are plain text (nothing escaped: they go into JSON or a mail's text part); the
 * HTML part escapes every value.
 */
export function render(
  template: Template,
  data: NotificationData,
  context: { eventType: NotificationEventType; eventId: string; channelName: string },
): RenderedNotification {
  const view = viewOf({
    ...data,
    event: { type: context.eventType, id: context.eventId },
    channel: { name: context.channelName },
  });
  return {
    title: Mustache.render(template.title, view, {}, { escape: asIs }).trim(),
    body: Mustache.render(template.body, view, {}, { escape: asIs }).trim(),
    html: Mustache.render(template.html, view),
  };
}
