import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TestReceiver, type Received } from '../helpers/receiver.ts';
import type { TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { closedPort, createWebhook, deliveryWhere, event, ingestOk, listDeliveries, startE2E, verifyBoth, withEmail } from './harness.ts';

const attemptOf = (r: Received) => Number(r.headers['x-webhook-attempt']);
const webhookOf = async (svc: TestService, key: string, id: string) => (await svc.customer(key, 'GET', `/api/v1/customer/webhooks/${id}`)).body;

describe.concurrent.each(STORES)('retries, failures and disabling (%s)', (kind) => {
  let svc: TestService;
  let receiver: TestReceiver;
  /** Answers by path; a test sets its own path's behaviour. */
  const behaviour = new Map<string, (r: Received) => { status: number; body?: string; headers?: Record<string, string> }>();

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    receiver.respond = (r) => (behaviour.get(r.path) ?? (() => ({ status: 200, body: 'ok' })))(r);
    // Four attempts in all, close together; nothing is disabled by time here.
    svc = await startE2E(kind, { RETRY_SCHEDULE: '100ms,100ms,100ms', DISABLE_AFTER: '1h' });
  });
  afterAll(async () => {
    await receiver?.close();
    await svc?.close();
  });

  /** Each test has a customer of its own, so its events reach its webhook only (tests run concurrently). */
  const hookAt = async (path: string, url = `${receiver.url}${path}`) => {
    const customer = await svc.newCustomer('starter');
    return { customer, hook: await createWebhook(svc, customer.key, { url, events: ['email.delivered'] }) };
  };

  it('retries a failing endpoint with the same webhook-id and a rising attempt number until it succeeds', async () => {
    const { customer, hook } = await hookAt('/flaky');
    const big = 'e'.repeat(3000);
    behaviour.set('/flaky', (r) => (attemptOf(r) < 3 ? { status: 500, body: big } : { status: 204 }));
    const e = event(customer.id);
    await ingestOk(svc, e);
    await receiver.waitFor(3, '/flaky');
    const got = withEmail(receiver.received, e.email_id);
    expect(got.map(attemptOf)).toEqual([1, 2, 3]);
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(1);
    for (const r of got) verifyBoth(hook.secret, r);

    const d = await deliveryWhere(svc, customer.key, hook.id, (x) => x.status === 'succeeded');
    expect(d.id).toBe(got[0].headers['webhook-id']);
    expect(d.attempt_count).toBe(3);
    expect(d.next_attempt_at).toBeNull();
    expect(d.attempts.map((a: any) => [a.attempt, a.status_code, a.error])).toEqual([
      [1, 500, 'http_status'],
      [2, 500, 'http_status'],
      [3, 204, null],
    ]);
    for (const a of d.attempts) {
      expect(a.duration_ms).toBeGreaterThanOrEqual(0);
      expect(Number.isNaN(Date.parse(a.started_at))).toBe(false);
    }
    expect(Buffer.byteLength(d.attempts[0].response_excerpt)).toBeLessThanOrEqual(1024);
    expect(d.attempts[0].response_excerpt).toBe('e'.repeat(1024));
    expect((await webhookOf(svc, customer.key, hook.id)).failing_since).toBeNull();
  });

  it('marks a delivery failed once the schedule is exhausted', async () => {
    const { customer, hook } = await hookAt('/down');
    behaviour.set('/down', () => ({ status: 503, body: 'maintenance' }));
    const e = event(customer.id);
    await ingestOk(svc, e);
    const d = await deliveryWhere(svc, customer.key, hook.id, (x) => x.status === 'failed');
    expect(d.attempts.map((a: any) => a.attempt)).toEqual([1, 2, 3, 4]);
    expect(d.attempts.every((a: any) => a.status_code === 503 && a.error === 'http_status' && a.response_excerpt === 'maintenance')).toBe(true);
    expect(d.next_attempt_at).toBeNull();
    expect(withEmail(receiver.received, e.email_id).map(attemptOf)).toEqual([1, 2, 3, 4]);
    const h = await webhookOf(svc, customer.key, hook.id);
    expect(h.is_active).toBe(true);
    expect(h.failing_since).not.toBeNull();
  });

  it('disables the webhook on 410 Gone, cancels what is pending, and re-enables on is_active true', async () => {
    const { customer, hook } = await hookAt('/gone');
    const first = event(customer.id);
    behaviour.set('/gone', () => ({ status: 500 }));
    await ingestOk(svc, first);
    await receiver.waitFor(1, '/gone');
    // The first is now waiting for its retry when the endpoint says it is gone.
    const second = event(customer.id);
    behaviour.set('/gone', (r) => (r.body.includes(second.email_id) ? { status: 410, body: 'gone' } : { status: 500 }));
    await ingestOk(svc, second);
    const h = await eventually(() => webhookOf(svc, customer.key, hook.id), (x) => x.is_active === false);
    expect(h.disabled_reason).toMatch(/410/);

    const d = await deliveryWhere(svc, customer.key, hook.id, (x) => x.status === 'failed');
    expect(d.attempts.map((a: any) => [a.attempt, a.status_code, a.error])).toEqual([[1, 410, 'http_status']]);
    const cancelled = await deliveryWhere(svc, customer.key, hook.id, (x) => x.status === 'cancelled');
    expect(cancelled.attempts).toHaveLength(1);
    // An event while disabled creates nothing for it.
    expect((await ingestOk(svc, event(customer.id))).deliveries).toBe(0);

    const put = await svc.customer(customer.key, 'PUT', `/api/v1/customer/webhooks/${hook.id}`, { is_active: true });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ is_active: true, disabled_reason: null });
    behaviour.set('/gone', () => ({ status: 200 }));
    const sentinel = event(customer.id);
    expect((await ingestOk(svc, sentinel)).deliveries).toBe(1);
    await eventually(() => withEmail(receiver.received, sentinel.email_id).length, (n) => n === 1);
    expect(withEmail(receiver.received, first.email_id)).toHaveLength(1);
    expect(withEmail(receiver.received, second.email_id)).toHaveLength(1);
  });

  it.each([302, 307])('does not follow a %i redirect and records it as error redirect', async (status) => {
    const elsewhere = await new TestReceiver().start();
    try {
      const path = `/redirect-${status}`;
      const { customer, hook } = await hookAt(path);
      const location = `${elsewhere.url}/stolen`;
      behaviour.set(path, () => ({ status, headers: { location }, body: 'moved' }));
      await ingestOk(svc, event(customer.id));
      const d = await deliveryWhere(svc, customer.key, hook.id, (x) => x.attempts.length >= 1);
      expect(d.attempts[0]).toMatchObject({ status_code: status, error: 'redirect' });
      const again = await deliveryWhere(svc, customer.key, hook.id, (x) => x.attempts.length >= 2);
      expect(again.attempts[1]).toMatchObject({ status_code: status, error: 'redirect' });
      expect(elsewhere.count()).toBe(0);
    } finally {
      await elsewhere.close();
    }
  });

  it('records connection_refused for a closed port', async () => {
    const port = await closedPort();
    const { customer, hook } = await hookAt('/nobody', `http://127.0.0.1:${port}/nobody`);
    await ingestOk(svc, event(customer.id));
    const d = await deliveryWhere(svc, customer.key, hook.id, (x) => x.attempts.length >= 2);
    expect(d.attempts[0]).toMatchObject({ attempt: 1, status_code: null, error: 'connection_refused' });
    expect(d.attempts[1]).toMatchObject({ attempt: 2, error: 'connection_refused' });
    expect(d.attempts[0].response_excerpt ?? '').not.toContain('/nobody');
  });

  it('honours Retry-After on 429 beyond the retry schedule', async () => {
    const { customer, hook } = await hookAt('/busy');
    behaviour.set('/busy', (r) => (attemptOf(r) === 1 ? { status: 429, headers: { 'retry-after': '2' }, body: 'slow down' } : { status: 200 }));
    const e = event(customer.id);
    await ingestOk(svc, e);
    await receiver.waitFor(2, '/busy');
    const [a, b] = withEmail(receiver.received, e.email_id);
    // The schedule alone would have come back after about 100 ms (plus the 1 s poll).
    expect(b.at - a.at).toBeGreaterThanOrEqual(1900);
    const d = await deliveryWhere(svc, customer.key, hook.id, (x) => x.status === 'succeeded');
    expect(d.attempts[0]).toMatchObject({ status_code: 429, error: 'http_status', response_excerpt: 'slow down' });
  });
});

describe.concurrent.each(STORES)('disabling endpoints (%s)', (kind) => {
  let svc: TestService;
  let receiver: TestReceiver;

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    svc = await startE2E(kind, { RETRY_SCHEDULE: '100ms,100ms,100ms,100ms,100ms,100ms', DISABLE_AFTER: '500ms', ENDPOINT_CONCURRENCY: '1' });
  });
  afterAll(async () => {
    await receiver?.close();
    await svc?.close();
  });

  it('disables a webhook that failed for the whole DISABLE_AFTER window and says why', async () => {
    const customer = await svc.newCustomer('starter');
    receiver.respond = () => ({ status: 500 });
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/failing`, events: ['email.sent'] });
    await ingestOk(svc, event(customer.id, 'email.sent'));
    const h = await eventually(
      async () => (await svc.customer(customer.key, 'GET', `/api/v1/customer/webhooks/${hook.id}`)).body,
      (x) => x.is_active === false,
    );
    expect(h.disabled_reason).toMatch(/fail/);
    expect(h.disabled_reason).not.toMatch(/\b0 days/);
    const list = (await listDeliveries(svc, customer.key, hook.id)).body.data;
    expect(list[0].status).toBe('cancelled');
    expect(list[0].attempts.length).toBeGreaterThanOrEqual(2);
    expect(receiver.count('/failing')).toBe(list[0].attempts.length);

    // Re-enabling starts afresh: the window is forgiven and deliveries flow again.
    receiver.respond = () => ({ status: 200 });
    const put = await svc.customer(customer.key, 'PUT', `/api/v1/customer/webhooks/${hook.id}`, { is_active: true });
    expect(put.body).toMatchObject({ is_active: true, disabled_reason: null, failing_since: null });
    const e = event(customer.id, 'email.sent');
    await ingestOk(svc, e);
    await eventually(() => withEmail(receiver.received, e.email_id).length, (n) => n === 1);
  });

  it('sends nothing more to an endpoint after it answered 410, even what was already queued', async () => {
    const gone = await new TestReceiver().start();
    try {
      gone.respond = () => ({ status: 410 });
      const customer = await svc.newCustomer('starter');
      const hook = await createWebhook(svc, customer.key, { url: `${gone.url}/g`, events: ['email.delivered'] });
      // One request to it at a time (ENDPOINT_CONCURRENCY 1): the rest of the batch queues behind the first.
      const events = Array.from({ length: 6 }, () => event(customer.id));
      await ingestOk(svc, { events });
      await eventually(() => webhookOf(svc, customer.key, hook.id), (x) => x.is_active === false);
      const list = await eventually(
        async () => (await listDeliveries(svc, customer.key, hook.id)).body.data as any[],
        (l) => l.every((d) => d.status !== 'pending'),
      );
      expect(gone.count()).toBe(1);
      expect(list.filter((d) => d.status === 'failed')).toHaveLength(1);
      expect(list.filter((d) => d.status === 'cancelled')).toHaveLength(5);
      expect(list.filter((d) => d.status === 'cancelled').every((d) => d.attempts.length === 0)).toBe(true);
    } finally {
      await gone.close();
    }
  });
});

describe.concurrent.each(STORES)('timeouts (%s)', (kind) => {
  let svc: TestService;
  let receiver: TestReceiver;

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    svc = await startE2E(kind, { RETRY_SCHEDULE: '1h', DELIVERY_TIMEOUT: '300ms', LEASE_DURATION: '5s' });
  });
  afterAll(async () => {
    await receiver?.close();
    await svc?.close();
  });

  it('records error timeout for an endpoint that answers after DELIVERY_TIMEOUT, and keeps the delivery pending', async () => {
    receiver.respond = () => ({ status: 200, delayMs: 1500 });
    const customer = await svc.newCustomer('starter');
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/late`, events: ['email.delivered'] });
    await ingestOk(svc, event(customer.id));
    const d = await deliveryWhere(svc, customer.key, hook.id, (x) => x.attempts.length === 1);
    expect(d.status).toBe('pending');
    expect(d.attempts[0]).toMatchObject({ attempt: 1, status_code: null, error: 'timeout' });
    expect(d.attempts[0].duration_ms).toBeGreaterThanOrEqual(250);
  });
});
