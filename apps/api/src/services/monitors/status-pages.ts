import type { Cache } from '@crucible/cache';
import type { MonitorStatus } from '@crucible/contracts';
import type {
  PublicStatusPage,
  StatusPageCreate,
  StatusPageUpdate,
  StatusPageView,
} from '@crucible/contracts/api';
import type { MonitorRow, MonitorsRepository, StatusPageRow, StatusPagesRepository } from '@crucible/db';
import { HttpProblem, notFound } from '../../errors.js';
import type { Actor } from '../workspace-access.js';
import { statusOf } from './views.js';

export interface StatusPagesServiceDeps {
  pages: StatusPagesRepository;
  monitors: Pick<MonitorsRepository, 'idsInWorkspace' | 'list'>;
  /** Which of the monitors are inside a maintenance window now. */
  inMaintenance: (monitors: MonitorRow[]) => Promise<Set<string>>;
  /** The deployment's cache: public pages live in its `status-pages` namespace. */
  cache: Cache;
  /** How long a public page is served from the cache before it is read again. @defaultValue 30 000 ms */
  ttlMs?: number;
}

/** Days of uptime bars on a public page, today (UTC) included. */
export const STATUS_PAGE_DAYS = 90;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Worst first: the page's overall state is its worst monitor's (paused and pending say nothing). */
const SEVERITY: Partial<Record<MonitorStatus, number>> = { down: 4, degraded: 3, maintenance: 2, up: 1 };

export function toStatusPageView(p: StatusPageRow): StatusPageView {
  return {
    id: p.id,
    slug: p.slug,
    title: p.title,
    monitorIds: p.monitor_ids,
    public: p.public,
    showUrls: p.show_urls,
    createdAt: p.created_at.toISOString(),
  };
}

/** The UTC dates of the last `days` days, oldest first, today last. */
function lastDays(now: Date, days: number): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: days }, (_, i) =>
    new Date(today - (days - 1 - i) * 86_400_000).toISOString().slice(0, 10),
  );
}

const percent = (up: number, finished: number) =>
  finished === 0 ? null : Math.round((10_000 * up) / finished) / 100;

/**
 * Status pages (DESIGN.md, "Monitors"): a workspace's public, read-only pages of chosen monitors.
 * A page names only monitors of its workspace (another's is 404, as if it did not exist). The public
 * read is computed at most once per `ttlMs` per slug across requests (the cache's single flight and
 * its tiers), and dropped at once when the page's owner changes it.
 */
export function createStatusPagesService(deps: StatusPagesServiceDeps) {
  const { pages } = deps;
  const cache = deps.cache.namespace('status-pages');
  const ttlMs = deps.ttlMs ?? 30_000;
  const keyOf = (slug: string) => `page:${slug}`;

  async function checkedMonitors(actor: Actor, ids: string[]): Promise<string[]> {
    const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
    const own = new Set(await deps.monitors.idsInWorkspace(actor.workspaceId, unique));
    const stranger = unique.find((id) => !own.has(id));
    if (stranger) throw notFound(`Monitor ${stranger}`);
    return unique;
  }

  async function found(actor: Actor, id: string): Promise<StatusPageRow> {
    const p = UUID.test(id) ? await pages.find(id.toLowerCase(), actor.workspaceId) : undefined;
    if (!p) throw notFound('Status page');
    return p;
  }

  const slugTaken = (slug: string) =>
    new HttpProblem(409, 'SLUG_TAKEN', 'Conflict', `slug: ${slug} is already another status page's`);

  const forget = (...slugs: string[]) =>
    Promise.all([...new Set(slugs)].map((slug) => cache.delete(keyOf(slug))));

  /** What anyone may read of a page: names, states and uptime; URLs only when the owner opts in. */
  async function compute(slug: string): Promise<PublicStatusPage | undefined> {
    const page = await pages.findBySlug(slug);
    if (!page?.public) return undefined;
    const chosen = new Set(page.monitor_ids);
    // The workspace's monitors, of which the page's: a monitor deleted since is simply gone.
    const rows = (await deps.monitors.list(page.workspace_id)).filter((m) => chosen.has(m.id));
    const byId = new Map(rows.map((m) => [m.id, m]));
    const ordered = page.monitor_ids.flatMap((id) => byId.get(id) ?? []);
    const [maintenance, days, open] = await Promise.all([
      deps.inMaintenance(ordered),
      pages.uptimeDays(
        ordered.map((m) => m.id),
        STATUS_PAGE_DAYS,
      ),
      pages.openIncidents(ordered.map((m) => m.id)),
    ]);
    const now = new Date();
    const dates = lastDays(now, STATUS_PAGE_DAYS);
    const monitors = ordered.map((m) => {
      const own = new Map(days.filter((d) => d.monitor_id === m.id).map((d) => [d.day, d]));
      const total = [...own.values()].reduce(
        (acc, d) => ({ up: acc.up + d.up, finished: acc.finished + d.finished }),
        { up: 0, finished: 0 },
      );
      const url = (m.test as { url?: string }).url;
      return {
        name: m.name,
        status: statusOf(m, maintenance.has(m.id)),
        ...(page.show_urls && url ? { url } : {}),
        uptime90d: percent(total.up, total.finished),
        days: dates.map((date) => {
          const d = own.get(date);
          return { date, uptime: d ? percent(d.up, d.finished) : null };
        }),
      };
    });
    const worst = monitors.reduce<MonitorStatus | undefined>(
      (w, m) => ((SEVERITY[m.status] ?? 0) > (w ? (SEVERITY[w] ?? 0) : 0) ? m.status : w),
      undefined,
    );
    return {
      title: page.title,
      overall: worst ?? 'unknown',
      monitors,
      // Named by the monitor's and the rule's names, as the owner chose them: no ids, no URLs.
      incidents: open.map((i) => ({
        monitor: byId.get(i.monitor_id)!.name,
        title: i.rule_name,
        since: i.opened_at.toISOString(),
      })),
      generatedAt: now.toISOString(),
    };
  }

  return {
    async create(actor: Actor, body: StatusPageCreate): Promise<StatusPageView> {
      const monitorIds = await checkedMonitors(actor, body.monitorIds);
      const page = await pages.create({
        workspaceId: actor.workspaceId,
        slug: body.slug,
        title: body.title,
        monitorIds,
        public: body.public ?? true,
        showUrls: body.showUrls ?? false,
      });
      if (!page) throw slugTaken(body.slug);
      // A read of the slug before it existed is remembered as missing: forgotten now.
      await forget(page.slug);
      return toStatusPageView(page);
    },

    async list(actor: Actor): Promise<StatusPageView[]> {
      return (await pages.list(actor.workspaceId)).map(toStatusPageView);
    },

    async get(actor: Actor, id: string): Promise<StatusPageView> {
      return toStatusPageView(await found(actor, id));
    },

    async update(actor: Actor, id: string, body: StatusPageUpdate): Promise<StatusPageView> {
      const current = await found(actor, id);
      const { page, before, taken } = await pages.update(current.id, actor.workspaceId, {
        ...body,
        ...(body.monitorIds !== undefined
          ? { monitorIds: await checkedMonitors(actor, body.monitorIds) }
          : {}),
      });
      if (taken) throw slugTaken(body.slug!);
      if (!page || !before) throw notFound('Status page');
      await forget(before.slug, page.slug);
      return toStatusPageView(page);
    },

    async delete(actor: Actor, id: string): Promise<void> {
      const page = UUID.test(id) ? await pages.delete(id.toLowerCase(), actor.workspaceId) : undefined;
      if (!page) throw notFound('Status page');
      await forget(page.slug);
    },

    /** The public page of a slug, or undefined (none, or not public); from the cache within `ttlMs`. */
    async read(slug: string): Promise<PublicStatusPage | undefined> {
      return cache.cached(keyOf(slug), ttlMs, () => compute(slug), { negativeTtlMs: ttlMs });
    },
  };
}

export type StatusPagesService = ReturnType<typeof createStatusPagesService>;
