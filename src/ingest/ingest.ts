import { AppError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import type { Database } from '../store/database.ts';
import type { DeliveryRow, EventRow } from '../store/tables.ts';
import { MAX_BATCH, validateEvent, type EventError, type ValidEvent } from './validate-event.ts';

export type IngestResult = {
  accepted: number;
  duplicates: number;
  deliveries: number;
  events: { index: number; id: string | null; event_id: string | null; status: 'accepted' | 'duplicate' }[];
  /** The webhooks that got deliveries: what to wake the workers for. Not part of the answer. */
  webhookIds: string[];
};

/**
 * Stores a batch of events and its fan-out in one transaction, so a 202 means both are on
 * disk: a crash after it loses nothing, a crash before it stored nothing (and the sender
 * retries; repeated ids are accepted once). The batch is all or nothing: one bad event
 * refuses the batch with every problem listed, and nothing of it is stored.
 */
export async function ingestEvents(database: Database, rawEvents: unknown[], now = Date.now()): Promise<IngestResult> {
  if (rawEvents.length === 0) throw new AppError('validation_failed', 'events must not be empty');
  if (rawEvents.length > MAX_BATCH) throw new AppError('payload_too_large', `at most ${MAX_BATCH} events per request`, { max: MAX_BATCH });
  const at = new Date(now);
  const valid: ValidEvent[] = [];
  const positions: number[] = [];
  const errors: EventError[] = [];
  rawEvents.forEach((raw, i) => {
    const r = validateEvent(raw, i, at);
    if ('field' in r) errors.push(r);
    else {
      valid.push(r);
      positions.push(i);
    }
  });
  const { db } = database;
  const customerIds = [...new Set(valid.map((e) => e.customerId))];
  const known = customerIds.length
    ? new Set((await db.selectFrom('customers').select('id').where('id', 'in', customerIds).execute()).map((c) => c.id))
    : new Set<string>();
  // A domain_id must be one of the customer's own domains: routing by another customer's
  // domain would be a mistake upstream, and its id would land in this customer's payloads.
  const domainIds = [...new Set(valid.flatMap((e) => (e.domainId ? [e.domainId] : [])))];
  const domainOwner = new Map(
    domainIds.length
      ? (await db.selectFrom('domains').select(['id', 'customer_id']).where('id', 'in', domainIds).execute()).map((d) => [d.id, d.customer_id] as const)
      : [],
  );
  valid.forEach((e, i) => {
    if (known.has(e.customerId) && e.domainId && domainOwner.get(e.domainId) !== e.customerId) {
      errors.push({ index: positions[i], ...(e.externalId ? { id: e.externalId } : {}), field: 'domain_id', message: "is not one of this customer's domains" });
    }
  });
  valid.forEach((e, i) => {
    if (!known.has(e.customerId)) errors.push({ index: positions[i], ...(e.externalId ? { id: e.externalId } : {}), field: 'customer_id', message: 'unknown customer' });
  });
  if (errors.length) {
    errors.sort((a, b) => a.index - b.index);
    throw new AppError('validation_failed', `${errors.length} of ${rawEvents.length} events are invalid; none were accepted`, errors);
  }

  return database.durableTransaction(async (trx) => {
    const rows: EventRow[] = valid.map((e) => ({
      id: newId(),
      customer_id: e.customerId,
      domain_id: e.domainId,
      external_id: e.externalId,
      event_type: e.type,
      payload: e.payload,
      created_at: now,
    }));
    const inserted = new Set<string>();
    for (let i = 0; i < rows.length; i += 500) {
      const ids = await trx
        .insertInto('events')
        .values(rows.slice(i, i + 500))
        .onConflict((oc) => oc.columns(['customer_id', 'external_id']).doNothing())
        .returning('id')
        .execute();
      for (const r of ids) inserted.add(r.id);
    }
    const fresh = rows.filter((r) => inserted.has(r.id));
    const deliveries = await fanOut(trx, fresh, now);
    for (let i = 0; i < deliveries.length; i += 500) await trx.insertInto('deliveries').values(deliveries.slice(i, i + 500)).execute();
    return {
      accepted: fresh.length,
      duplicates: rows.length - fresh.length,
      deliveries: deliveries.length,
      webhookIds: [...new Set(deliveries.map((d) => d.webhook_id))],
      events: rows.map((r, index) => ({
        index,
        id: r.external_id,
        event_id: inserted.has(r.id) ? r.id : null,
        status: inserted.has(r.id) ? ('accepted' as const) : ('duplicate' as const),
      })),
    };
  });
}

/**
 * One delivery per (event, matching active webhook). For each event, domain-scoped and
 * domain-group webhooks get their rows first: ids are time-ordered, and the queue sends in
 * id order, so they are sent before the customer-level ones.
 */
async function fanOut(db: Database['db'], events: EventRow[], now: number): Promise<DeliveryRow[]> {
  if (events.length === 0) return [];
  const customers = [...new Set(events.map((e) => e.customer_id))];
  const hooks = await db
    .selectFrom('webhooks')
    .select(['id', 'customer_id', 'events', 'domain_ids'])
    .where('customer_id', 'in', customers)
    .where('is_active', '=', 1)
    .orderBy('id')
    .execute();
  const byCustomer = new Map<string, { id: string; events: Set<string>; domains: Set<string> | null }[]>();
  for (const h of hooks) {
    const ids: string[] | null = h.domain_ids ? JSON.parse(h.domain_ids) : null;
    const list = byCustomer.get(h.customer_id) ?? [];
    list.push({ id: h.id, events: new Set(JSON.parse(h.events)), domains: ids && ids.length ? new Set(ids) : null });
    byCustomer.set(h.customer_id, list);
  }
  const rows: DeliveryRow[] = [];
  for (const event of events) {
    const candidates = (byCustomer.get(event.customer_id) ?? []).filter((h) => h.events.has(event.event_type));
    const scoped = candidates.filter((h) => h.domains !== null && event.domain_id !== null && h.domains.has(event.domain_id));
    const customerLevel = candidates.filter((h) => h.domains === null);
    for (const h of [...scoped, ...customerLevel]) {
      rows.push({
        id: newId(),
        event_id: event.id,
        webhook_id: h.id,
        customer_id: event.customer_id,
        event_type: event.event_type,
        status: 'pending',
        attempts: 0,
        next_attempt_at: now,
        locked_by: null,
        last_status_code: null,
        last_error: null,
        created_at: now,
        updated_at: now,
      });
    }
  }
  return rows;
}
