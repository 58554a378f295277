import { sql } from 'kysely';
import type { Database, Db } from './database.ts';
import type { AttemptRow, DeliveryStatus, WebhookRow } from './tables.ts';

/**
 * The delivery queue's SQL. A claim pushes next_attempt_at to the end of a lease and stamps
 * locked_by; completing checks locked_by, so a worker whose lease ran out (and whose
 * delivery another worker took up) cannot overwrite the newer outcome.
 */

export type ClaimedDelivery = {
  id: string;
  event_id: string;
  webhook_id: string;
  event_type: string;
  attempts: number;
};

export async function claimDue(
  database: Database,
  opts: { workerId: string; now: number; leaseMs: number; limit: number; perWebhook: number; skipWebhookIds: string[] },
): Promise<ClaimedDelivery[]> {
  const { db, capabilities } = database;
  const skip = opts.skipWebhookIds.length ? sql`AND webhook_id NOT IN (${sql.join(opts.skipWebhookIds)})` : sql``;
  // Several workers claim at once on PostgreSQL: each skips the rows another is taking.
  const lock = capabilities.skipLocked ? sql`FOR UPDATE SKIP LOCKED` : sql``;
  // The head of the queue, at most `perWebhook` rows per webhook: a backlog of one endpoint
  // cannot fill a claim and crowd out the others. The outer re-check of status and time
  // makes a row another worker took meanwhile drop out instead of being claimed twice.
  const { rows } = await sql<ClaimedDelivery>`
    UPDATE deliveries SET next_attempt_at = ${opts.now + opts.leaseMs}, locked_by = ${opts.workerId}
    WHERE id IN (
      SELECT id FROM (
        SELECT id, next_attempt_at, row_number() OVER (PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS rn
        FROM (
          SELECT id, webhook_id, next_attempt_at FROM deliveries
          WHERE status = 'pending' AND next_attempt_at <= ${opts.now} ${skip}
          ORDER BY next_attempt_at, id
          LIMIT ${opts.limit * 4}
          ${lock}
        ) head
      ) ranked
      WHERE rn <= ${opts.perWebhook}
      ORDER BY next_attempt_at, id
      LIMIT ${opts.limit}
    )
    AND status = 'pending' AND next_attempt_at <= ${opts.now}
    RETURNING id, event_id, webhook_id, event_type, attempts`.execute(db);
  // RETURNING has no order; ids are time-ordered, so this restores queue order, in which
  // each event's domain-scoped deliveries come before its customer-level ones.
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Gives claimed deliveries back untouched (a stopping worker, or more than it can hold). */
export async function releaseClaims(db: Db, workerId: string, ids: string[], now: number): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('deliveries')
    .set({ next_attempt_at: now, locked_by: null })
    .where('id', 'in', ids)
    .where('locked_by', '=', workerId)
    .where('status', '=', 'pending')
    .execute();
}

export async function loadPayloads(db: Db, eventIds: string[]): Promise<Map<string, string>> {
  const rows = await db.selectFrom('events').select(['id', 'payload']).where('id', 'in', [...new Set(eventIds)]).execute();
  return new Map(rows.map((r) => [r.id, r.payload]));
}

export type DeliveryTarget = Pick<WebhookRow, 'id' | 'url' | 'secret_enc' | 'is_active'>;

export async function loadTargets(db: Db, webhookIds: string[]): Promise<Map<string, DeliveryTarget>> {
  const rows = await db.selectFrom('webhooks').select(['id', 'url', 'secret_enc', 'is_active']).where('id', 'in', [...new Set(webhookIds)]).execute();
  return new Map(rows.map((r) => [r.id, r]));
}

/** What one attempt, or one decision not to attempt, did to a delivery. */
export type Completion = {
  deliveryId: string;
  webhookId: string;
  status: DeliveryStatus;
  /** For status 'pending': when to try again. */
  nextAttemptAt: number;
  attempts: number;
  /** Absent when nothing was sent (the webhook was gone or switched off). */
  attempt?: AttemptRow;
  /** The endpoint's health after this attempt. */
  health?: 'ok' | 'failing' | 'gone';
};

export type CompletionResult = { disabled: string[] };

/**
 * Records a batch of outcomes in one transaction: the attempts, the deliveries' new state,
 * and the endpoints' health (cleared on success, failing_since stamped on failure, disabled
 * after a 410 or after failing for the whole disable window).
 */
export async function complete(
  database: Database,
  workerId: string,
  completions: Completion[],
  opts: { now: number; disableAfterMs: number },
): Promise<CompletionResult> {
  const { db, dialect } = database;
  return db.transaction().execute(async (trx) => {
    const attempts = completions.flatMap((c) => (c.attempt ? [c.attempt] : []));
    for (let i = 0; i < attempts.length; i += 500) {
      await trx
        .insertInto('attempts')
        .values(attempts.slice(i, i + 500))
        .onConflict((oc) => oc.columns(['delivery_id', 'attempt']).doNothing())
        .execute();
    }
    if (dialect === 'postgres') await updateDeliveriesPg(trx, workerId, completions, opts.now);
    else {
      for (const c of completions) {
        await trx
          .updateTable('deliveries')
          .set({
            status: c.status,
            attempts: c.attempts,
            next_attempt_at: c.nextAttemptAt,
            locked_by: null,
            last_status_code: c.attempt?.status_code ?? null,
            last_error: c.attempt?.error ?? null,
            updated_at: opts.now,
          })
          .where('id', '=', c.deliveryId)
          .where('locked_by', '=', workerId)
          .where('status', '=', 'pending')
          .execute();
      }
    }
    return updateHealth(trx, completions, opts);
  });
}

/** One statement for the whole batch: arrays in, unnest() joined on id. */
async function updateDeliveriesPg(db: Db, workerId: string, cs: Completion[], now: number) {
  if (cs.length === 0) return;
  await sql`
    UPDATE deliveries AS d SET
      status = v.status, attempts = v.attempts, next_attempt_at = v.next_at, locked_by = NULL,
      last_status_code = v.code, last_error = v.err, updated_at = ${now}
    FROM unnest(${cs.map((c) => c.deliveryId)}::text[], ${cs.map((c) => c.status)}::text[],
                ${cs.map((c) => c.attempts)}::int[], ${cs.map((c) => c.nextAttemptAt)}::bigint[],
                ${cs.map((c) => c.attempt?.status_code ?? null)}::int[], ${cs.map((c) => c.attempt?.error ?? null)}::text[])
      AS v(id, status, attempts, next_at, code, err)
    WHERE d.id = v.id AND d.locked_by = ${workerId} AND d.status = 'pending'`.execute(db);
}

async function updateHealth(db: Db, cs: Completion[], opts: { now: number; disableAfterMs: number }): Promise<CompletionResult> {
  const ids = (h: Completion['health']) => [...new Set(cs.filter((c) => c.health === h).map((c) => c.webhookId))];
  const ok = ids('ok');
  const failing = ids('failing').filter((id) => !ok.includes(id));
  const gone = ids('gone');
  if (ok.length) {
    await db.updateTable('webhooks').set({ failing_since: null }).where('id', 'in', ok).where('failing_since', 'is not', null).execute();
  }
  const disabled: string[] = [];
  if (failing.length) {
    const since = Math.min(...cs.filter((c) => c.health === 'failing').map((c) => c.attempt?.started_at ?? opts.now));
    await db.updateTable('webhooks').set({ failing_since: since }).where('id', 'in', failing).where('failing_since', 'is', null).execute();
    const expired = await db
      .selectFrom('webhooks')
      .select('id')
      .where('id', 'in', failing)
      .where('is_active', '=', 1)
      .where('failing_since', '<=', opts.now - opts.disableAfterMs)
      .execute();
    await disable(db, expired.map((r) => r.id), `every delivery attempt failed for ${spanOf(opts.disableAfterMs)}`, opts.now);
    disabled.push(...expired.map((r) => r.id));
  }
  if (gone.length) {
    await disable(db, gone, 'the endpoint answered 410 Gone', opts.now);
    disabled.push(...gone);
  }
  return { disabled };
}

/** 432000000 → "5 days", 90 minutes → "1.5 hours", 500 → "500 ms": never "0 days". */
export function spanOf(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, name] of units) {
    if (ms >= size) {
      const n = Math.round((ms / size) * 10) / 10;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${ms} ms`;
}

async function disable(db: Db, webhookIds: string[], reason: string, now: number) {
  if (webhookIds.length === 0) return;
  await db.updateTable('webhooks').set({ is_active: 0, disabled_reason: reason, updated_at: now }).where('id', 'in', webhookIds).where('is_active', '=', 1).execute();
  await db
    .updateTable('deliveries')
    .set({ status: 'cancelled', locked_by: null, updated_at: now })
    .where('webhook_id', 'in', webhookIds)
    .where('status', '=', 'pending')
    .execute();
}
