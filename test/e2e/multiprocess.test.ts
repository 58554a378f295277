import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedPairs, Ledger, queueSnapshot, repeatTimes } from '../helpers/ledger.ts';
import { apiClient, newSecrets, spawnService, storeEnv, type ServiceProcess } from '../helpers/process.ts';
import { eventually, TestReceiver, type Received } from '../helpers/receiver.ts';
import { createTestStore, STORES, type TestStore } from '../helpers/stores.ts';

/**
 * SPEC §2: on PostgreSQL any number of API and worker processes share one database and
 * coordinate only through it. Here: one `serve --no-worker` and two `worker` processes on
 * one schema, each a real child process. The steps run in order and share the processes:
 * an idle worker wakes for new work, a bulk run is delivered exactly once (claims skip rows
 * another worker holds), a SIGKILLed worker's leased work is finished by the other after
 * the lease, and SIGTERM lets a worker finish what is in flight and exit 0 in time.
 */

const PATHS = ['/p1', '/p2'];
const ENDPOINT_CONCURRENCY = 8;
const DELIVERY_TIMEOUT_MS = 2000;
const LEASE_MS = 5000;

describe.skipIf(!STORES.includes('postgres'))('several processes on one PostgreSQL database', () => {
  let store: TestStore;
  let receiver: TestReceiver;
  let ledger: Ledger;
  let api: ServiceProcess;
  let workers: ServiceProcess[] = [];
  const all: ServiceProcess[] = [];
  let client: ReturnType<typeof apiClient>;
  let customerId: string;
  let env: Record<string, string>;

  // The receiver's own view of concurrency: requests not yet answered, in all and per path.
  // One worker process has at most ENDPOINT_CONCURRENCY requests in flight to one webhook.
  let inFlight = 0;
  const perPath = new Map<string, number>();
  let maxPerPath = 0;
  let delayFor: (r: Received) => number = () => 0;

  const startWorker = async () => {
    const w = await spawnService({ args: ['worker'], env });
    all.push(w);
    return w;
  };

  const ingest = async (keys: string[]) => {
    for (let i = 0; i < keys.length; i += 500) {
      const events = keys.slice(i, i + 500).map((key) => ({ id: key, customer_id: customerId, event: 'email.delivered', email_id: randomUUID(), metadata: { key } }));
      const res = await client.ingest({ events });
      expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(202);
      expect(res.body.deliveries).toBe(events.length * PATHS.length);
    }
  };

  const pendingCount = async () => {
    const database = store.open();
    try {
      const r = await database.db.selectFrom('deliveries').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow();
      return Number(r.n);
    } finally {
      await database.close();
    }
  };

  /** Waits for every pair to arrive; a timeout names what is missing and what the processes said. */
  const waitAll = async (expected: Set<string>, timeoutMs: number) => {
    await eventually(() => ledger.arrived(expected), (n) => n === expected.size, timeoutMs).catch(async (err) => {
      const queue = await queueSnapshot(store).catch((e) => String(e));
      const logs = all.map((p) => `--- ${p.args.join(' ')} pid ${p.pid} ---\n${p.output().split('\n').filter((l) => !l.includes('"incoming request"') && !l.includes('"request completed"')).slice(-15).join('\n')}`);
      throw new Error(`${err.message}\nmissing (first 10): ${ledger.missing(expected).slice(0, 10).join(', ')}\nqueue: ${queue}\n${logs.join('\n')}`);
    });
  };

  beforeAll(async () => {
    store = await createTestStore('postgres');
    receiver = await new TestReceiver().start();
    receiver.respond = (r) => {
      const delayMs = delayFor(r);
      inFlight++;
      const n = (perPath.get(r.path) ?? 0) + 1;
      perPath.set(r.path, n);
      maxPerPath = Math.max(maxPerPath, n);
      setTimeout(() => {
        inFlight--;
        perPath.set(r.path, perPath.get(r.path)! - 1);
      }, delayMs);
      return { status: 200, body: 'ok', delayMs };
    };
    ledger = new Ledger(receiver);
    const secrets = newSecrets();
    env = storeEnv(store, secrets, {
      LEASE_DURATION: `${LEASE_MS / 1000}s`,
      DELIVERY_TIMEOUT: `${DELIVERY_TIMEOUT_MS / 1000}s`,
      ENDPOINT_CONCURRENCY: String(ENDPOINT_CONCURRENCY),
      RETRY_SCHEDULE: '1s,1s,2s,5s',
    });
    [api, ...workers] = await Promise.all([spawnService({ args: ['serve', '--no-worker'], env }), startWorker(), startWorker()]);
    all.push(api);
    client = apiClient(() => api, secrets);
    const customer = await client.newCustomer();
    customerId = customer.id;
    for (const path of PATHS) {
      const w = await client.customer(customer.key, 'POST', '/api/v1/customer/webhooks', { url: receiver.url + path, events: ['email.delivered'] });
      expect(w.status, JSON.stringify(w.body)).toBe(201);
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(all.map((p) => p.stop()));
    await receiver?.close();
    await store?.drop();
  });

  it('an idle worker picks up a new event soon after ingest (the API process has no worker)', async () => {
    const expected = expectedPairs(PATHS, ['idle-0']);
    const t0 = Date.now();
    await ingest(['idle-0']);
    await waitAll(expected, 5000);
    const latency = Math.max(...receiver.received.map((r) => r.at)) - t0;
    console.log(`[multiprocess] idle workers delivered a new event ${latency} ms after the ingest request`);
    expect(latency).toBeLessThan(5000);
  });

  it('1,500 events to 2 webhooks over two workers: every delivery arrives exactly once', { timeout: 60_000 }, async () => {
    maxPerPath = 0;
    delayFor = () => 10;
    const keys = Array.from({ length: 1500 }, (_, i) => `b${i}`);
    const expected = expectedPairs(PATHS, keys);
    const t0 = Date.now();
    await ingest(keys);
    await waitAll(expected, 45_000);
    const took = Date.now() - t0;
    // Nothing is left to send, so no late duplicate can still come.
    await eventually(pendingCount, (n) => n === 0, 10_000);
    const s = ledger.stats(expected);
    console.log(`[multiprocess] ${expected.size} deliveries in ${took} ms; receiver saw up to ${maxPerPath} concurrent requests to one webhook; requests ${s.requests}, duplicates ${s.duplicates}`);
    expect(s.distinctPairs).toBe(expected.size);
    expect(s.distinctIds).toBe(expected.size);
    expect(s.duplicates).toBe(0);
    expect(s.requests).toBe(expected.size);
    // One worker never has more than ENDPOINT_CONCURRENCY requests to one webhook in flight:
    // more at once means both workers were sending, from claims that did not overlap.
    expect(maxPerPath).toBeGreaterThan(ENDPOINT_CONCURRENCY);
  });

  it('SIGKILL of one worker mid-run: the other finishes its leased deliveries after the lease', { timeout: 90_000 }, async () => {
    delayFor = () => 20;
    const keys = Array.from({ length: 1000 }, (_, i) => `c${i}`);
    const expected = expectedPairs(PATHS, keys);
    await ingest(keys);
    await eventually(() => ledger.arrived(expected), (n) => n >= expected.size * 0.2, 30_000);
    const [victim, survivor] = workers;
    victim.kill('SIGKILL');
    const killedAt = Date.now();
    expect((await victim.exited).signal).toBe('SIGKILL');
    const atKill = ledger.arrived(expected);
    expect(atKill, 'the kill should land before everything was delivered').toBeLessThan(expected.size);

    await waitAll(expected, 60_000);
    const doneAt = Date.now();
    await eventually(pendingCount, (n) => n === 0, 10_000);
    const s = ledger.stats(expected);
    expect(s.distinctIds).toBe(expected.size);
    expect(s.idsOnSeveralPairs).toBe(0);
    expect(survivor.running).toBe(true);
    // Repeats are what the killed worker had leased (and sent, unrecorded): taken up by the
    // survivor only once the lease ran out.
    const repeats = repeatTimes(receiver).filter((t) => t >= killedAt);
    const resent = repeats.length ? `, repeats ${repeats[0] - killedAt}–${repeats[repeats.length - 1] - killedAt} ms after the kill` : '';
    console.log(
      `[multiprocess] SIGKILL after ${atKill}/${expected.size} had arrived; the surviving worker completed the rest ${doneAt - killedAt} ms after the kill ` +
        `(lease ${LEASE_MS} ms); requests ${s.requests}, duplicates ${s.duplicates}${resent}`,
    );
    workers = [survivor];
  });

  it('SIGTERM: a worker finishes its in-flight deliveries and exits 0 within the delivery timeout + 3 s', { timeout: 60_000 }, async () => {
    const [worker] = workers;
    // Slow answers (inside the 2 s timeout) while the worker runs, so deliveries are in flight
    // at the signal, and all it sends while stopping must still fit the timeout.
    let slow = true;
    delayFor = () => (slow ? 1500 : 0);
    const keys = Array.from({ length: 100 }, (_, i) => `d${i}`);
    const expected = expectedPairs(PATHS, keys);
    await ingest(keys);
    await eventually(() => ledger.arrived(expected), (n) => n >= 4, 10_000);
    // Requests the receiver holds right now (each answered 1.5 s after it arrived).
    const inFlightAtTerm = inFlight;
    expect(inFlightAtTerm).toBeGreaterThan(0);
    const t0 = Date.now();
    worker.kill('SIGTERM');
    const exit = await worker.exited;
    const took = Date.now() - t0;
    slow = false;
    expect(exit, worker.output().slice(-2000)).toEqual({ code: 0, signal: null });
    expect(took).toBeLessThan(DELIVERY_TIMEOUT_MS + 3000);

    // A fresh worker sends what the stopped one gave back or never claimed.
    const next = await startWorker();
    workers = [next];
    await waitAll(expected, 30_000);
    await eventually(pendingCount, (n) => n === 0, 10_000);
    const s = ledger.stats(expected);
    console.log(
      `[multiprocess] SIGTERM with ${inFlightAtTerm} requests in flight at the receiver: exited ${exit.code} after ${took} ms; ` +
        `a new worker sent the rest; requests ${s.requests}, duplicates ${s.duplicates}`,
    );
    expect(s.distinctIds).toBe(expected.size);
    // What was in flight completed and was recorded before the exit: nothing is sent twice.
    expect(s.duplicates).toBe(0);
  });
});
