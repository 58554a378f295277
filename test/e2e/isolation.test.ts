import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestReceiver } from '../helpers/receiver.ts';
import type { TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { bodyOf, createWebhook, event, ingestOk, startE2E } from './harness.ts';

describe.each(STORES)('a slow endpoint does not delay a healthy one (%s)', (kind) => {
  let svc: TestService;
  let slow: TestReceiver;
  let healthy: TestReceiver;

  beforeAll(async () => {
    slow = await new TestReceiver().start();
    healthy = await new TestReceiver().start();
    slow.respond = () => ({ status: 200, delayMs: 3000 });
    svc = await startE2E(kind, { DELIVERY_TIMEOUT: '5s', LEASE_DURATION: '30s', ENDPOINT_CONCURRENCY: '4' });
  });
  afterAll(async () => {
    // The slow receiver goes first, so the worker is not kept waiting on it at shutdown.
    await slow?.close();
    await healthy?.close();
    await svc?.close();
  });

  it('delivers all 40 events to the healthy endpoint while the slow one has had only a handful', async () => {
    const customer = await svc.newCustomer('business');
    // The slow webhook is created first, so its deliveries are ahead in the queue for every event.
    await createWebhook(svc, customer.key, { url: `${slow.url}/slow`, events: ['email.delivered'] });
    await createWebhook(svc, customer.key, { url: `${healthy.url}/healthy`, events: ['email.delivered'] });
    const events = Array.from({ length: 40 }, () => event(customer.id));
    const res = await ingestOk(svc, { events });
    expect(res.deliveries).toBe(80);

    await healthy.waitFor(40, '/healthy');
    // At most ENDPOINT_CONCURRENCY requests are open on the slow one; none has been answered
    // yet, or only a first round of them.
    expect(slow.count()).toBeLessThanOrEqual(8);
    expect(slow.count()).toBeGreaterThanOrEqual(1);
    expect(new Set(healthy.received.map((r) => bodyOf(r).email_id))).toEqual(new Set(events.map((e) => e.email_id)));
  });
});
