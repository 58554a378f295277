import { sql, type RawBuilder } from 'kysely';
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
  /** The event's body, where the claim read it too (PostgreSQL; null if the event is gone); otherwise see loadPayloads. */
  payload?: string | null;
};

export async function claimDue(
  database: Database,
  opts: { workerId: string; now: number; leaseMs: number; limit: number; perWebhook: number; skipWebhookIds: string[] },
): Promise<ClaimedDelivery[]> {
  const { queue } = database;
  if (!database.capabilities.skipLocked) return claimDueAlone(queue, opts);
  const skip = opts.skipWebhookIds.length ? sql`AND webhook_id NOT IN (${sql.join(opts.skipWebhookIds)})` : sql``;
  // Several workers claim at once on PostgreSQL: each skips the rows another is taking.
  // The head of the queue, at most `perWebhook` rows per webhook: a backlog of one endpoint
  // cannot fill a claim and crowd out the others. PostgreSQL re-checks each row of the head
  // as it locks it (one another worker claimed meanwhile no longer qualifies and drops out),
  // so the update joins them by primary key. The queue's sessions read the head in index
  // order (QUEUE_SESSION in database.ts).
  const picked = sql`
    WITH head AS (
      SELECT id, webhook_id, next_attempt_at FROM deliveries
      WHERE status = 'pending' AND next_attempt_at <= ${opts.now} ${skip}
      ORDER BY next_attempt_at, id
      LIMIT ${opts.limit * 4}
      FOR UPDATE SKIP LOCKED
    ), picked AS (
      SELECT id FROM (
        SELECT id, next_attempt_at, row_number() OVER (PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS rn FROM head
      ) ranked
      WHERE rn <= ${opts.perWebhook}
      ORDER BY next_attempt_at, id
      LIMIT ${opts.limit}
    )`;
  return claimPicked(queue, opts, picked);
}

/**
 * The same claim where one process holds the database (SQLite): the head is read and the
 * per-webhook cap applied here, which costs a third of SQLite ranking it with a window
 * function. The update re-checks status and time, so a row that changed between the two
 * statements (a manual retry, a cancellation) drops out instead of being claimed.
 */
async function claimDueAlone(db: Db, opts: Parameters<typeof claimDue>[1]): Promise<ClaimedDelivery[]> {
  // Left out before the limit, as on PostgreSQL: a saturated webhook's backlog at the head
  // must not use up the rows read. The literal 'pending' (not a parameter) lets SQLite use
  // the partial index of due deliveries.
  const skip = opts.skipWebhookIds.length ? sql`AND webhook_id NOT IN (SELECT value FROM json_each(${JSON.stringify(opts.skipWebhookIds)}))` : sql``;
  const { rows: head } = await sql<{ id: string; webhook_id: string }>`
    SELECT id, webhook_id FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= ${opts.now} ${skip}
    ORDER BY next_attempt_at, id
    LIMIT ${opts.limit * 4}`.execute(db);
  const perWebhook = new Map<string, number>();
  const picked: string[] = [];
  for (const { id, webhook_id } of head) {
    const n = perWebhook.get(webhook_id) ?? 0;
    if (n >= opts.perWebhook) continue;
    perWebhook.set(webhook_id, n + 1);
    picked.push(id);
    if (picked.length >= opts.limit) break;
  }
  if (picked.length === 0) return [];
  return markClaimed(db, opts, picked);
}

/**
 * PostgreSQL: leases the rows that `withPicked` (a WITH clause ending in `picked(id)`) locked,
 * and returns them with their events' bodies (null if the event is gone).
 */
async function claimPicked(queue: Db, opts: { workerId: string; now: number; leaseMs: number }, withPicked: RawBuilder<unknown>): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<ClaimedDelivery>`
    ${withPicked}
    UPDATE deliveries AS d SET next_attempt_at = ${opts.now + opts.leaseMs}, locked_by = ${opts.workerId}
    FROM picked WHERE d.id = picked.id
    RETURNING d.id, d.event_id, d.webhook_id, d.event_type, d.attempts, (SELECT payload FROM events WHERE id = d.event_id) AS payload`.execute(queue);
  return inQueueOrder(rows);
}

// RETURNING has no order; ids are time-ordered, so this restores queue order, in which each
// event's domain-scoped deliveries come before its customer-level ones.
const inQueueOrder = (rows: ClaimedDelivery[]) => rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/**
 * The next due deliveries of the given webhooks, at most `perWebhook` each and `limit` in
 * all: for a worker whose lanes for them have room again. An index seek per webhook, so a
 * refill costs the same however long the other webhooks' backlogs are.
 */
export async function claimForWebhooks(
  database: Database,
  opts: { workerId: string; now: number; leaseMs: number; limit: number; perWebhook: number; webhookIds: string[] },
): Promise<ClaimedDelivery[]> {
  if (opts.webhookIds.length === 0 || opts.limit <= 0) return [];
  const { queue } = database;
  if (database.capabilities.skipLocked) {
    // As in claimDue: the rows are re-checked as they are locked, then updated by primary key.
    const picked = sql`
      WITH picked AS (
        SELECT d.id FROM unnest(${opts.webhookIds}::text[]) AS w(id)
        CROSS JOIN LATERAL (
          SELECT id, next_attempt_at FROM deliveries
          WHERE webhook_id = w.id AND status = 'pending' AND next_attempt_at <= ${opts.now}
          ORDER BY next_attempt_at, id
          LIMIT ${opts.perWebhook}
          FOR UPDATE SKIP LOCKED
        ) d
        ORDER BY d.next_attempt_at, d.id
        LIMIT ${opts.limit}
      )`;
    return claimPicked(queue, opts, picked);
  }
  const picked: { id: string; at: number }[] = [];
  for (const webhookId of opts.webhookIds) {
    const { rows } = await sql<{ id: string; next_attempt_at: number }>`
      SELECT id, next_attempt_at FROM deliveries
      WHERE webhook_id = ${webhookId} AND status = 'pending' AND next_attempt_at <= ${opts.now}
      ORDER BY next_attempt_at, id
      LIMIT ${opts.perWebhook}`.execute(queue);
    for (const r of rows) picked.push({ id: r.id, at: r.next_attempt_at });
  }
  if (picked.length === 0) return [];
  picked.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return markClaimed(queue, opts, picked.slice(0, opts.limit).map((p) => p.id));
}

async function markClaimed(db: Db, opts: { workerId: string; now: number; leaseMs: number }, ids: string[]): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<ClaimedDelivery>`
    UPDATE deliveries SET next_attempt_at = ${opts.now + opts.leaseMs}, locked_by = ${opts.workerId}
    WHERE id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))
    AND status = 'pending' AND next_attempt_at <= ${opts.now}
    RETURNING id, event_id, webhook_id, event_type, attempts`.execute(db);
  return inQueueOrder(rows);
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

/**
 * The webhooks, as they are now, of the deliveries this worker still holds (keyed by
 * delivery): one cancelled meanwhile, or taken up by another worker after this one's lease
 * ran out, is left out. locked_by alone tells: a row leaves 'pending' only with it cleared
 * (and a status test would lead PostgreSQL's planner to the due index, see recordPg).
 */
export async function loadHeldTargets(db: Db, workerId: string, deliveryIds: string[]): Promise<Map<string, DeliveryTarget>> {
  const rows = await db
    .selectFrom('deliveries as d')
    .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
    .select(['d.id as delivery_id', 'w.id', 'w.url', 'w.secret_enc', 'w.is_active'])
    .where('d.id', 'in', deliveryIds)
    .where('d.locked_by', '=', workerId)
    .execute();
  return new Map(rows.map(({ delivery_id, ...target }) => [delivery_id, target]));
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
  const { queue, dialect } = database;
  const attempts = completions.flatMap((c) => (c.attempt ? [c.attempt] : []));
  if (dialect === 'postgres' && completions.every((c) => c.health !== 'failing' && c.health !== 'gone')) {
    // The usual batch (successes, cancellations): one statement, atomic by itself.
    const healthy = [...new Set(completions.filter((c) => c.health === 'ok').map((c) => c.webhookId))];
    await recordPg(queue, workerId, completions, attempts, healthy, opts.now);
    return { disabled: [] };
  }
  return queue.transaction().execute(async (trx) => {
    if (dialect === 'postgres') await recordPg(trx, workerId, completions, attempts, [], opts.now);
    else {
      await insertAttemptsSqlite(trx, attempts);
      await updateDeliveriesSqlite(trx, workerId, completions, opts.now);
    }
    return updateHealth(trx, completions, opts);
  });
}

// Batches go in as one parameter each (arrays on PostgreSQL, a JSON array on SQLite): one
// statement of constant text per batch, however large, prepared once and planned once.

/**
 * The attempts, the deliveries' new state and (for `healthy`) the end of their webhooks'
 * failing streak, in one statement: arrays in, unnest() joined on id. The deliveries are
 * matched on locked_by alone: a row leaves 'pending' only with locked_by cleared, so it
 * implies the status, and a status test would let the planner read every pending row
 * through the due index instead of seeking the ids (it did, with lagging statistics).
 */
async function recordPg(db: Db, workerId: string, cs: Completion[], as: AttemptRow[], healthy: string[], now: number) {
  await sql`
    WITH recorded AS (
      INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_excerpt)
      SELECT * FROM unnest(${as.map((a) => a.delivery_id)}::text[], ${as.map((a) => a.attempt)}::int[],
                           ${as.map((a) => a.started_at)}::bigint[], ${as.map((a) => a.duration_ms)}::int[],
                           ${as.map((a) => a.status_code)}::int[], ${as.map((a) => a.error)}::text[],
                           ${as.map((a) => a.response_excerpt)}::text[])
      ON CONFLICT (delivery_id, attempt) DO NOTHING
    ), moved AS (
      UPDATE deliveries AS d SET
        status = v.status, attempts = v.attempts, next_attempt_at = v.next_at, locked_by = NULL,
        last_status_code = v.code, last_error = v.err, updated_at = ${now}
      FROM unnest(${cs.map((c) => c.deliveryId)}::text[], ${cs.map((c) => c.status)}::text[],
                  ${cs.map((c) => c.attempts)}::int[], ${cs.map((c) => c.nextAttemptAt)}::bigint[],
                  ${cs.map((c) => c.attempt?.status_code ?? null)}::int[], ${cs.map((c) => c.attempt?.error ?? null)}::text[])
        AS v(id, status, attempts, next_at, code, err)
      WHERE d.id = v.id AND d.locked_by = ${workerId}
    )
    UPDATE webhooks SET failing_since = NULL WHERE id = ANY(${healthy}::text[]) AND failing_since IS NOT NULL`.execute(db);
}

async function insertAttemptsSqlite(db: Db, as: AttemptRow[]) {
  if (as.length === 0) return;
  const rows = JSON.stringify(as.map((a) => [a.delivery_id, a.attempt, a.started_at, a.duration_ms, a.status_code, a.error, a.response_excerpt]));
  // WHERE true: without it SQLite would read ON CONFLICT as part of the SELECT's join.
  await sql`
    INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_excerpt)
    SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 FROM json_each(${rows}) WHERE true
    ON CONFLICT (delivery_id, attempt) DO NOTHING`.execute(db);
}

async function updateDeliveriesSqlite(db: Db, workerId: string, cs: Completion[], now: number) {
  if (cs.length === 0) return;
  const rows = JSON.stringify(cs.map((c) => [c.deliveryId, c.status, c.attempts, c.nextAttemptAt, c.attempt?.status_code ?? null, c.attempt?.error ?? null]));
  // json_each has a column named id: the deliveries columns are qualified.
  await sql`
    UPDATE deliveries SET
      status = v.value->>1, attempts = v.value->>2, next_attempt_at = v.value->>3, locked_by = NULL,
      last_status_code = v.value->>4, last_error = v.value->>5, updated_at = ${now}
    FROM json_each(${rows}) AS v
    WHERE deliveries.id = v.value->>0 AND deliveries.locked_by = ${workerId} AND deliveries.status = 'pending'`.execute(db);
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
