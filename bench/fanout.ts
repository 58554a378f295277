/**
 * How long N events fanned out to three local endpoints take to arrive, end to end
 * (ingest API → store → fan-out → signed POST → recorded), against a ceiling measured in
 * the same run: a bare undici client POSTing the same number of same-sized bodies to the
 * same receiver. Usage: npm run bench -- [--events 10000] [--store sqlite|postgres|both]
 */
import { fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { Agent, request } from 'undici';
import { loadConfig } from '../src/config/load.ts';
import { createService } from '../src/service.ts';
import { openDatabase } from '../src/store/database.ts';
import { migrate } from '../src/store/migrate.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '10000' }, store: { type: 'string', default: 'both' } } });
const EVENTS = Number(values.events);
const WEBHOOKS = 3;
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

type Arrival = [string, string, number];
async function startReceiver() {
  const child = fork(new URL('./receiver.ts', import.meta.url), { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m: any) => resolve(m.port)));
  const arrivals: Arrival[] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  child.on('message', (m: any) => {
    if (!Array.isArray(m)) return;
    arrivals.push(...m);
    if (waiter && arrivals.length >= waiter.n) waiter.resolve();
  });
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    waitFor: (n: number) => new Promise<void>((resolve) => (arrivals.length >= n ? resolve() : (waiter = { n, resolve }))),
    reset: () => arrivals.splice(0),
    stop: () => child.kill(),
  };
}

const sampleBody = JSON.stringify({
  event: 'email.delivered',
  timestamp: new Date().toISOString(),
  email_id: randomUUID(),
  domain_id: null,
  data: { recipient: 'jane@example.com' },
});

async function ceiling(receiver: Awaited<ReturnType<typeof startReceiver>>, total: number) {
  receiver.reset();
  const agent = new Agent({ connections: 16 });
  const start = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < total) {
      next++;
      const res = await request(`${receiver.url}/ceiling`, { method: 'POST', body: sampleBody, headers: { 'content-type': 'application/json' }, dispatcher: agent });
      await res.body.dump();
    }
  };
  await Promise.all(Array.from({ length: 3 * 16 }, lane));
  await receiver.waitFor(total);
  const seconds = (performance.now() - start) / 1000;
  await agent.close();
  return { seconds, perSecond: total / seconds };
}

async function endToEnd(kind: 'sqlite' | 'postgres', receiver: Awaited<ReturnType<typeof startReceiver>>) {
  receiver.reset();
  const dataDir = mkdtempSync(join(tmpdir(), 'mlw-bench-'));
  let databaseUrl: string | undefined;
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  if (kind === 'postgres') {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.end();
    const u = new URL(PG_URL);
    u.searchParams.set('options', `-c search_path=${schema}`);
    databaseUrl = u.toString();
  }
  const config = loadConfig({
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    ADMIN_TOKEN: randomBytes(24).toString('hex'),
    INGEST_TOKEN: randomBytes(24).toString('hex'),
    SECRETS_KEY: randomBytes(32).toString('hex'),
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    LOG_LEVEL: 'warn',
  });
  const database = openDatabase({ databaseUrl, dataDir });
  await migrate(database);
  const service = await createService(config, database, pino({ level: 'warn' }), 'all');
  const app = service.app!;
  const admin = { authorization: `Bearer ${config.adminToken}` };
  const customer = (await app.inject({ method: 'POST', url: '/admin/v1/customers', headers: admin, payload: { name: 'bench', plan: 'business' } })).json();
  const key = (await app.inject({ method: 'POST', url: `/admin/v1/customers/${customer.id}/api-keys`, headers: admin })).json().key;
  for (let i = 0; i < WEBHOOKS; i++) {
    await app.inject({ method: 'POST', url: '/api/v1/customer/webhooks', headers: { 'x-api-key': key }, payload: { url: `${receiver.url}/hook${i}`, events: ['email.delivered'] } });
  }
  const start = performance.now();
  for (let i = 0; i < EVENTS; i += 500) {
    const events = Array.from({ length: Math.min(500, EVENTS - i) }, (_, j) => ({
      id: `e${i + j}`,
      customer_id: customer.id,
      event: 'email.delivered',
      email_id: randomUUID(),
      data: { recipient: 'jane@example.com' },
    }));
    const res = await app.inject({ method: 'POST', url: '/internal/v1/events', headers: { authorization: `Bearer ${config.ingestToken}` }, payload: { events } });
    if (res.statusCode !== 202) throw new Error(`ingest answered ${res.statusCode}: ${res.body}`);
  }
  const ingestSeconds = (performance.now() - start) / 1000;
  await receiver.waitFor(EVENTS * WEBHOOKS);
  const seconds = (performance.now() - start) / 1000;
  await service.close();
  rmSync(dataDir, { recursive: true, force: true });
  if (kind === 'postgres') {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA ${schema} CASCADE`);
    await c.end();
  }
  return { seconds, ingestSeconds, perSecond: (EVENTS * WEBHOOKS) / seconds };
}

const receiver = await startReceiver();
const total = EVENTS * WEBHOOKS;
const results: Record<string, unknown> = { machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) }, events: EVENTS, webhooks: WEBHOOKS };
const base = await ceiling(receiver, total);
results.ceiling = base;
console.log(`ceiling (bare undici, ${total} POSTs): ${base.seconds.toFixed(2)} s, ${Math.round(base.perSecond)}/s`);
for (const kind of values.store === 'both' ? (['sqlite', 'postgres'] as const) : [values.store as 'sqlite' | 'postgres']) {
  const r = await endToEnd(kind, receiver);
  results[kind] = { ...r, ratioToCeiling: r.perSecond / base.perSecond };
  console.log(
    `${kind}: ${EVENTS} events × ${WEBHOOKS} webhooks arrived in ${r.seconds.toFixed(2)} s (ingest done after ${r.ingestSeconds.toFixed(2)} s), ` +
      `${Math.round(r.perSecond)} deliveries/s = ${(r.perSecond / base.perSecond).toFixed(2)}× the ceiling`,
  );
}
receiver.stop();
writeFileSync(new URL(`./results/fanout-${Date.now()}.json`, import.meta.url), JSON.stringify(results, null, 2));
process.exit(0);
