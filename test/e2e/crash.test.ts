import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { expectedPairs, Ledger, queueSnapshot, repeatTimes } from '../helpers/ledger.ts';
import { apiClient, newSecrets, spawnService, storeEnv, type ServiceProcess } from '../helpers/process.ts';
import { eventually, TestReceiver } from '../helpers/receiver.ts';
import { createTestStore, STORES, type TestStore } from '../helpers/stores.ts';

/**
 * SPEC §4: "An accepted event is never lost: not on a crash, a restart …". The whole service
 * runs as a child process; once ingest has answered 202 for every event and deliveries are
 * streaming out, it is SIGKILLed (no shutdown hook runs, claims stay leased, buffered
 * outcomes are lost), then started again on the same store. Every (event × webhook) must
 * still arrive; duplicates are allowed (at-least-once) and reported.
 */

const EVENTS = 1000;
const BATCH = 500;
const PATHS = ['/hook-a', '/hook-b', '/hook-c'];
const TOTAL = EVENTS * PATHS.length;

describe.each(STORES)('crash and restart (%s)', (kind) => {
  let store: TestStore | undefined;
  let receiver: TestReceiver | undefined;
  const procs: ServiceProcess[] = [];

  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop()));
    await receiver?.close();
    await store?.drop();
    store = receiver = undefined;
  });

  it('SIGKILL mid-delivery loses no accepted event', { timeout: 120_000 }, async () => {
    store = await createTestStore(kind);
    receiver = await new TestReceiver().start();
    // A little latency keeps deliveries in flight, so the kill lands mid-request for some.
    receiver.respond = () => ({ status: 200, body: 'ok', delayMs: 5 });
    const ledger = new Ledger(receiver);
    const secrets = newSecrets();
    const env = storeEnv(store, secrets, { LEASE_DURATION: '3s', DELIVERY_TIMEOUT: '2s', RETRY_SCHEDULE: '1s,1s,2s,5s' });
    const start = async () => {
      const p = await spawnService({ args: ['serve'], env });
      procs.push(p);
      return p;
    };

    let proc = await start();
    const api = apiClient(() => proc, secrets);
    const customer = await api.newCustomer();
    for (const path of PATHS) {
      const w = await api.customer(customer.key, 'POST', '/api/v1/customer/webhooks', { url: receiver.url + path, events: ['email.delivered'] });
      expect(w.status, JSON.stringify(w.body)).toBe(201);
    }

    const keys = Array.from({ length: EVENTS }, (_, i) => `e${i}`);
    for (let i = 0; i < EVENTS; i += BATCH) {
      const events = keys.slice(i, i + BATCH).map((key) => ({
        id: key,
        customer_id: customer.id,
        event: 'email.delivered',
        email_id: randomUUID(),
        metadata: { key },
      }));
      const res = await api.ingest({ events });
      expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(202);
      expect(res.body.deliveries).toBe(events.length * PATHS.length);
    }

    // Kill once about a fifth has arrived, while the rest is queued or in flight.
    await receiver.waitFor(Math.round(TOTAL * 0.2), undefined, 30_000);
    proc.kill('SIGKILL');
    const killedAt = Date.now();
    const exit = await proc.exited;
    expect(exit.signal).toBe('SIGKILL');
    const atKill = { requests: receiver.count(), distinct: ledger.arrived() };
    expect(atKill.distinct, 'the kill should land before everything was delivered').toBeLessThan(TOTAL);

    const restartAt = Date.now();
    proc = await start();
    const restartedAt = Date.now();
    const expected = expectedPairs(PATHS, keys);
    await eventually(
      () => ledger.arrived(expected),
      (n) => n === TOTAL,
      60_000,
    ).catch(async (err) => {
      const queue = await queueSnapshot(store!).catch((e) => String(e));
      throw new Error(`${err.message}\nmissing (first 10): ${ledger.missing(expected).slice(0, 10).join(', ')}\nqueue: ${queue}\n--- restarted service output ---\n${proc.output().slice(-4000)}`);
    });
    const doneAt = Date.now();

    const s = ledger.stats(expected);
    expect(s.distinctPairs).toBe(TOTAL);
    // One webhook-id per (event, webhook), the same on every repeat.
    expect(s.distinctIds).toBe(TOTAL);
    expect(s.idsOnSeveralPairs).toBe(0);
    expect(receiver.received.every((r) => r.path && PATHS.includes(r.path))).toBe(true);
    const repeats = repeatTimes(receiver);
    const resent = repeats.length ? `repeats ${repeats[0] - killedAt}–${repeats[repeats.length - 1] - killedAt} ms after the kill` : 'no repeats';
    console.log(
      `[crash/${kind}] ${TOTAL} deliveries; at SIGKILL ${atKill.distinct} distinct had arrived (${atKill.requests} requests); ` +
        `restart ready in ${restartedAt - restartAt} ms; after it all arrived in ${doneAt - restartedAt} ms (${doneAt - killedAt} ms after the kill); ` +
        `requests ${s.requests}, duplicates ${s.duplicates} (${resent})`,
    );
  });
});
