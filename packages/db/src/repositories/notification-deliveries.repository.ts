import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { ChannelType, DeliveryStatus, NotificationEventType } from '@crucible/contracts';
import type { Database } from '../types.js';

export interface NewNotificationEvent {
  workspaceId: string;
  type: NotificationEventType;
  data: unknown;
  channelIds: readonly string[];
  /** Written `suppressed` (recorded, never sent): e.g. inside a maintenance window. @defaultValue false */
  suppressed?: boolean;
  /** How long the deliveries are retried before they fail (`NOTIFY_RETRY_HOURS`). */
  retryForMs: number;
  /** Held this long before the first attempt, gathering what joins its group. @defaultValue 0 */
  holdMs?: number;
  /** A group later events of the same key join while it is held (see {@link NotificationDeliveriesRepository.heldGroup}). */
  groupKey?: string;
}

export interface EnqueuedEvent {
  eventId: string;
  deliveries: { deliveryId: string; channelId: string }[];
}

/** A delivery a dispatcher holds: what it sends, and the attempt number that fences its outcome. */
export interface ClaimedDelivery {
  deliveryId: string;
  eventId: string;
  eventType: NotificationEventType;
  eventData: unknown;
  eventCreatedAt: Date;
  workspaceId: string;
  channelId: string;
  channelType: ChannelType;
  channelName: string;
  channelConfig: unknown;
  channelSecret: string | null;
  channelTemplates: unknown;
  channelEnabled: boolean;
  channelCreatedBy: string | null;
  attempt: number;
}

/** How an attempt ended, as the dispatcher decided. */
export type AttemptOutcome =
  | { kind: 'delivered'; responseStatus: number | null; durationMs: number }
  | { kind: 'failed'; responseStatus: number | null; durationMs: number | null; error: string }
  | {
      kind: 'retry';
      delayMs: number;
      responseStatus: number | null;
      durationMs: number | null;
      error: string;
    };

export interface TrailLine {
  id: string;
  deliveryId: string;
  eventId: string;
  eventType: string;
  attempt: number;
  status: DeliveryStatus;
  responseStatus: number | null;
  error: string | null;
  durationMs: number | null;
  at: Date;
}

/** Severities from least to most urgent, for comparing them in SQL. */
const RANKS = sql`array['info', 'warning', 'critical']`;

/** Whether deliveries `a` and `b` (aliases in the claim) tell of one same incident. */
const sameIncident = (a: string, b: string) =>
  sql`exists (select 1 from incident_notifications ia join incident_notifications ib on ib.incident_id = ia.incident_id
    where ia.event_id = ${sql.ref(`${a}.event_id`)} and ib.event_id = ${sql.ref(`${b}.event_id`)})`;

/** Said in the trail for an attempt whose dispatcher died before recording how it went. */
export const LOST_ATTEMPT_ERROR = 'the dispatcher stopped during this attempt; it is sent again';

/**
 * Repository of the outbox: `notification_events`, their `notification_deliveries` (one per
 * channel) and the trail of each delivery's attempts (`notification_attempts`). Deliveries are
 * claimed by lease in one statement each (`FOR UPDATE SKIP LOCKED`, no transaction held while
 * sending), which works alike on PostgreSQL and on the embedded PGlite's one shared session.
 */
export class NotificationDeliveriesRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Writes an event and a delivery per channel, plus the trail's first line of each. Pass a
   * repository built on the transaction of whatever causes the event: they commit together.
   */
  async enqueue(event: NewNotificationEvent): Promise<EnqueuedEvent> {
    const data = JSON.stringify(event.data);
    // Each channel's creator's preferences (none for a test notification, which someone asked for):
    // muted or below the channel's minimum severity → suppressed; in quiet hours and not critical →
    // held until they end. `rank` orders severities; the event's is its data's.
    const rows = await sql<{ event_id: string; delivery_id: string; channel_id: string }>`
      with ev as (
        insert into notification_events (workspace_id, type, data, group_key)
        values (${event.workspaceId}, ${event.type}, ${data}::jsonb, ${event.groupKey ?? null})
        returning id
      ), plan as (
        select ch,
          case
            when ${event.suppressed ?? false}::boolean then null
            when p.user_id is null or ${event.type}::text = 'test.notification' then null
            when p.muted_until > now() and sev.v <> 'critical'
              then 'muted until ' || to_char(p.muted_until at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            when array_position(${RANKS}, p.min_severity ->> ch::text) > array_position(${RANKS}, sev.v)
              then 'below the minimum severity ' || (p.min_severity ->> ch::text)
          end as muted,
          case
            when p.quiet_start is null or sev.v = 'critical' or ${event.type}::text = 'test.notification' then null
            when (case when p.quiet_start < p.quiet_end
                    then l.t >= p.quiet_start and l.t < p.quiet_end
                    else l.t >= p.quiet_start or l.t < p.quiet_end end)
              then ((case when l.t < p.quiet_end then l.local::date else l.local::date + 1 end) + p.quiet_end)
                   at time zone p.quiet_timezone
          end as quiet_until
        from unnest(${sql.val(event.channelIds)}::uuid[]) as ch
        cross join (select ${data}::jsonb ->> 'severity' as v) sev
        left join notification_channels c on c.id = ch
        left join notification_preferences p on p.user_id = c.created_by
        left join lateral (
          select now() at time zone p.quiet_timezone as local, (now() at time zone p.quiet_timezone)::time as t
        ) l on true
      ), d as (
        insert into notification_deliveries (event_id, channel_id, status, give_up_at, finished_at, next_attempt_at)
        select ev.id, plan.ch,
               case when ${event.suppressed ?? false}::boolean or plan.muted is not null then 'suppressed' else 'pending' end,
               greatest(now(), plan.quiet_until) + make_interval(secs => ${event.retryForMs / 1000}),
               case when ${event.suppressed ?? false}::boolean or plan.muted is not null then now() end,
               greatest(clock_timestamp() + make_interval(secs => ${(event.holdMs ?? 0) / 1000}), plan.quiet_until)
        from ev, plan
        returning id, event_id, channel_id, status
      ), trail as (
        insert into notification_attempts (delivery_id, channel_id, attempt, status, error)
        select d.id, d.channel_id, 0, d.status,
               coalesce('suppressed by the preferences of the channel''s creator: ' || plan.muted,
                        'held for quiet hours until ' || to_char(plan.quiet_until at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
        from d join plan on plan.ch = d.channel_id
      )
      select ev.id as event_id, d.id as delivery_id, d.channel_id from ev left join d on true
    `.execute(this.#db);
    return {
      eventId: rows.rows[0]!.event_id,
      deliveries: rows.rows
        .filter((r) => r.delivery_id !== null)
        .map((r) => ({ deliveryId: r.delivery_id, channelId: r.channel_id })),
    };
  }

  /**
   * Makes the caller's transaction the one that looks for and starts the workspace's groups until
   * it ends: two that both found none held would each start one.
   */
  async lockGroups(workspaceId: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`notification-group:${workspaceId}`}, 0))`.execute(
      this.#db,
    );
  }

  /**
   * The event of a group still held, its first attempt not yet claimed, locked until the caller's
   * transaction ends: what joins it goes out in the same send. A claim that got there first (its
   * attempt number raised) leaves nothing to join, and the caller starts a new group.
   */
  async heldGroup(
    workspaceId: string,
    groupKey: string,
    dueWithinMs?: number,
  ): Promise<{ eventId: string; data: unknown } | undefined> {
    // `dueWithinMs`: join only a group that goes out that soon — a critical opening must not wait
    // with a group held for the quiet hours of the channel's creator.
    const due =
      dueWithinMs === undefined
        ? sql``
        : sql`and d.next_attempt_at <= clock_timestamp() + make_interval(secs => ${dueWithinMs / 1000})`;
    const { rows } = await sql<{ event_id: string; data: unknown }>`
      select e.id as event_id, e.data from notification_events e
      join notification_deliveries d on d.event_id = e.id
      where e.workspace_id = ${workspaceId} and e.group_key = ${groupKey}
        and e.created_at > now() - interval '1 day'
        and d.status = 'pending' and d.attempts = 0 ${due}
      order by e.created_at desc
      limit 1
      for update of e, d`.execute(this.#db);
    const row = rows[0];
    return row && { eventId: row.event_id, data: row.data };
  }

  /** Replaces a held group's data with what now gathers in it. */
  async regroup(eventId: string, data: unknown): Promise<void> {
    await this.#db
      .updateTable('notification_events')
      .set({ data: JSON.stringify(data) })
      .where('id', '=', eventId)
      .execute();
  }

  /**
   * Takes up to `limit` due deliveries (or exactly `deliveryId`, if due) for `leaseMs`: raises
   * their attempt number and records, for one whose previous claim lapsed without an outcome, that
   * attempt as lost. A channel's deliveries are taken one at a time in the order they were written
   * (`seq`): one waits while another of its channel is in flight, or while an older one of its
   * channel is unfinished — unless that older one is still held (never tried, not yet due: a group
   * gathering, quiet hours) and tells of none of its incidents. `deliveryId` (a test sent by hand)
   * skips the order. Claims are serialized by a transaction-scoped advisory lock, so each sees the
   * ones before it committed and two never take two deliveries of one channel.
   */
  async claim(options: {
    limit: number;
    leaseMs: number;
    deliveryId?: string;
    /** Only deliveries of events of these types. @defaultValue every type */
    eventTypes?: readonly NotificationEventType[];
  }): Promise<ClaimedDelivery[]> {
    // Limited to some event types (the api's dispatcher of system alerts): only older deliveries of
    // those types keep the order, so a system alert is not stuck behind an incident's delivery that
    // only a worker, perhaps the one it is about, would send.
    const types = options.eventTypes;
    const ofTypes = (alias: string) =>
      types
        ? sql`and ${sql.ref(`${alias}.event_id`)} in (select id from notification_events where type = any(${sql.val(types)}::text[]))`
        : sql``;
    // o holds d back: o in flight; or o older and tried already, or about one of d's incidents, or
    // due and not itself waiting for a held (untried, not yet due) one about its own incidents.
    const inOrder = options.deliveryId
      ? sql`and d.id = ${options.deliveryId}`
      : sql`and not exists (
          select 1 from notification_deliveries o
          where o.channel_id = d.channel_id and o.id <> d.id and o.status in ('pending', 'retrying')
            and (o.claimed_until >= now()
              or (o.seq < d.seq ${ofTypes('o')} and (o.attempts > 0 or ${sameIncident('o', 'd')}
                or (o.next_attempt_at <= now() and not exists (
                  select 1 from notification_deliveries h
                  where h.channel_id = o.channel_id and h.seq < o.seq and h.status = 'pending'
                    and h.attempts = 0 and h.next_attempt_at > now() and ${sameIncident('h', 'o')}))))))`;
    return this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtextextended('notification-claim', 0))`.execute(trx);
      return (await this.#claimDue(trx, options, sql`${inOrder} ${ofTypes('d')}`)).rows;
    });
  }

  #claimDue(
    db: Kysely<Database>,
    options: { limit: number; leaseMs: number },
    inOrder: ReturnType<typeof sql>,
  ) {
    return sql<ClaimedDelivery>`
      with due as (
        select d.id, d.claimed_until as previous_claim from notification_deliveries d
        where d.status in ('pending', 'retrying') and d.next_attempt_at <= now()
          and (d.claimed_until is null or d.claimed_until < now()) ${inOrder}
        order by d.next_attempt_at, d.seq
        limit ${options.limit}
        for update skip locked
      ), claimed as (
        update notification_deliveries d
        set attempts = d.attempts + 1,
            claimed_until = now() + make_interval(secs => ${options.leaseMs / 1000})
        from due where d.id = due.id
        returning d.id, d.event_id, d.channel_id, d.attempts, due.previous_claim
      ), lost as (
        insert into notification_attempts (delivery_id, channel_id, attempt, status, error)
        select id, channel_id, attempts - 1, 'retrying', ${LOST_ATTEMPT_ERROR}
        from claimed where previous_claim is not null
      )
      select claimed.id as "deliveryId", claimed.event_id as "eventId", e.type as "eventType",
             e.data as "eventData", e.created_at as "eventCreatedAt", e.workspace_id as "workspaceId",
             c.id as "channelId", c.type as "channelType", c.name as "channelName",
             c.config as "channelConfig", c.secret as "channelSecret", c.templates as "channelTemplates",
             c.enabled as "channelEnabled", c.created_by as "channelCreatedBy", claimed.attempts as "attempt"
      from claimed
      join notification_events e on e.id = claimed.event_id
      join notification_channels c on c.id = claimed.channel_id
    `.execute(db);
  }

  /**
   * Records how attempt `attempt` of a delivery ended, if that attempt still holds it (a dispatcher
   * that lost its lease and answers late changes nothing). A retry that would fall past the
   * delivery's retry time fails it instead. Returns the delivery's new status, or null if fenced off.
   */
  async record(deliveryId: string, attempt: number, outcome: AttemptOutcome): Promise<DeliveryStatus | null> {
    const delayMs = outcome.kind === 'retry' ? outcome.delayMs : 0;
    const wanted: DeliveryStatus = outcome.kind === 'retry' ? 'retrying' : outcome.kind;
    const error = outcome.kind === 'delivered' ? null : outcome.error;
    const result = await sql<{ status: DeliveryStatus }>`
      with next as (
        select id, case
          when ${wanted} = 'retrying' and now() + make_interval(secs => ${delayMs / 1000}) > give_up_at
          then 'failed' else ${wanted} end as status
        from notification_deliveries
        where id = ${deliveryId} and attempts = ${attempt} and status in ('pending', 'retrying')
        for update
      ), d as (
        update notification_deliveries nd
        set status = next.status, claimed_until = null,
            next_attempt_at = now() + make_interval(secs => ${delayMs / 1000}),
            finished_at = case when next.status in ('delivered', 'failed') then now() end
        from next where nd.id = next.id
        returning nd.id, nd.channel_id, nd.status
      ), trail as (
        insert into notification_attempts (delivery_id, channel_id, attempt, status, response_status, error, duration_ms)
        select id, channel_id, ${attempt}, status, ${outcome.responseStatus},
          case when status = 'failed' and ${wanted} = 'retrying'
            then ${error} || ' (no retry time left)' else ${error} end,
          ${outcome.durationMs === null ? null : Math.round(outcome.durationMs)}
        from d
      )
      select status from d
    `.execute(this.#db);
    return result.rows[0]?.status ?? null;
  }

  /** The current state of one delivery. */
  async status(deliveryId: string): Promise<{ status: DeliveryStatus; attempts: number } | undefined> {
    return this.#db
      .selectFrom('notification_deliveries')
      .select(['status', 'attempts'])
      .where('id', '=', deliveryId)
      .executeTakeFirst();
  }

  /** A channel's trail, newest first; `cursor` is the last line's `id` of the previous page. */
  async trail(channelId: string, limit: number, cursor?: string): Promise<TrailLine[]> {
    let query = this.#db
      .selectFrom('notification_attempts as a')
      .innerJoin('notification_deliveries as d', 'd.id', 'a.delivery_id')
      .innerJoin('notification_events as e', 'e.id', 'd.event_id')
      .select([
        'a.id',
        'a.delivery_id as deliveryId',
        'd.event_id as eventId',
        'e.type as eventType',
        'a.attempt',
        'a.status',
        'a.response_status as responseStatus',
        'a.error',
        'a.duration_ms as durationMs',
        'a.at',
      ])
      .where('a.channel_id', '=', channelId)
      .orderBy('a.id', 'desc')
      .limit(limit);
    if (cursor !== undefined) query = query.where('a.id', '<', cursor);
    return query.execute();
  }
}
