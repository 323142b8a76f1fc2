import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { AlertCondition, ChannelType, Severity } from '@crucible/contracts';
import type { AlertRuleRow, Database } from '../types.js';

export interface NewAlertRule {
  workspaceId: string;
  createdBy: string;
  name: string;
  /** null: every monitor of the workspace. */
  monitorId: string | null;
  condition: AlertCondition;
  failAfter: number;
  recoverAfter: number;
  remindEveryMinutes: number | null;
  severity: Severity;
  channelIds: readonly string[];
}

export type AlertRuleChanges = Partial<Omit<NewAlertRule, 'workspaceId' | 'createdBy'>>;

/** A rule with the channels it tells. */
export type AlertRuleWithChannels = AlertRuleRow & { channel_ids: string[] };

/**
 * Repository of `alert_rules` and their channels (`alert_rule_channels`): each belongs to one
 * workspace and is only found through it.
 */
export class AlertRulesRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  #withChannels() {
    return this.#db
      .selectFrom('alert_rules as r')
      .selectAll('r')
      .select(
        sql<string[]>`coalesce((select array_agg(channel_id order by channel_id) from alert_rule_channels c
          where c.rule_id = r.id), '{}')`.as('channel_ids'),
      );
  }

  async create(rule: NewAlertRule): Promise<AlertRuleWithChannels> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('alert_rules')
        .values({
          workspace_id: rule.workspaceId,
          created_by: rule.createdBy,
          name: rule.name,
          monitor_id: rule.monitorId,
          condition: JSON.stringify(rule.condition),
          fail_after: rule.failAfter,
          recover_after: rule.recoverAfter,
          remind_every_minutes: rule.remindEveryMinutes,
          severity: rule.severity,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await setChannels(trx, row.id, rule.channelIds);
      return { ...row, channel_ids: [...rule.channelIds].sort() };
    });
  }

  async list(workspaceId: string): Promise<AlertRuleWithChannels[]> {
    return this.#withChannels()
      .where('r.workspace_id', '=', workspaceId)
      .orderBy('r.created_at')
      .orderBy('r.id')
      .limit(1000)
      .execute();
  }

  /** The rule, if it is the workspace's (another workspace's is not found). */
  async find(workspaceId: string, id: string): Promise<AlertRuleWithChannels | undefined> {
    return this.#withChannels()
      .where('r.workspace_id', '=', workspaceId)
      .where('r.id', '=', id)
      .executeTakeFirst();
  }

  async update(
    workspaceId: string,
    id: string,
    changes: AlertRuleChanges,
  ): Promise<AlertRuleWithChannels | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const set = {
        ...(changes.name !== undefined && { name: changes.name }),
        ...(changes.monitorId !== undefined && { monitor_id: changes.monitorId }),
        ...(changes.condition !== undefined && { condition: JSON.stringify(changes.condition) }),
        ...(changes.failAfter !== undefined && { fail_after: changes.failAfter }),
        ...(changes.recoverAfter !== undefined && { recover_after: changes.recoverAfter }),
        ...(changes.remindEveryMinutes !== undefined && { remind_every_minutes: changes.remindEveryMinutes }),
        ...(changes.severity !== undefined && { severity: changes.severity }),
      };
      // The row is taken (and its updated_at moved) even when only the channels change.
      const row = await trx
        .updateTable('alert_rules')
        .set({ ...set, updated_at: sql`now()` })
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .returning('id')
        .executeTakeFirst();
      if (!row) return undefined;
      if (changes.channelIds !== undefined) {
        await trx.deleteFrom('alert_rule_channels').where('rule_id', '=', id).execute();
        await setChannels(trx, id, changes.channelIds);
      }
      return new AlertRulesRepository(trx).find(workspaceId, id);
    });
  }

  /**
   * Deletes the rule; its open incidents are resolved first (by nobody: no notification), since
   * nothing would evaluate them again. Returns false if it is not the workspace's.
   */
  async delete(workspaceId: string, id: string, by: string): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const held = await trx
        .selectFrom('alert_rules')
        .select('id')
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!held) return false;
      await trx
        .updateTable('incidents')
        .set({
          status: 'resolved',
          resolved_at: sql`now()`,
          resolved_by: by,
          closed_through: sql`now()`,
          next_remind_at: null,
        })
        .where('rule_id', '=', id)
        .where('status', '<>', 'resolved')
        .execute();
      await trx.deleteFrom('alert_rules').where('id', '=', id).execute();
      return true;
    });
  }

  /** The channels a rule tells, with their types. */
  async channelsOf(ruleId: string): Promise<{ id: string; type: ChannelType }[]> {
    return this.#db
      .selectFrom('alert_rule_channels as rc')
      .innerJoin('notification_channels as c', 'c.id', 'rc.channel_id')
      .select(['c.id', 'c.type'])
      .where('rc.rule_id', '=', ruleId)
      .orderBy('c.id')
      .execute();
  }

  /** The rules that watch a monitor: its own and the workspace's every-monitor rules. */
  async forMonitor(workspaceId: string, monitorId: string): Promise<AlertRuleWithChannels[]> {
    return this.#withChannels()
      .where('r.workspace_id', '=', workspaceId)
      .where((eb) => eb.or([eb('r.monitor_id', '=', monitorId), eb('r.monitor_id', 'is', null)]))
      .orderBy('r.created_at')
      .execute();
  }
}

async function setChannels(
  db: Kysely<Database>,
  ruleId: string,
  channelIds: readonly string[],
): Promise<void> {
  if (channelIds.length === 0) return;
  await db
    .insertInto('alert_rule_channels')
    .values([...new Set(channelIds)].map((channel_id) => ({ rule_id: ruleId, channel_id })))
    .execute();
}
