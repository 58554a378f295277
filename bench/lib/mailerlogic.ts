/**
 * MailerLogic Webhooks as it runs in production: `node --import tsx src/main.ts …` child
 * processes, configured by environment, set up through its admin and customer APIs.
 *   sqlite  one `serve` process on an embedded SQLite file
 *   pg      one `serve` process on PostgreSQL
 *   pg3     one `serve --no-worker` and two `worker` processes on PostgreSQL
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { createSchema, dropSchema, onCleanup, schemaUrl } from './cleanup.ts';
import { freePort, spawnTracked, stop, until, type Tracked } from './proc.ts';
import type { CaseHooks, System } from './system.ts';

export type MailerLogicVariant = 'sqlite' | 'pg' | 'pg3';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TETHER = new URL('./tether.ts', import.meta.url).href;

async function call(method: 'POST' | 'GET', url: string, headers: Record<string, string>, body?: unknown) {
  const res = await request(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: 15_000,
    bodyTimeout: 15_000,
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: () => JSON.parse(text), text };
}

export async function startMailerLogic(variant: MailerLogicVariant, cases: CaseHooks, runTag: string): Promise<System> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlwbench-'));
  const forgetDir = onCleanup(`dir ${dataDir}`, async () => rmSync(dataDir, { recursive: true, force: true }));
  const schema = variant === 'sqlite' ? undefined : await createSchema(`mlwbench_${runTag}_ml${variant}`);
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    ADMIN_TOKEN: randomBytes(24).toString('hex'),
    INGEST_TOKEN: randomBytes(24).toString('hex'),
    SECRETS_KEY: randomBytes(32).toString('hex'),
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    LOG_LEVEL: 'warn',
    ...(schema ? { DATABASE_URL: schemaUrl(schema) } : {}),
    ...(process.env.BENCH_PG_PROFILE ? { BENCH_PG_PROFILE: process.env.BENCH_PG_PROFILE } : {}),
    // Experiments only (the table's figures use the defaults): BENCH_ML_ENV="ENDPOINT_CONCURRENCY=64,…".
    ...Object.fromEntries((process.env.BENCH_ML_ENV ?? '').split(',').filter((kv) => kv.includes('=')).map((kv) => kv.split('=', 2))),
  };
  // BENCH_PROFILE=<dir>: each process writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  // BENCH_PG_PROFILE=<dir>: each process writes its SQL statements' counts and times there (see pg-profile.ts).
  const pgProfile = process.env.BENCH_PG_PROFILE ? ['--import', new URL('./pg-profile.ts', import.meta.url).href] : [];
  const procs: Tracked[] = [];
  const launch = (label: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    let started = false;
    const t = spawnTracked(label, process.execPath, [...profile, '--import', 'tsx', '--import', TETHER, ...pgProfile, 'src/main.ts', ...args], { cwd: ROOT, env: { ...env, ...extraEnv }, ipc: true }, (line) => {
      if (line.includes('MailerLogic Webhooks started')) started = true;
    });
    procs.push(t);
    return { t, started: () => started };
  };
  const stopAll = async () => {
    await Promise.all(procs.map((t) => stop(t, 8000)));
    if (schema) await dropSchema(schema);
    rmSync(dataDir, { recursive: true, force: true });
    forgetDir();
  };
  try {
    const base = `http://127.0.0.1:${port}`;
    const api = launch(variant === 'pg3' ? 'api' : 'serve', variant === 'pg3' ? ['serve', '--no-worker'] : ['serve']);
    const healthy = await until(async () => {
      if (api.t.exit) return true;
      try {
        return (await call('GET', `${base}/healthz`, {})).status === 200;
      } catch {
        return false;
      }
    }, 60_000, 100);
    if (!healthy || api.t.exit) throw new Error(`MailerLogic ${variant} did not become healthy:\n${api.t.tail()}`);
    if (variant === 'pg3') {
      // Started after the API has migrated the schema; info level only to see "started".
      // Each worker serves its health and metrics on a port of its own.
      const workers = [
        launch('worker1', ['worker'], { LOG_LEVEL: 'info', PORT: String(await freePort()) }),
        launch('worker2', ['worker'], { LOG_LEVEL: 'info', PORT: String(await freePort()) }),
      ];
      const ok = await until(() => workers.every((w) => w.started() || w.t.exit), 60_000, 100);
      if (!ok || workers.some((w) => w.t.exit)) throw new Error(`MailerLogic workers did not start:\n${workers.map((w) => w.t.tail()).join('\n')}`);
    }
    const admin = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
    const customers: Record<string, string> = {};
    for (const [caseKey, urls] of Object.entries(cases)) {
      const c = await call('POST', `${base}/admin/v1/customers`, admin, { name: `bench ${caseKey}`, plan: 'business' });
      if (c.status !== 201) throw new Error(`create customer answered ${c.status}: ${c.text}`);
      const id = c.json().id as string;
      const k = await call('POST', `${base}/admin/v1/customers/${id}/api-keys`, admin);
      if (k.status !== 201) throw new Error(`create api key answered ${k.status}: ${k.text}`);
      const key = k.json().key as string;
      for (const url of urls) {
        const w = await call('POST', `${base}/api/v1/customer/webhooks`, { 'x-api-key': key }, { url, events: ['email.delivered'] });
        if (w.status !== 201) throw new Error(`create webhook ${url} answered ${w.status}: ${w.text}`);
      }
      customers[caseKey] = id;
    }
    return {
      target: { ingestUrl: `${base}/internal/v1/events`, ingestToken: env.INGEST_TOKEN! },
      customers,
      procs,
      stop: stopAll,
      pgSchema: schema,
      settings: {
        store: variant === 'sqlite' ? 'sqlite' : 'postgres',
        processes: procs.map((p) => p.label),
        WORKER_CONCURRENCY: env.WORKER_CONCURRENCY ?? 'default (256)',
        ENDPOINT_CONCURRENCY: env.ENDPOINT_CONCURRENCY ?? 'default (16)',
      },
    };
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
}
