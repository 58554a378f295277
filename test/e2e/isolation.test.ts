import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TestReceiver } from '../helpers/receiver.ts';
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

describe.each(STORES)('dead endpoints with backlogs leave room for others (%s)', (kind) => {
  let svc: TestService;
  let healthy: TestReceiver;
  let dead: net.Server;
  const open = new Set<net.Socket>();
  let requests = 0;

  beforeAll(async () => {
    healthy = await new TestReceiver().start();
    // Accepts every connection and never answers.
    dead = net.createServer((s) => {
      requests++;
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    // 4 request slots per webhook, 3 rounds of them may wait in the worker (lease / timeout − 1).
    svc = await startE2E(kind, { WORKER_CONCURRENCY: '16', ENDPOINT_CONCURRENCY: '4', DELIVERY_TIMEOUT: '3s', LEASE_DURATION: '12s' });
  });
  afterAll(async () => {
    for (const s of open) s.destroy();
    await new Promise((r) => dead.close(r));
    await healthy?.close();
    await svc?.close();
  });

  it("delivers another customer's event while three dead webhooks hold every round they may", async () => {
    const attacker = await svc.newCustomer('business');
    const { port } = dead.address() as AddressInfo;
    for (const name of ['a', 'b', 'c']) await createWebhook(svc, attacker.key, { url: `http://127.0.0.1:${port}/${name}`, events: ['email.delivered'] });
    await ingestOk(svc, { events: Array.from({ length: 40 }, () => event(attacker.id)) });
    // Three webhooks × 4 slots: the first round is open, and more than the worker's 16 slots
    // are claimed behind it.
    await eventually(() => requests, (n) => n === 12);

    const victim = await svc.newCustomer('starter');
    await createWebhook(svc, victim.key, { url: `${healthy.url}/victim`, events: ['email.delivered'] });
    const e = event(victim.id);
    await ingestOk(svc, e);
    await healthy.waitFor(1, '/victim');
    // It arrived while the dead endpoints' first round was still waiting for its timeout.
    expect(requests).toBe(12);
    expect(bodyOf(healthy.received[0]).email_id).toBe(e.email_id);
  });
});
