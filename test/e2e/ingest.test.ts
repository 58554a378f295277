import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TestReceiver } from '../helpers/receiver.ts';
import type { TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { bodyOf, createWebhook, event, ingestOk, listDeliveries, startE2E, withEmail } from './harness.ts';

const ALL_EVENTS = [
  'email.sent',
  'email.delivered',
  'email.opened',
  'email.clicked',
  'email.bounced',
  'email.complained',
  'email.unsubscribed',
  'email.failed',
];

describe.each(STORES)('ingest API end to end (%s)', (kind) => {
  let svc: TestService;
  let receiver: TestReceiver;
  let customer: { id: string; key: string; domains: string[] };
  let hook: { id: string };

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    svc = await startE2E(kind, { RETRY_SCHEDULE: '100ms' });
    customer = await svc.newCustomer('business', ['mail.example.com']);
    hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/in`, events: ALL_EVENTS });
  });
  afterAll(async () => {
    await receiver?.close();
    await svc?.close();
  });

  /** Sends one more event and waits for it: everything queued before it has had its turn. */
  async function sentinel(): Promise<string> {
    const e = event(customer.id);
    await ingestOk(svc, e);
    await waitEmail(e.email_id);
    return e.email_id;
  }

  async function waitEmail(emailId: string) {
    await eventually(
      () => withEmail(receiver.received, emailId).length,
      (n) => n >= 1,
    );
  }

  it('accepts a single event with 202 and a per-event status, and delivers it', async () => {
    const e = event(customer.id, 'email.opened', { id: `single-${randomUUID()}` });
    const body = await ingestOk(svc, e);
    expect(body).toMatchObject({ accepted: 1, duplicates: 0, deliveries: 1 });
    expect(body.events).toEqual([{ index: 0, id: e.id, event_id: expect.any(String), status: 'accepted' }]);
    await waitEmail(e.email_id);
    expect(bodyOf(withEmail(receiver.received, e.email_id)[0])).toMatchObject({ event: 'email.opened', email_id: e.email_id });
  });

  it('accepts a batch with 202 and one status per event in order', async () => {
    const events = [event(customer.id, 'email.sent'), event(customer.id, 'email.clicked', { id: `b-${randomUUID()}` }), event(customer.id, 'email.failed')];
    const body = await ingestOk(svc, { events });
    expect(body).toMatchObject({ accepted: 3, duplicates: 0, deliveries: 3 });
    expect(body.events.map((e: any) => [e.index, e.id, e.status])).toEqual([
      [0, null, 'accepted'],
      [1, events[1].id, 'accepted'],
      [2, null, 'accepted'],
    ]);
    for (const e of events) await waitEmail(e.email_id);
  });

  it('accepts a repeated id once and delivers it once, within a batch', async () => {
    const id = `dup-${randomUUID()}`;
    const first = event(customer.id, 'email.delivered', { id });
    const second = event(customer.id, 'email.delivered', { id });
    const body = await ingestOk(svc, { events: [first, second] });
    expect(body).toMatchObject({ accepted: 1, duplicates: 1, deliveries: 1 });
    expect(body.events.map((e: any) => e.status)).toEqual(['accepted', 'duplicate']);
    expect(body.events[1].event_id).toBeNull();
    await waitEmail(first.email_id);
    await sentinel();
    expect(withEmail(receiver.received, first.email_id)).toHaveLength(1);
    expect(withEmail(receiver.received, second.email_id)).toHaveLength(0);
  });

  it('accepts a repeated id once and delivers it once, across requests', async () => {
    const e = event(customer.id, 'email.bounced', { id: `again-${randomUUID()}` });
    const a = await ingestOk(svc, e);
    const b = await ingestOk(svc, e);
    const c = await ingestOk(svc, { events: [e] });
    expect(a.events[0].status).toBe('accepted');
    expect(b).toMatchObject({ accepted: 0, duplicates: 1, deliveries: 0 });
    expect(b.events[0]).toMatchObject({ id: e.id, event_id: null, status: 'duplicate' });
    expect(c.events[0].status).toBe('duplicate');
    await waitEmail(e.email_id);
    await sentinel();
    expect(withEmail(receiver.received, e.email_id)).toHaveLength(1);
  });

  it('treats the same id from two customers as two events', async () => {
    const other = await svc.newCustomer('starter');
    const id = `shared-${randomUUID()}`;
    const body = await ingestOk(svc, { events: [event(customer.id, 'email.sent', { id }), event(other.id, 'email.sent', { id })] });
    expect(body).toMatchObject({ accepted: 2, duplicates: 0 });
  });

  it('accepts a batch of 1,000 events and delivers every one', async () => {
    const quiet = await svc.newCustomer('starter');
    const bulk = await new TestReceiver().start();
    try {
      await createWebhook(svc, quiet.key, { url: `${bulk.url}/bulk`, events: ['email.delivered'] });
      const events = Array.from({ length: 1000 }, () => event(quiet.id));
      const body = await ingestOk(svc, { events });
      expect(body).toMatchObject({ accepted: 1000, duplicates: 0, deliveries: 1000 });
      expect(body.events).toHaveLength(1000);
      await bulk.waitFor(1000, '/bulk', 25_000);
      expect(new Set(bulk.received.map((r) => bodyOf(r).email_id)).size).toBe(1000);
    } finally {
      await bulk.close();
    }
  });

  it('refuses a batch of 1,001 events with 413 and stores none of it', async () => {
    const events = Array.from({ length: 1001 }, () => event(customer.id));
    const res = await svc.ingest({ events });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    await sentinel();
    expect(withEmail(receiver.received, events[0].email_id)).toHaveLength(0);
  });

  it('refuses an empty batch', async () => {
    const res = await svc.ingest({ events: [] });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('validation_failed');
  });

  it('refuses a whole batch with one bad event: 422 naming it, nothing stored or delivered', async () => {
    const good = [event(customer.id, 'email.delivered', { id: `aon-${randomUUID()}` }), event(customer.id, 'email.opened')];
    const bad = event(customer.id, 'email.nonsense');
    const before = (await listDeliveries(svc, customer.key, hook.id, '?limit=200')).body.data.length;
    const res = await svc.ingest({ events: [good[0], bad, good[1]] });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toEqual([expect.objectContaining({ index: 1, field: 'event', message: expect.any(String) })]);
    const s = await sentinel();
    for (const g of good) expect(withEmail(receiver.received, g.email_id)).toHaveLength(0);
    const after = (await listDeliveries(svc, customer.key, hook.id, '?limit=200')).body.data;
    expect(after.length).toBe(before + 1); // only the sentinel
    expect(withEmail(receiver.received, s)).toHaveLength(1);
    // The idempotency key of the refused batch was not consumed either.
    const again = await ingestOk(svc, good[0]);
    expect(again.events[0].status).toBe('accepted');
  });

  it('lists every bad event of a batch by index', async () => {
    const res = await svc.ingest({ events: [event(customer.id, 'email.sent', { tag: 5 }), event(customer.id), event(customer.id, 'email.sent', { email_id: 'nope' })] });
    expect(res.status).toBe(422);
    expect(res.body.error.details.map((d: any) => [d.index, d.field])).toEqual([
      [0, 'tag'],
      [2, 'email_id'],
    ]);
  });

  const bigMetadata = { blob: 'x'.repeat(16 * 1024) };
  const badInputs: [string, (customerId: string) => Record<string, unknown>, string][] = [
    ['an unknown event type', (c) => event(c, 'email.exploded'), 'event'],
    ['a missing event type', (c) => ({ customer_id: c, email_id: randomUUID() }), 'event'],
    ['a missing customer_id', () => ({ event: 'email.sent', email_id: randomUUID() }), 'customer_id'],
    ['a customer_id that is not a UUID', () => event('cust-1'), 'customer_id'],
    ['an unknown customer', () => event(randomUUID()), 'customer_id'],
    ['a missing email_id', (c) => ({ customer_id: c, event: 'email.delivered' }), 'email_id'],
    ['an email_id that is not a UUID', (c) => event(c, 'email.delivered', { email_id: '12345' }), 'email_id'],
    ['a timestamp that is not ISO 8601', (c) => event(c, 'email.sent', { timestamp: 'yesterday' }), 'timestamp'],
    ['a timestamp with no time zone', (c) => event(c, 'email.sent', { timestamp: '2026-01-18T12:34:56' }), 'timestamp'],
    ['an impossible timestamp', (c) => event(c, 'email.sent', { timestamp: '2026-13-45T12:34:56Z' }), 'timestamp'],
    ['metadata that is an array', (c) => event(c, 'email.sent', { metadata: ['a'] }), 'metadata'],
    ['metadata that is a string', (c) => event(c, 'email.sent', { metadata: 'a=b' }), 'metadata'],
    ['metadata over 16 KiB', (c) => event(c, 'email.sent', { metadata: bigMetadata }), 'metadata'],
    ['an unknown field', (c) => event(c, 'email.sent', { recipient: 'a@b.c' }), 'recipient'],
    ['a domain_id that is not a UUID', (c) => event(c, 'email.sent', { domain_id: 'example.com' }), 'domain_id'],
    ['data that is not an object', (c) => event(c, 'email.sent', { data: 'x' }), 'data'],
  ];

  it.each(badInputs)('refuses %s with 422 naming the field, alone or in a batch', async (_name, make, field) => {
    const alone = await svc.ingest(make(customer.id));
    expect(alone.status, JSON.stringify(alone.body)).toBe(422);
    expect(alone.body.error.code).toBe('validation_failed');
    expect(alone.body.error.details).toEqual([expect.objectContaining({ index: 0, field })]);

    const good = event(customer.id);
    const batch = await svc.ingest({ events: [good, make(customer.id)] });
    expect(batch.status).toBe(422);
    expect(batch.body.error.details).toEqual([expect.objectContaining({ index: 1, field })]);
    await sentinel();
    expect(withEmail(receiver.received, good.email_id)).toHaveLength(0);
  });

  it('accepts email.unsubscribed without an email_id and sends no email_id', async () => {
    const tag = `unsub-${randomUUID()}`;
    const body = await ingestOk(svc, { customer_id: customer.id, event: 'email.unsubscribed', tag, data: { recipient: 'r@example.com' } });
    expect(body.accepted).toBe(1);
    const [r] = await eventually(
      () => receiver.received.filter((x) => bodyOf(x).tag === tag),
      (l) => l.length === 1,
    );
    const sent = bodyOf(r);
    expect(sent).not.toHaveProperty('email_id');
    expect(sent).toMatchObject({ event: 'email.unsubscribed', tag, data: { recipient: 'r@example.com' } });
  });

  it('accepts a batch of one of each event type', async () => {
    const events = ALL_EVENTS.map((t) => event(customer.id, t));
    const body = await ingestOk(svc, { events });
    expect(body).toMatchObject({ accepted: 8, deliveries: 8 });
    for (const e of events.filter((x) => x.event !== 'email.unsubscribed')) await waitEmail(e.email_id);
  });

  describe('authentication', () => {
    const post = (headers: Record<string, string>) =>
      svc.app.inject({ method: 'POST', url: '/internal/v1/events', headers, payload: event(customer.id) });

    it('refuses a request without a token with 401', async () => {
      const res = await post({});
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
    });

    it('refuses a wrong ingest token with 401', async () => {
      expect((await post({ authorization: `Bearer ${svc.ingestToken}x` })).statusCode).toBe(401);
      expect((await post({ authorization: `Basic ${svc.ingestToken}` })).statusCode).toBe(401);
    });

    it('refuses the admin token with 401', async () => {
      expect((await post({ authorization: `Bearer ${svc.adminToken}` })).statusCode).toBe(401);
    });

    it('refuses a customer API key, as a bearer token or in X-API-Key, with 401', async () => {
      expect((await post({ authorization: `Bearer ${customer.key}` })).statusCode).toBe(401);
      expect((await post({ 'x-api-key': customer.key })).statusCode).toBe(401);
    });

    it('stores nothing from a refused request', async () => {
      const e = event(customer.id);
      await svc.app.inject({ method: 'POST', url: '/internal/v1/events', headers: { authorization: `Bearer ${svc.adminToken}` }, payload: e });
      await sentinel();
      expect(withEmail(receiver.received, e.email_id)).toHaveLength(0);
    });
  });
});
