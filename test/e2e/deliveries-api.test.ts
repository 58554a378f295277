import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TestReceiver } from '../helpers/receiver.ts';
import type { TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { bodyOf, createWebhook, deliveryWhere, event, ingestOk, listDeliveries, startE2E, verifyBoth, withEmail } from './harness.ts';

describe.each(STORES)('seeing and mending deliveries (%s)', (kind) => {
  let svc: TestService;
  let receiver: TestReceiver;
  /** email_ids the receiver refuses (500); with a schedule of 1 h their deliveries stay pending. */
  const refuse = new Set<string>();

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    receiver.respond = (r) => (refuse.has(bodyOf(r).email_id) ? { status: 500, body: 'not now' } : { status: 200, body: 'ok' });
    svc = await startE2E(kind, { RETRY_SCHEDULE: '1h' });
  });
  afterAll(async () => {
    await receiver?.close();
    await svc?.close();
  });

  /** A customer of its own with one webhook at `path`, and `n` events sent to it, in order. */
  async function setup(path: string, n: number, refused: number[] = []) {
    const customer = await svc.newCustomer('business');
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}${path}`, events: ['email.delivered', 'email.opened'] });
    const events = Array.from({ length: n }, (_, i) => event(customer.id, i % 2 ? 'email.opened' : 'email.delivered'));
    for (const i of refused) refuse.add(events[i].email_id);
    const eventIds: string[] = [];
    for (const e of events) eventIds.push((await ingestOk(svc, e)).events[0].event_id);
    await receiver.waitFor(n, path);
    // Every first attempt is recorded before the list is read.
    await eventually(
      async () => (await listDeliveries(svc, customer.key, hook.id, '?limit=200')).body.data,
      (l: any[]) => l.length === n && l.every((d) => d.attempts.length >= 1 && (d.status === 'succeeded' || d.next_attempt_at !== null)),
    );
    return { customer, hook, events, eventIds };
  }

  it('lists deliveries newest first with their attempts', async () => {
    const { customer, hook, events, eventIds } = await setup('/list', 5, [3]);
    const res = await listDeliveries(svc, customer.key, hook.id);
    expect(res.status).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    const data = res.body.data;
    expect(data.map((d: any) => d.event_id)).toEqual([...eventIds].reverse());
    expect(data.map((d: any) => d.event)).toEqual(events.map((e) => e.event).reverse());
    const refused = data[1];
    expect(refused).toMatchObject({ status: 'pending', attempt_count: 1 });
    expect(Date.parse(refused.next_attempt_at)).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(refused.attempts).toEqual([
      { attempt: 1, started_at: expect.any(String), duration_ms: expect.any(Number), status_code: 500, error: 'http_status', response_excerpt: 'not now' },
    ]);
    expect(data[0]).toMatchObject({ status: 'succeeded', next_attempt_at: null, attempts: [{ attempt: 1, status_code: 200, error: null, response_excerpt: 'ok' }] });
    // The delivery id is the webhook-id the receiver saw.
    const seen = withEmail(receiver.received, events[3].email_id)[0];
    expect(seen.headers['webhook-id']).toBe(refused.id);
  });

  it('filters by status', async () => {
    const { customer, hook, eventIds } = await setup('/filter', 6, [1, 4]);
    const by = async (status: string) => (await listDeliveries(svc, customer.key, hook.id, `?status=${status}`)).body.data.map((d: any) => d.event_id);
    expect(await by('pending')).toEqual([eventIds[4], eventIds[1]]);
    expect(await by('succeeded')).toEqual([eventIds[5], eventIds[3], eventIds[2], eventIds[0]]);
    expect(await by('failed')).toEqual([]);
    expect(await by('cancelled')).toEqual([]);
    expect((await listDeliveries(svc, customer.key, hook.id, '?status=lost')).status).toBe(400);
  });

  it('pages through every delivery with limit and next_cursor, without repeats', async () => {
    const { customer, hook, eventIds } = await setup('/pages', 7);
    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const res = await listDeliveries(svc, customer.key, hook.id, `?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      sizes.push(res.body.data.length);
      seen.push(...res.body.data.map((d: any) => d.event_id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(sizes).toEqual([3, 3, 1]);
    expect(seen).toEqual([...eventIds].reverse());
    // Paging within a status filter too.
    const first = await listDeliveries(svc, customer.key, hook.id, '?status=succeeded&limit=6');
    expect(first.body.data).toHaveLength(6);
    const rest = await listDeliveries(svc, customer.key, hook.id, `?status=succeeded&limit=6&cursor=${first.body.next_cursor}`);
    expect(rest.body.data.map((d: any) => d.event_id)).toEqual([eventIds[0]]);
    expect(rest.body.next_cursor).toBeNull();
  });

  it.each(['0', '201', '-1', 'abc', '1.5', ''])('answers 400 for limit=%j', async (limit) => {
    const customer = await svc.newCustomer('starter');
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/limits`, events: ['email.delivered'] });
    const res = await listDeliveries(svc, customer.key, hook.id, `?limit=${limit}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('bad_request');
  });

  it('answers 400 for a cursor it never gave out and 404 for a webhook not the caller’s', async () => {
    const a = await svc.newCustomer('starter');
    const b = await svc.newCustomer('starter');
    const hook = await createWebhook(svc, a.key, { url: `${receiver.url}/mine`, events: ['email.delivered'] });
    expect((await listDeliveries(svc, a.key, hook.id, '?cursor=zzz')).status).toBe(400);
    expect((await listDeliveries(svc, b.key, hook.id)).status).toBe(404);
    expect((await listDeliveries(svc, a.key, '00000000-0000-7000-8000-000000000000')).status).toBe(404);
  });

  it('sends a delivery again now on retry, with the same webhook-id and the next attempt number', async () => {
    const { customer, hook, events } = await setup('/retry', 2, [0]);
    const pending = await deliveryWhere(svc, customer.key, hook.id, (d) => d.status === 'pending');
    refuse.delete(events[0].email_id);
    const res = await svc.customer(customer.key, 'POST', `/api/v1/customer/webhooks/${hook.id}/deliveries/${pending.id}/retry`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: pending.id, status: 'pending' });
    await eventually(() => withEmail(receiver.received, events[0].email_id).length, (n) => n === 2);
    const [first, again] = withEmail(receiver.received, events[0].email_id);
    expect(again.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(again.headers['x-webhook-attempt']).toBe('2');
    verifyBoth(hook.secret, again);
    const done = await deliveryWhere(svc, customer.key, hook.id, (d) => d.id === pending.id && d.status === 'succeeded');
    expect(done.attempts.map((a: any) => [a.attempt, a.status_code])).toEqual([
      [1, 500],
      [2, 200],
    ]);

    // A succeeded one can be sent again as well.
    const ok = await deliveryWhere(svc, customer.key, hook.id, (d) => d.id !== pending.id);
    await svc.customer(customer.key, 'POST', `/api/v1/customer/webhooks/${hook.id}/deliveries/${ok.id}/retry`);
    await eventually(() => withEmail(receiver.received, events[1].email_id).length, (n) => n === 2);
    expect(withEmail(receiver.received, events[1].email_id)[1].headers['x-webhook-attempt']).toBe('2');
  });

  it('answers 409 to a retry of a delivery that is being sent right now', async () => {
    const customer = await svc.newCustomer('starter');
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/inflight`, events: ['email.delivered'] });
    const e = event(customer.id);
    const respond = receiver.respond;
    receiver.respond = (r) => (r.path === '/inflight' ? { status: 200, delayMs: 1500 } : respond(r));
    try {
      await ingestOk(svc, e);
      await receiver.waitFor(1, '/inflight');
      const d = (await listDeliveries(svc, customer.key, hook.id)).body.data[0];
      expect(d.status).toBe('pending');
      const res = await svc.customer(customer.key, 'POST', `/api/v1/customer/webhooks/${hook.id}/deliveries/${d.id}/retry`);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('conflict');
      await deliveryWhere(svc, customer.key, hook.id, (x) => x.status === 'succeeded');
    } finally {
      receiver.respond = respond;
    }
  });

  it('answers 404 to a retry of an unknown delivery or one of another webhook', async () => {
    const { customer, hook } = await setup('/retry404', 1);
    const other = await createWebhook(svc, customer.key, { url: `${receiver.url}/retry404-other`, events: ['email.sent'] });
    const d = (await listDeliveries(svc, customer.key, hook.id)).body.data[0];
    const retry = (webhookId: string, deliveryId: string, key = customer.key) =>
      svc.customer(key, 'POST', `/api/v1/customer/webhooks/${webhookId}/deliveries/${deliveryId}/retry`);
    expect((await retry(hook.id, '00000000-0000-7000-8000-000000000000')).status).toBe(404);
    expect((await retry(hook.id, 'nope')).status).toBe(404);
    expect((await retry(other.id, d.id)).status).toBe(404);
    const stranger = await svc.newCustomer('starter');
    expect((await retry(hook.id, d.id, stranger.key)).status).toBe(404);
  });

  it('cancels pending deliveries when the webhook is set inactive, and never sends them', async () => {
    const { customer, hook, events } = await setup('/deactivate', 3, [0, 2]);
    refuse.delete(events[0].email_id);
    refuse.delete(events[2].email_id);
    const put = await svc.customer(customer.key, 'PUT', `/api/v1/customer/webhooks/${hook.id}`, { is_active: false });
    expect(put.body.is_active).toBe(false);
    const cancelled = (await listDeliveries(svc, customer.key, hook.id, '?status=cancelled')).body.data;
    expect(cancelled).toHaveLength(2);
    expect(cancelled.every((d: any) => d.next_attempt_at === null && d.attempts.length === 1)).toBe(true);
    expect((await listDeliveries(svc, customer.key, hook.id, '?status=pending')).body.data).toEqual([]);
    // A retry asks for the webhook to be switched on first.
    const retry = await svc.customer(customer.key, 'POST', `/api/v1/customer/webhooks/${hook.id}/deliveries/${cancelled[0].id}/retry`);
    expect(retry.status).toBe(409);

    // Switched back on, new events flow, and the cancelled ones stay unsent.
    await svc.customer(customer.key, 'PUT', `/api/v1/customer/webhooks/${hook.id}`, { is_active: true });
    const sentinel = event(customer.id);
    await ingestOk(svc, sentinel);
    await eventually(() => withEmail(receiver.received, sentinel.email_id).length, (n) => n === 1);
    expect(withEmail(receiver.received, events[0].email_id)).toHaveLength(1);
    expect(withEmail(receiver.received, events[2].email_id)).toHaveLength(1);
    expect((await listDeliveries(svc, customer.key, hook.id, '?status=cancelled')).body.data).toHaveLength(2);
  });

  it('cancels pending deliveries when the webhook is deleted, and never sends them', async () => {
    const { customer, hook, events } = await setup('/delete', 2, [0, 1]);
    const keep = await createWebhook(svc, customer.key, { url: `${receiver.url}/delete-sentinel`, events: ['email.delivered'] });
    for (const e of events) refuse.delete(e.email_id);
    const del = await svc.customer(customer.key, 'DELETE', `/api/v1/customer/webhooks/${hook.id}`);
    expect(del.status).toBe(204);
    expect((await listDeliveries(svc, customer.key, hook.id)).status).toBe(404);
    const rows = await svc.ctx.database.db.selectFrom('deliveries').select('status').where('webhook_id', '=', hook.id).execute();
    expect(rows.map((r) => r.status)).toEqual(['cancelled', 'cancelled']);
    const sentinel = event(customer.id);
    await ingestOk(svc, sentinel);
    await eventually(() => withEmail(receiver.received, sentinel.email_id).map((r) => r.path), (p) => p.includes('/delete-sentinel'));
    expect(withEmail(receiver.received, sentinel.email_id).map((r) => r.path)).toEqual(['/delete-sentinel']);
    for (const e of events) expect(withEmail(receiver.received, e.email_id)).toHaveLength(1);
    expect(keep.id).not.toBe(hook.id);
  });
});
