import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/load.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { SecretBox } from '../signing/secret-box.ts';
import { createGuardedConnector } from '../ssrf/guarded-lookup.ts';
import type { Database } from '../store/database.ts';
import { claimDue, claimForWebhooks, complete, loadHeldTargets, loadPayloads, loadTargets, releaseClaims, type ClaimedDelivery, type Completion, type DeliveryTarget } from '../store/queue.ts';
import { classify, prepare, send } from './dispatch.ts';
import { WebhookHttpClient } from './http-client.ts';
import type { Wakeup } from './wakeup.ts';

/**
 * The delivery loop of one process.
 *
 * States: running → stopping → stopped. While running it repeats: claim due deliveries (as
 * many as it has room for) → send each without waiting for the others → buffer outcomes →
 * write them in batches. With nothing due it sleeps until a wake-up (new work in this
 * process, or NOTIFY from another), a freed slot, or the poll interval.
 *
 * Two kinds of claim: a scan of the queue's head, for work it does not hold yet (after new
 * work arrives, a retry falls due, the poll interval, or room frees up across the worker;
 * repeated while it finds something), and a refill of the lanes that have room for another
 * claim's worth, by webhook (an index seek: it does not read past other webhooks' backlogs).
 * Within a claim, deliveries start in queue order, so each event's domain-scoped deliveries
 * are sent before its customer-level ones.
 *
 * Isolation: at most `endpointConcurrency` (C) requests to one webhook are in flight, and a
 * few rounds more may wait here. A claim brings at most C rows per webhook, and a webhook
 * holding more than (R - 1) × C is left out of claims, so one never holds more than R × C:
 * a slow or dead endpoint occupies at most C of the worker's WORKER_CONCURRENCY request slots
 * (what waits behind them is not counted) and never the queue's head.
 * R is how many delivery timeouts fit in the lease, less one: the last one waiting is sent
 * and answered before its lease ends, so no other worker takes up what this one still holds.
 */

export interface WorkerDeps {
  database: Database;
  secretBox: SecretBox;
  metrics: Metrics;
  logger: Logger;
  config: Pick<
    Config,
    'allowPrivateNetworks' | 'retryScheduleMs' | 'deliveryTimeoutMs' | 'disableAfterMs' | 'leaseDurationMs' | 'workerConcurrency' | 'endpointConcurrency'
  >;
  wakeup: Wakeup;
  client?: WebhookHttpClient;
}

const POLL_INTERVAL_MS = 1000;

const originOf = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid-url';
  }
};
const CLAIM_BATCH = 200;
const FLUSH_SIZE = 500;
const FLUSH_DELAY_MS = 5;

export type Worker = { stop(): Promise<void>; readonly id: string };

/** `waited`: it sat in its webhook's lane, so the target read at claim time may be stale. */
type Job = { delivery: ClaimedDelivery; target: DeliveryTarget; payload: string; waited?: boolean };

export function startWorker(deps: WorkerDeps): Worker {
  const { database, config, logger, metrics } = deps;
  const id = `worker-${randomUUID()}`;
  const client =
    deps.client ??
    new WebhookHttpClient({
      timeoutMs: config.deliveryTimeoutMs,
      // Per webhook, the lanes below hold in-flight requests to endpointConcurrency. The pool
      // must not cap them per origin as well: webhooks sharing a host (paths of one receiver,
      // a hosted automation service) would then queue behind a slow one's connections, and
      // time spent queued counts against the delivery timeout.
      connectionsPerOrigin: config.workerConcurrency,
      connector: createGuardedConnector({ allowPrivateNetworks: config.allowPrivateNetworks, timeoutMs: config.deliveryTimeoutMs }),
    });
  let state: 'running' | 'stopping' | 'stopped' = 'running';
  let inFlight = 0;
  // `more`: the last claim for this webhook may have left due deliveries behind (it brought a
  // full share, was cut by the claim's limit, or was skipped for lack of room).
  type Lane = { active: number; waiting: Job[]; more: boolean };
  const perWebhook = new Map<string, Lane>();
  // Webhooks that answered 410 here. Until the flush has written their disabling nothing more
  // is sent to them; for one lease after it, what was claimed before it is checked again.
  const gone = new Set<string>();
  const goneRecorded = new Map<string, number>();
  let pending: Completion[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();
  let wakeWaiter: (() => void) | undefined;
  const refillAt = Math.max(1, Math.floor(Math.min(CLAIM_BATCH, config.workerConcurrency) / 4));

  // A wake-up that comes while the loop is busy claiming is kept, not lost: the loop claims
  // once more before it sleeps (new work must not wait for the poll interval).
  let wakeMissed = false;
  const wakeLoop = () => {
    const w = wakeWaiter;
    wakeWaiter = undefined;
    if (w) w();
    else wakeMissed = true;
  };
  // What the loop has to do when it wakes: scan the head, refill some lanes, or both.
  let scanWanted = true;
  const refills = new Set<string>();
  const wakeToScan = () => {
    scanWanted = true;
    wakeLoop();
  };
  const wakeToRefill = (webhookId: string) => {
    refills.add(webhookId);
    wakeLoop();
  };
  // New work for named webhooks is claimed by index (a refill); the lanes without room skip
  // it and take it up when they drain. Many names, or none, mean a scan of the head.
  const unsubscribe = deps.wakeup.onWake((webhookIds) => {
    if (!webhookIds || webhookIds.length > CLAIM_BATCH / 2) return wakeToScan();
    for (const w of webhookIds) refills.add(w);
    wakeLoop();
  });

  const lane = (webhookId: string) => {
    let l = perWebhook.get(webhookId);
    if (!l) perWebhook.set(webhookId, (l = { active: 0, waiting: [], more: false }));
    return l;
  };
  const rounds = Math.max(1, Math.floor(config.leaseDurationMs / config.deliveryTimeoutMs) - 1);
  const maxHeld = rounds * config.endpointConcurrency;
  const saturated = () => [...perWebhook.entries()].filter(([, l]) => l.active + l.waiting.length > maxHeld - config.endpointConcurrency).map(([w]) => w);
  // Room is counted in request slots: a lane takes at most C of them whatever waits behind,
  // so the rounds a dead endpoint holds in waiting do not crowd out other endpoints.
  const occupied = () => [...perWebhook.values()].reduce((n, l) => n + Math.min(l.active + l.waiting.length, config.endpointConcurrency), 0);

  // A retry due sooner than the next poll wakes the loop itself (a little after it is due,
  // so its outcome has been written by then), instead of waiting out the poll interval.
  let dueTimer: NodeJS.Timeout | undefined;
  let dueAt = Infinity;
  function wakeAt(at: number) {
    if (at >= dueAt || at - Date.now() > POLL_INTERVAL_MS) return;
    dueAt = at;
    clearTimeout(dueTimer);
    dueTimer = setTimeout(() => {
      dueAt = Infinity;
      dueTimer = undefined;
      wakeToScan();
    }, Math.max(0, at - Date.now()) + 20);
    dueTimer.unref();
  }

  function finish(c: Completion) {
    if (c.status === 'pending') wakeAt(c.nextAttemptAt);
    else metrics.deliveriesFinished.inc({ outcome: c.status });
    pending.push(c);
    if (pending.length >= FLUSH_SIZE) void flush();
    else flushTimer ??= setTimeout(() => void flush(), FLUSH_DELAY_MS);
  }

  // Writes are serialised: one batch at a time, in order. A failed write is tried again; a
  // batch that keeps failing is split in halves, so one outcome the database refuses cannot
  // hold up the others, and an outcome that fails alone three times is dropped (its lease
  // runs out and the delivery is sent again: at worst a duplicate, never a loss).
  function flush(): Promise<void> {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    flushing = flushing.then(async () => {
      const queue: { batch: Completion[]; failures: number }[] = [];
      while (pending.length > 0 || queue.length > 0) {
        if (queue.length === 0) {
          queue.push({ batch: pending, failures: 0 });
          pending = [];
        }
        const item = queue.shift()!;
        try {
          const { disabled } = await complete(database, id, item.batch, { now: Date.now(), disableAfterMs: config.disableAfterMs });
          for (const w of disabled) logger.warn({ webhookId: w }, 'webhook disabled');
          const at = Date.now();
          for (const [w, t] of goneRecorded) if (at - t > config.leaseDurationMs) goneRecorded.delete(w);
          for (const c of item.batch) if (c.health === 'gone' && gone.delete(c.webhookId)) goneRecorded.set(c.webhookId, at);
        } catch (err) {
          const failures = item.failures + 1;
          if (failures < 3) queue.unshift({ batch: item.batch, failures });
          else if (item.batch.length > 1) {
            const half = Math.ceil(item.batch.length / 2);
            queue.unshift({ batch: item.batch.slice(0, half), failures: 0 }, { batch: item.batch.slice(half), failures: 0 });
          } else {
            const [dropped] = item.batch;
            logger.error({ err, deliveryId: dropped.deliveryId }, 'dropping a delivery outcome the database refuses; the delivery will be sent again');
            // A 410 that is never written must not hold back its webhook here for good.
            if (dropped.health === 'gone') gone.delete(dropped.webhookId);
            continue;
          }
          logger.error({ err }, 'recording delivery outcomes failed; retrying');
          await new Promise((r) => setTimeout(r, 500));
          if (state === 'stopped') return;
        }
      }
    });
    return flushing;
  }

  // Re-reads of what waited in a lane, gathered per event-loop turn into one query. Each read
  // is issued after it was asked for, so what it returns is at least as new as the moment of
  // asking.
  let gathering: { ids: Set<string>; result: Promise<Map<string, DeliveryTarget>> } | undefined;
  function heldTarget(deliveryId: string): Promise<DeliveryTarget | undefined> {
    if (!gathering) {
      const batch: { ids: Set<string>; result: Promise<Map<string, DeliveryTarget>> } = {
        ids: new Set(),
        result: new Promise<void>((r) => setImmediate(r)).then(() => {
          gathering = undefined;
          return loadHeldTargets(database.queue, id, [...batch.ids]);
        }),
      };
      gathering = batch;
    }
    gathering.ids.add(deliveryId);
    return gathering.result.then((m) => m.get(deliveryId));
  }

  // Decrypting once per secret, not once per delivery; a regenerated secret is a new key.
  const secrets = new Map<string, string>();
  const decrypt = (stored: string) => {
    let plain = secrets.get(stored);
    if (plain === undefined) {
      plain = deps.secretBox.decrypt(stored);
      if (secrets.size >= 10_000) secrets.clear();
      secrets.set(stored, plain);
    }
    return plain;
  };

  const cancel = (delivery: ClaimedDelivery) =>
    finish({ deliveryId: delivery.id, webhookId: delivery.webhook_id, status: 'cancelled', attempts: delivery.attempts, nextAttemptAt: Date.now() });

  async function deliver(job: Job) {
    const { delivery, payload } = job;
    let { target } = job;
    if (gone.has(delivery.webhook_id)) return cancel(delivery);
    if (job.waited || goneRecorded.has(delivery.webhook_id)) {
      // It waited behind slower requests (or its webhook was just disabled): meanwhile the
      // delivery may have been cancelled (and its webhook switched on again), or the webhook
      // deleted, switched off, pointed elsewhere or given a new secret. Signatures use the
      // secret of send time.
      const fresh = await heldTarget(delivery.id);
      if (!fresh) return; // no longer this worker's to send: nothing to record
      if (fresh.is_active !== 1) return cancel(delivery);
      target = fresh;
    }
    const attempt = delivery.attempts + 1;
    const startedAt = Date.now();
    let secret: string;
    try {
      secret = decrypt(target.secret_enc);
    } catch (err) {
      // Our failure, not the receiver's: no attempt is recorded; the lease expires and the
      // delivery is taken up again once the operator fixes SECRETS_KEY.
      logger.error({ err, webhookId: target.id }, 'cannot decrypt webhook secret; check SECRETS_KEY / SECRETS_KEY_PREVIOUS');
      return;
    }
    const req = prepare({ url: target.url, secret, messageId: delivery.id, eventType: delivery.event_type, attempt, body: payload, now: startedAt });
    const result = await send(client, req, config.allowPrivateNetworks);
    const verdict = classify(result, attempt, config.retryScheduleMs);
    if (verdict.kind === 'give_up' && verdict.gone) gone.add(target.id);
    const r = verdict.record;
    metrics.attemptDuration.observe(r.durationMs / 1000);
    const outcome = verdict.kind === 'delivered' ? 'succeeded' : verdict.kind === 'retry' ? 'retrying' : 'failed';
    metrics.attempts.inc({ outcome, error: r.error ?? 'none' });
    // Failures are what an operator looks for; successes only at debug. The URL is cut to its
    // origin: paths and queries often carry the receiver's own secrets.
    const line = { deliveryId: delivery.id, webhookId: target.id, origin: originOf(target.url), attempt, status_code: r.statusCode, error: r.error, duration_ms: r.durationMs };
    if (outcome === 'succeeded') logger.debug(line, 'delivered');
    else logger.info({ ...line, retry_in_ms: verdict.kind === 'retry' ? verdict.delayMs : undefined }, outcome === 'retrying' ? 'delivery attempt failed; will retry' : 'delivery failed for good');
    finish({
      deliveryId: delivery.id,
      webhookId: target.id,
      attempts: attempt,
      status: verdict.kind === 'delivered' ? 'succeeded' : verdict.kind === 'retry' ? 'pending' : 'failed',
      nextAttemptAt: verdict.kind === 'retry' ? Date.now() + verdict.delayMs : Date.now(),
      health: verdict.kind === 'delivered' ? 'ok' : verdict.kind === 'give_up' && verdict.gone ? 'gone' : 'failing',
      attempt: {
        delivery_id: delivery.id,
        attempt,
        started_at: startedAt,
        duration_ms: r.durationMs,
        status_code: r.statusCode,
        error: r.error,
        response_excerpt: r.excerpt,
      },
    });
  }

  /** Starts the lane's next job if it has room; `fromClaim`: right after the claim that read the targets. */
  function startNext(webhookId: string, fromClaim = false): boolean {
    const l = lane(webhookId);
    if (l.active >= config.endpointConcurrency || l.waiting.length === 0 || state !== 'running') return false;
    const job = l.waiting.shift()!;
    if (!fromClaim) job.waited = true;
    l.active++;
    inFlight++;
    metrics.inFlight.inc();
    deliver(job)
      .catch((err) => logger.error({ err }, 'delivery crashed'))
      .finally(() => {
        l.active--;
        inFlight--;
        metrics.inFlight.dec();
        if (l.active === 0 && l.waiting.length === 0) perWebhook.delete(webhookId);
        else pump(webhookId);
        // Claim again when this lane can take a claim's worth again and may have more due
        // (a claim that finds nothing clears `more`, so an idle webhook costs no queries), or
        // when the worker as a whole can: once per crossing, not per finished delivery.
        if (l.more && l.active + l.waiting.length <= maxHeld - config.endpointConcurrency) wakeToRefill(webhookId);
        if (config.workerConcurrency - occupied() === refillAt) wakeToScan();
      });
    return true;
  }

  /** Starts what the lane has room for. */
  function pump(webhookId: string, fromClaim = false) {
    while (startNext(webhookId, fromClaim));
  }

  /** Scans the head for what it has room for and starts sending; returns how many it claimed. */
  async function scanOnce(): Promise<number> {
    const room = Math.min(CLAIM_BATCH, config.workerConcurrency - occupied());
    if (room <= 0) return 0;
    const now = Date.now();
    const skipped = saturated();
    for (const w of skipped) perWebhook.get(w)!.more = true;
    const claimed = await claimDue(database, { workerId: id, now, leaseMs: config.leaseDurationMs, limit: room, perWebhook: config.endpointConcurrency, skipWebhookIds: skipped });
    return take(claimed, now, room);
  }

  /** Claims the next due deliveries of lanes that have room again. */
  async function refillOnce(): Promise<number> {
    const room = Math.min(CLAIM_BATCH, config.workerConcurrency - occupied());
    const full = new Set(saturated());
    const webhookIds = [...refills].filter((w) => !full.has(w) && !gone.has(w));
    for (const w of full) if (refills.has(w)) perWebhook.get(w)!.more = true;
    refills.clear();
    if (room <= 0 || webhookIds.length === 0) return 0;
    const now = Date.now();
    const claimed = await claimForWebhooks(database, { workerId: id, now, leaseMs: config.leaseDurationMs, limit: room, perWebhook: config.endpointConcurrency, webhookIds });
    const found = new Set(claimed.map((d) => d.webhook_id));
    for (const w of webhookIds) {
      const l = perWebhook.get(w);
      if (l && !found.has(w)) l.more = claimed.length >= room;
    }
    return take(claimed, now, room);
  }

  /** Reads what the claimed deliveries need, queues them in their lanes and starts them in queue order. */
  async function take(claimed: ClaimedDelivery[], now: number, limit: number): Promise<number> {
    if (claimed.length === 0) return 0;
    const unread = claimed.filter((d) => d.payload === undefined).map((d) => d.event_id);
    const [payloads, targets] = await Promise.all([
      unread.length ? loadPayloads(database.queue, unread) : new Map<string, string>(),
      loadTargets(database.queue, claimed.map((d) => d.webhook_id)),
    ]);
    const giveBack: string[] = [];
    for (const delivery of claimed) {
      const target = targets.get(delivery.webhook_id);
      const payload = delivery.payload !== undefined ? delivery.payload : payloads.get(delivery.event_id);
      if (!target || target.is_active !== 1 || payload == null || gone.has(delivery.webhook_id)) {
        cancel(delivery);
        continue;
      }
      const l = lane(delivery.webhook_id);
      if (l.active + l.waiting.length >= maxHeld) giveBack.push(delivery.id);
      else l.waiting.push({ delivery, target, payload });
    }
    // One start per claimed delivery, in queue order (each lane is first in, first out), then
    // whatever room is left.
    for (const delivery of claimed) if (perWebhook.has(delivery.webhook_id)) startNext(delivery.webhook_id, true);
    const perClaim = new Map<string, number>();
    for (const d of claimed) perClaim.set(d.webhook_id, (perClaim.get(d.webhook_id) ?? 0) + 1);
    for (const [webhookId, n] of perClaim) {
      const l = perWebhook.get(webhookId);
      if (!l) continue;
      pump(webhookId, true);
      l.more = n >= config.endpointConcurrency || claimed.length >= limit;
      // A fast endpoint can drain its lane below the refill mark while the claim runs: ask now.
      if (l.more && l.active + l.waiting.length <= maxHeld - config.endpointConcurrency) refills.add(webhookId);
    }
    await releaseClaims(database.queue, id, giveBack, now);
    return claimed.length - giveBack.length;
  }

  // The head is scanned at least once per poll interval however busy the loop is: retries,
  // expired leases and released claims fall due without any wake-up, and wake-ups that name
  // webhooks (or a loop kept busy by refills) would otherwise never scan.
  let nextScanAt = 0;
  const loop = (async () => {
    while (state === 'running') {
      wakeMissed = false;
      try {
        if (refills.size > 0) await refillOnce();
        if (Date.now() >= nextScanAt) scanWanted = true;
        if (scanWanted) {
          scanWanted = false;
          nextScanAt = Date.now() + POLL_INTERVAL_MS;
          // Found something: there may be more behind it.
          if ((await scanOnce()) > 0) scanWanted = true;
        }
      } catch (err) {
        logger.error({ err }, 'claiming deliveries failed');
        await new Promise((r) => setTimeout(r, 100));
      }
      if (scanWanted || refills.size > 0 || wakeMissed || state !== 'running') continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wakeWaiter = undefined;
          resolve();
        }, Math.max(0, nextScanAt - Date.now()));
        wakeWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();

  return {
    id,
    async stop() {
      if (state !== 'running') return;
      state = 'stopping';
      unsubscribe();
      clearTimeout(dueTimer);
      wakeLoop();
      await loop;
      // Deliveries claimed but not started go back to the queue at once.
      const waiting = [...perWebhook.values()].flatMap((l) => l.waiting.splice(0).map((j) => j.delivery.id));
      await releaseClaims(database.queue, id, waiting, Date.now()).catch((err) => logger.error({ err }, 'releasing claims failed'));
      while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
      await flush();
      state = 'stopped';
      if (!deps.client) await client.close();
    },
  };
}
