import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestReceiver } from '../helpers/receiver.ts';
import type { TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { bodyOf, closedPort, createWebhook, startE2E, verifyBoth } from './harness.ts';

describe.each(STORES)('the test event (%s)', (kind) => {
  let svc: TestService;
  let receiver: TestReceiver;
  let customer: { id: string; key: string; domains: string[] };

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    svc = await startE2E(kind);
    customer = await svc.newCustomer('business');
  });
  afterAll(async () => {
    await receiver?.close();
    await svc?.close();
  });

  const test = (id: string, key = customer.key) => svc.customer(key, 'POST', `/api/v1/customer/webhooks/${id}/test`);

  it('sends the documented test event, signed, and answers with the outcome', async () => {
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/ok`, events: ['email.delivered'] });
    receiver.respond = () => ({ status: 200, body: 'thanks' });
    const before = Date.now();
    const res = await test(hook.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ delivered: true, status_code: 200, error: null, response_excerpt: 'thanks' });
    expect(res.body.duration_ms).toEqual(expect.any(Number));
    // The answer comes after the receiver answered: no waiting needed.
    const r = receiver.received.find((x) => x.path === '/ok')!;
    const body = bodyOf(r);
    expect(Object.keys(body)).toEqual(['event', 'timestamp', 'customer_id', 'message']);
    expect(body).toMatchObject({ event: 'test', customer_id: customer.id, message: 'Test webhook from MailerLogic' });
    expect(Date.parse(body.timestamp)).toBeGreaterThanOrEqual(before - 1000);
    expect(verifyBoth(hook.secret, r)).toEqual(body);
    expect(r.headers['x-webhook-event']).toBe('test');
    expect(r.headers['x-webhook-attempt']).toBe('1');
    expect(r.headers['x-webhook-signature']).toBe(r.headers['webhook-signature']);
    expect(r.headers['webhook-id']).toBe(res.body.id);
  });

  it('reports a failing receiver: delivered false, its status and an excerpt of its answer', async () => {
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/broken`, events: ['email.delivered'] });
    receiver.respond = (r) => (r.path === '/broken' ? { status: 500, body: 'x'.repeat(5000) } : { status: 200 });
    const res = await test(hook.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ delivered: false, status_code: 500, error: 'http_status' });
    expect(res.body.response_excerpt).toBe('x'.repeat(1024));
    // Not queued, not retried: it does not show up as a delivery.
    const list = await svc.customer(customer.key, 'GET', `/api/v1/customer/webhooks/${hook.id}/deliveries`);
    expect(list.body.data).toEqual([]);
  });

  it('reports a receiver that cannot be reached', async () => {
    const port = await closedPort();
    const hook = await createWebhook(svc, customer.key, { url: `http://127.0.0.1:${port}/x`, events: ['email.delivered'] });
    const res = await test(hook.id);
    expect(res.body).toMatchObject({ delivered: false, status_code: null, error: 'connection_refused' });
  });

  it('works for an inactive webhook, with the secret current after a regenerate', async () => {
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/off`, events: ['email.delivered'], is_active: false });
    receiver.respond = () => ({ status: 204 });
    const regen = await svc.customer(customer.key, 'POST', `/api/v1/customer/webhooks/${hook.id}/regenerate-secret`);
    const res = await test(hook.id);
    expect(res.body).toMatchObject({ delivered: true, status_code: 204 });
    const r = receiver.received.filter((x) => x.path === '/off').at(-1)!;
    verifyBoth(regen.body.secret, r);
    expect(() => verifyBoth(hook.secret, r)).toThrow();
  });

  it("answers 404 for another customer's webhook, and sends nothing", async () => {
    const other = await svc.newCustomer('starter');
    const theirs = await createWebhook(svc, other.key, { url: `${receiver.url}/theirs`, events: ['email.delivered'] });
    const res = await test(theirs.id);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    expect((await test('00000000-0000-7000-8000-000000000000')).status).toBe(404);
    expect((await test('not-a-uuid')).status).toBe(404);
    expect(receiver.count('/theirs')).toBe(0);
  });

  it('needs an API key', async () => {
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/auth`, events: ['email.delivered'] });
    expect((await test(hook.id, 'wrong-key')).status).toBe(401);
    expect(receiver.count('/auth')).toBe(0);
  });
});
