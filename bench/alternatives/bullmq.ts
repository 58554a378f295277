/**
 * What a Node team would build on BullMQ 5 (Redis): the ingest API adds one job per
 * event × webhook with addBulk; a Worker (concurrency 100 by default, tuning.concurrency) signs
 * and POSTs, throws on a failed attempt so BullMQ retries it with exponential backoff, and
 * returns the outcome, which BullMQ records on the completed job.
 *
 * Settings follow BullMQ's guides: `maxRetriesPerRequest: null` on the worker's connection,
 * `enableOfflineQueue: false` on the API's (fail fast instead of holding the request), a
 * concurrency factor of 50–100 for I/O-bound jobs, auto-removal of finished jobs by age (kept a
 * day, like a delivery log), retries with exponential backoff.
 *
 * Usage (as a child of bench/run.ts): tsx bench/alternatives/bullmq.ts api|worker
 */
import { Queue, Worker, type Job } from 'bullmq';
import { deliver, lifecycle, ok, readConfig, serveIngest, type Delivery } from './common.ts';

const role = process.argv[2];
const cfg = readConfig();
if (!cfg.redis) throw new Error('bullmq: no redis in BENCH_ALT_CONFIG');
const { host, port, prefix } = cfg.redis;

export const JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 5000 },
  removeOnComplete: { age: 24 * 3600 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

if (role === 'api') {
  const queue = new Queue<Delivery>(cfg.queue, { connection: { host, port, enableOfflineQueue: false }, prefix });
  await queue.waitUntilReady();
  const server = await serveIngest(cfg, async (ds) => {
    await queue.addBulk(ds.map((data) => ({ name: 'deliver', data, opts: JOB_OPTIONS })));
  });
  lifecycle(async () => {
    await server.close();
    await queue.close();
  }, { port: server.port });
} else if (role === 'worker') {
  const worker = new Worker<Delivery>(
    cfg.queue,
    async (job: Job<Delivery>) => {
      const outcome = await deliver(cfg, job.data, `msg_${job.id}`);
      if (!ok(outcome)) throw new Error(outcome.error ?? `http_status ${outcome.status}`);
      return outcome;
    },
    { connection: { host, port, maxRetriesPerRequest: null }, prefix, concurrency: cfg.tuning.concurrency ?? 100 },
  );
  worker.on('error', (err) => console.error('worker error', err.message));
  await worker.waitUntilReady();
  lifecycle(() => worker.close(), {});
} else {
  throw new Error(`bullmq: unknown role ${role}`);
}
