import { AppError, notFound } from '../domain/errors.ts';
import { isUuid, newId } from '../domain/ids.ts';
import { classify, prepare, send } from '../delivery/dispatch.ts';
import type { DeliveryStatus } from '../store/tables.ts';
import type { ServiceContext } from './context.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

async function ownWebhook(ctx: ServiceContext, customerId: string, webhookId: string) {
  const row = isUuid(webhookId)
    ? await ctx.database.db.selectFrom('webhooks').selectAll().where('id', '=', webhookId).where('customer_id', '=', customerId).executeTakeFirst()
    : undefined;
  if (!row) throw notFound('webhook');
  return row;
}

/** Newest first, `limit` at a time; `cursor` is the last id of the previous page. */
export async function listDeliveries(
  ctx: ServiceContext,
  customerId: string,
  webhookId: string,
  opts: { status?: DeliveryStatus; limit: number; cursor?: string },
) {
  await ownWebhook(ctx, customerId, webhookId);
  const { db } = ctx.database;
  if (opts.cursor !== undefined && !isUuid(opts.cursor)) throw new AppError('bad_request', 'cursor is not one this API gave out');
  let q = db.selectFrom('deliveries').selectAll().where('webhook_id', '=', webhookId).orderBy('id', 'desc').limit(opts.limit + 1);
  if (opts.status) q = q.where('status', '=', opts.status);
  if (opts.cursor) q = q.where('id', '<', opts.cursor);
  const rows = await q.execute();
  const page = rows.slice(0, opts.limit);
  const attempts = page.length
    ? await db.selectFrom('attempts').selectAll().where('delivery_id', 'in', page.map((d) => d.id)).orderBy('attempt').execute()
    : [];
  const byDelivery = new Map<string, typeof attempts>();
  for (const a of attempts) byDelivery.set(a.delivery_id, [...(byDelivery.get(a.delivery_id) ?? []), a]);
  return {
    data: page.map((d) => ({
      id: d.id,
      event_id: d.event_id,
      event: d.event_type,
      status: d.status,
      attempt_count: d.attempts,
      // While a worker holds the delivery, next_attempt_at is the end of its lease.
      next_attempt_at: d.status === 'pending' ? iso(d.next_attempt_at) : null,
      created_at: iso(d.created_at)!,
      updated_at: iso(d.updated_at)!,
      attempts: (byDelivery.get(d.id) ?? []).map((a) => ({
        attempt: a.attempt,
        started_at: iso(a.started_at)!,
        duration_ms: a.duration_ms,
        status_code: a.status_code,
        error: a.error,
        response_excerpt: a.response_excerpt,
      })),
    })),
    next_cursor: rows.length > opts.limit ? page[page.length - 1].id : null,
  };
}

/** Puts a delivery back at the head of the queue, whatever its state, unless one is in flight. */
export async function retryDelivery(ctx: ServiceContext, customerId: string, webhookId: string, deliveryId: string) {
  const hook = await ownWebhook(ctx, customerId, webhookId);
  if (hook.is_active !== 1) throw new AppError('conflict', 'the webhook is inactive; set is_active to true first');
  const { db } = ctx.database;
  const now = Date.now();
  const row = isUuid(deliveryId)
    ? await db.selectFrom('deliveries').select(['id']).where('id', '=', deliveryId).where('webhook_id', '=', webhookId).executeTakeFirst()
    : undefined;
  if (!row) throw notFound('delivery');
  // One conditional statement: a worker claiming the row between a check and an update
  // would otherwise have its outcome overwritten and the delivery sent twice. A lease that
  // has run out (its worker died) no longer counts as in flight.
  const result = await db
    .updateTable('deliveries')
    .set({ status: 'pending', next_attempt_at: now, locked_by: null, updated_at: now })
    .where('id', '=', deliveryId)
    .where((eb) => eb.not(eb.and([eb('status', '=', 'pending'), eb('locked_by', 'is not', null), eb('next_attempt_at', '>', now)])))
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) throw new AppError('conflict', 'this delivery is being sent right now');
  ctx.wake();
  return { id: deliveryId, status: 'pending' as const, next_attempt_at: iso(now) };
}

/**
 * Sends the product document's test event now, signed with the current secret, and answers
 * with what the endpoint did. Works on inactive webhooks too: that is how a customer checks
 * a fix before switching one back on. It is not queued and not retried.
 */
export async function sendTestEvent(ctx: ServiceContext, customerId: string, webhookId: string) {
  const hook = await ownWebhook(ctx, customerId, webhookId);
  const now = Date.now();
  const body = JSON.stringify({
    event: 'test',
    timestamp: new Date(now).toISOString(),
    customer_id: customerId,
    message: 'Test webhook from MailerLogic',
  });
  const messageId = `test_${newId()}`;
  const req = prepare({ url: hook.url, secret: ctx.secretBox.decrypt(hook.secret_enc), messageId, eventType: 'test', attempt: 1, body, now });
  const result = await send(ctx.httpClient, req, ctx.allowPrivateNetworks);
  const verdict = classify(result, 1, ctx.retryScheduleMs);
  return {
    id: messageId,
    delivered: verdict.kind === 'delivered',
    status_code: verdict.record.statusCode,
    duration_ms: verdict.record.durationMs,
    error: verdict.record.error,
    response_excerpt: verdict.record.excerpt,
  };
}
