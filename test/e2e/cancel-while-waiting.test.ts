import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TestReceiver } from '../helpers/receiver.ts';
import type { TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { bodyOf, createWebhook, event, ingestOk, listDeliveries, startE2E } from './harness.ts';

/**
 * Deliveries a worker has claimed wait in their webhook's lane behind slower requests. If the
 * customer switches the webhook off (which cancels them) and on again while they wait, they
 * stay cancelled: the worker checks that it still holds each one before sending it.
 */
describe.each(STORES)('deliveries cancelled while they wait in the worker (%s)', (kind) => {
  let svc: TestService;
  let receiver: TestReceiver;

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    svc = await startE2E(kind, { ENDPOINT_CONCURRENCY: '1' });
  });
  afterAll(async () => {
    await receiver?.close();
    await svc?.close();
  });

  it('are not sent after the webhook is switched off and on again', { timeout: 30_000 }, async () => {
    const customer = await svc.newCustomer('starter');
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/lane`, events: ['email.delivered'] });
    const [first, ...queued] = [event(customer.id), event(customer.id), event(customer.id)];
    // The first request is held 3 s: one request at a time, so the other two wait behind it.
    receiver.respond = (r) => ({ status: 200, delayMs: bodyOf(r).email_id === first.email_id ? 3000 : 0 });
    await ingestOk(svc, { events: [first, ...queued] });
    await receiver.waitFor(1, '/lane');
    // All three are claimed: a claimed delivery's next attempt is the end of its lease.
    await eventually(
      async () => (await listDeliveries(svc, customer.key, hook.id)).body.data as any[],
      (ds) => ds.length === 3 && ds.every((d) => d.status === 'pending' && Date.parse(d.next_attempt_at) > Date.now() + 30_000),
    );

    const off = await svc.customer(customer.key, 'PUT', `/api/v1/customer/webhooks/${hook.id}`, { is_active: false });
    expect(off.status).toBe(200);
    const on = await svc.customer(customer.key, 'PUT', `/api/v1/customer/webhooks/${hook.id}`, { is_active: true });
    expect(on.status).toBe(200);
    expect(receiver.count('/lane')).toBe(1);

    // A new event queues behind the cancelled two in the same lane: once it has arrived, they
    // would have been sent before it.
    const marker = event(customer.id);
    await ingestOk(svc, marker);
    await eventually(() => receiver.received.map((r) => bodyOf(r).email_id), (ids) => ids.includes(marker.email_id));
    const sent = receiver.received.map((r) => bodyOf(r).email_id);
    for (const e of queued) expect(sent).not.toContain(e.email_id);

    // Once every outcome is written, the two that waited stay cancelled, with no attempt (the
    // first was on the wire already).
    const ds = await eventually(
      async () => (await listDeliveries(svc, customer.key, hook.id)).body.data as any[],
      (l) => l.length === 4 && l.every((d) => d.status !== 'pending'),
    );
    expect(ds.filter((d) => d.attempts.length === 0).map((d) => d.status)).toEqual(['cancelled', 'cancelled']);
  });
});
