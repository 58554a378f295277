/**
 * What a Node team would build on pg-boss 10 (PostgreSQL, its own schema): the ingest API
 * writes one job per event × webhook with a single `insert` per request; the worker process
 * registers `work()` handlers that fetch `batchSize` jobs at a time and POST the whole batch
 * concurrently, failing the jobs whose attempt failed (pg-boss retries them with backoff) and
 * letting pg-boss complete the rest.
 *
 * pg-boss 10 removed teamSize/teamConcurrency: its maintainer's advice is batchSize with
 * Promise.all over the batch, and several work() calls for several polling loops; the
 * shortest polling interval it accepts is 0.5 s (it has no LISTEN/NOTIFY wake-up), and a loop
 * fetches again only when its whole batch is done. tuning.batchSize and tuning.loops set them.
 *
 * Usage (as a child of bench/run.ts): tsx bench/alternatives/pgboss.ts api|worker
 */
import PgBoss from 'pg-boss';
import { deliver, lifecycle, ok, readConfig, serveIngest, type Delivery } from './common.ts';

const role = process.argv[2];
const cfg = readConfig();
if (!cfg.pg) throw new Error('pgboss: no pg in BENCH_ALT_CONFIG');
const queue = cfg.queue;

if (role === 'api') {
  // The API process creates the schema and the queue; it runs no maintenance.
  const boss = new PgBoss({ connectionString: cfg.pg.url, schema: cfg.pg.schema, supervise: false, schedule: false, max: 4 });
  boss.on('error', (err) => console.error('pg-boss error', err.message));
  await boss.start();
  await boss.createQueue(queue, { name: queue, retryLimit: 7, retryDelay: 5, retryBackoff: true });
  const server = await serveIngest(cfg, async (ds) => {
    await boss.insert(ds.map((data) => ({ name: queue, data })));
  });
  lifecycle(async () => {
    await server.close();
    await boss.stop({ graceful: false, wait: true, timeout: 3000 });
  }, { port: server.port });
} else if (role === 'worker') {
  const boss = new PgBoss({ connectionString: cfg.pg.url, schema: cfg.pg.schema, schedule: false, migrate: false });
  boss.on('error', (err) => console.error('pg-boss error', err.message));
  await boss.start();
  const batchSize = cfg.tuning.batchSize ?? 100;
  const loops = cfg.tuning.loops ?? 4;
  for (let i = 0; i < loops; i++) {
    await boss.work<Delivery>(queue, { batchSize, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      const outcomes = await Promise.all(jobs.map((job) => deliver(cfg, job.data, job.id)));
      const failed = jobs.filter((_, k) => !ok(outcomes[k])).map((j) => j.id);
      if (failed.length) await boss.fail(queue, failed);
      // pg-boss completes the batch when this returns; the failed ones are no longer active.
    });
  }
  lifecycle(() => boss.stop({ graceful: true, wait: true, timeout: 5000 }), {});
} else {
  throw new Error(`pgboss: unknown role ${role}`);
}
