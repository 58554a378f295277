import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TestReceiver } from '../helpers/receiver.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { createWebhook, event, ingestOk, listDeliveries } from '../e2e/harness.ts';
import { tripwire, type Tripwire } from './support.ts';

/**
 * A receiver answering with a redirect to another server (private networks allowed, as both
 * are local): the redirect is never followed, whatever its status, and is recorded as such.
 */

const STATUSES = [301, 302, 303, 307, 308];

describe.each(STORES)('redirects are never followed (%s)', (kind) => {
  let svc: TestService;
  let receiver: TestReceiver;
  let target: Tripwire;
  let customer: { id: string; key: string };
  const hooks = new Map<number, string>();

  beforeAll(async () => {
    target = await tripwire();
    receiver = await new TestReceiver().start();
    receiver.respond = (r) => ({
      status: Number(r.path.slice(1)),
      headers: { location: `http://127.0.0.1:${target.port}/landed` },
      body: 'moved',
    });
    svc = await startTestService(kind, { role: 'all', env: { RETRY_SCHEDULE: '100ms,100ms', RATE_LIMIT: '1000000' } });
    customer = await svc.newCustomer('business');
    for (const s of STATUSES) hooks.set(s, (await createWebhook(svc, customer.key, { url: `${receiver.url}/${s}`, events: ['email.delivered'] })).id);
  });
  afterAll(async () => {
    await receiver?.close();
    await svc?.close();
    await target?.close();
  });

  it('records error redirect with the status, retries, and the target sees nothing', async () => {
    await ingestOk(svc, event(customer.id));
    for (const s of STATUSES) {
      const [d] = await eventually(
        async () => (await listDeliveries(svc, customer.key, hooks.get(s)!)).body.data as any[],
        (l) => l.length === 1 && l[0].status === 'failed',
        10_000,
      );
      expect(d.attempts.map((a: any) => [a.status_code, a.error]), String(s)).toEqual([
        [s, 'redirect'],
        [s, 'redirect'],
        [s, 'redirect'],
      ]);
      expect(d.attempts[0].response_excerpt).toBe('moved');
    }
    expect(receiver.count()).toBe(STATUSES.length * 3);
    expect(target.connections).toBe(0);
  });

  it('answers a test event with delivered false and error redirect', async () => {
    for (const s of STATUSES) {
      const res = await svc.customer(customer.key, 'POST', `/api/v1/customer/webhooks/${hooks.get(s)}/test`);
      expect(res.body, String(s)).toMatchObject({ delivered: false, status_code: s, error: 'redirect' });
    }
    expect(target.connections).toBe(0);
  });
});
