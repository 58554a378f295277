import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/receiver.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { createWebhook, event, ingestOk, listDeliveries } from '../e2e/harness.ts';
import { tableResolver, tripwire, v4, v6, type Answer, type Tripwire } from './support.ts';

/**
 * Host names that look public but resolve inside the operator's network. Private networks
 * are NOT allowed here. Every webhook points at the port of a real listener on loopback, so
 * had any connection been made to 127.0.0.1 / ::1 it would have shown up on the tripwire.
 */

const CASES: [name: string, answer: Answer, leaks: string[]][] = [
  ['loopback', [v4('127.0.0.1')], ['127.0.0.1']],
  ['private', [v4('10.0.0.1')], ['10.0.0.1']],
  ['metadata', [v4('169.254.169.254')], ['169.254.169.254']],
  ['unspecified', [v4('0.0.0.0')], ['0.0.0.0']],
  ['v6-unspecified', [v6('::')], []],
  ['v6-loopback', [v6('::1')], ['::1']],
  ['dns64-of-loopback', [v6('64:ff9b::7f00:1')], ['64:ff9b::7f00:1', '127.0.0.1']],
  ['v4-mapped', [v6('::ffff:127.0.0.1')], ['::ffff:127.0.0.1', '127.0.0.1']],
  // A public address first must not carry the private one behind it through.
  ['mixed-public-first', [v4('93.184.216.34'), v4('127.0.0.1')], ['127.0.0.1', '93.184.216.34']],
  ['mixed-private-first', [v4('10.1.2.3'), v6('2606:4700::1111')], ['10.1.2.3']],
  // Rebinding: a different inside answer on every call; each one must be judged afresh.
  ['rebinding', (n) => [[v4('127.0.0.1')], [v4('10.0.0.1')], [v6('::1')]][(n - 1) % 3]!, ['127.0.0.1', '10.0.0.1']],
];

const host = (name: string) => `${name}.hooks.customer.example`;

describe.each(STORES)('names that resolve inside the network (%s)', (kind) => {
  let svc: TestService;
  let wire: Tripwire;
  const { resolve, calls } = tableResolver(new Map(CASES.map(([name, answer]) => [host(name), answer])));
  let customer: { id: string; key: string };
  const hooks = new Map<string, string>();

  beforeAll(async () => {
    wire = await tripwire();
    svc = await startTestService(kind, {
      role: 'all',
      // The last, long delay keeps the delivery pending after the third attempt, so the test
      // can see it waiting for its next turn rather than given up.
      env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false', RETRY_SCHEDULE: '100ms,100ms,1h', RATE_LIMIT: '1000000' },
      resolve,
    });
    customer = await svc.newCustomer('custom', [], 20);
    for (const [name] of CASES) {
      // Accepted at create: the name itself says nothing about where it points.
      const hook = await createWebhook(svc, customer.key, { url: `https://${host(name)}:${wire.port}/hook`, events: ['email.delivered'] });
      hooks.set(name, hook.id);
    }
  });
  afterAll(async () => {
    await svc?.close();
    await wire?.close();
  });

  it('records every attempt as blocked_destination, keeps the delivery pending on the retry schedule, connects nowhere', async () => {
    const e = event(customer.id);
    await ingestOk(svc, e);
    for (const [name, , leaks] of CASES) {
      const id = hooks.get(name)!;
      const [d] = await eventually(
        async () => (await listDeliveries(svc, customer.key, id)).body.data as any[],
        (l) => l.length === 1 && l[0].attempts.length >= 3 && l[0].next_attempt_at !== null && Date.parse(l[0].next_attempt_at) > Date.now() + 30 * 60_000,
        15_000,
      );
      expect(d.status, name).toBe('pending');
      expect(d.attempts.map((a: any) => [a.attempt, a.status_code, a.error]), name).toEqual([
        [1, null, 'blocked_destination'],
        [2, null, 'blocked_destination'],
        [3, null, 'blocked_destination'],
      ]);
      for (const a of d.attempts) {
        expect(a.response_excerpt, name).toMatch(/destination blocked: connecting to a non-public address \(.+\) is not allowed/);
        // The reason names the range, never what an internal name resolved to.
        for (const addr of leaks) expect(a.response_excerpt, `${name} leaks ${addr}`).not.toContain(addr);
      }
      // Retried on the schedule (100 ms ± 20 %), not in a burst.
      const starts = d.attempts.map((a: any) => Date.parse(a.started_at));
      expect(starts[1] - starts[0], name).toBeGreaterThanOrEqual(75);
      expect(starts[2] - starts[1], name).toBeGreaterThanOrEqual(75);
      // The name was resolved again for every attempt: the check is not a one-off at create.
      expect(calls.get(host(name)) ?? 0, name).toBeGreaterThanOrEqual(3);
    }
    expect(wire.connections).toBe(0);
  });

  it('answers a test event with delivered false and blocked_destination, sending nothing', async () => {
    for (const [name] of CASES) {
      const before = calls.get(host(name)) ?? 0;
      const res = await svc.customer(customer.key, 'POST', `/api/v1/customer/webhooks/${hooks.get(name)}/test`);
      expect(res.status, name).toBe(200);
      expect(res.body, name).toMatchObject({ delivered: false, status_code: null, error: 'blocked_destination' });
      expect(res.body.response_excerpt, name).toMatch(/non-public address/);
      expect(calls.get(host(name)), name).toBeGreaterThan(before);
    }
    expect(wire.connections).toBe(0);
  });

  it('judges the rebinding name on every call: resolver calls ≥ attempts made', async () => {
    const id = hooks.get('rebinding')!;
    const [d] = (await listDeliveries(svc, customer.key, id)).body.data;
    // Retry now, twice more: each attempt resolves again and is refused again.
    for (let i = 0; i < 2; i++) {
      const before = d.attempts.length + i;
      const r = await svc.customer(customer.key, 'POST', `/api/v1/customer/webhooks/${id}/deliveries/${d.id}/retry`);
      expect(r.status).toBe(202);
      await eventually(
        async () => (await listDeliveries(svc, customer.key, id)).body.data[0],
        // Past the schedule's end each manual retry is a last attempt: failed, not locked.
        (x: any) => x.attempts.length > before && x.status === 'failed',
        10_000,
      );
    }
    const [after] = (await listDeliveries(svc, customer.key, id)).body.data;
    expect(after.attempts.length).toBeGreaterThanOrEqual(5);
    expect(after.attempts.every((a: any) => a.error === 'blocked_destination')).toBe(true);
    // attempts by the worker + one test event, each resolved afresh
    expect(calls.get(host('rebinding'))!).toBeGreaterThanOrEqual(after.attempts.length + 1);
    expect(wire.connections).toBe(0);
  });
});
