/**
 * Starts one "built instead" alternative as two child processes (its ingest API and its
 * worker, like `serve --no-worker` + `worker`), with its own Redis key prefix or PostgreSQL
 * schema, and undoes both when stopped.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { AltConfig } from '../alternatives/common.ts';
import { createSchema, dropSchema, onCleanup, schemaUrl } from './cleanup.ts';
import { forkTracked, stop, type Tracked } from './proc.ts';
import type { CaseHooks, System } from './system.ts';

export type AlternativeKind = 'bullmq' | 'pgboss';

export const REDIS = { host: process.env.BENCH_REDIS_HOST ?? '127.0.0.1', port: Number(process.env.BENCH_REDIS_PORT ?? 6379) };

/** The few ioredis commands used here (BullMQ types its client more narrowly). */
type RedisCommands = {
  scan(cursor: string, ...args: (string | number)[]): Promise<[string, string[]]>;
  unlink(...keys: string[]): Promise<number>;
  info(section: string): Promise<string>;
};

/** Deletes every key under `prefix:` (BullMQ's obliterate first, then a bounded SCAN for anything left). */
export async function flushRedisPrefix(prefix: string, queueName: string): Promise<number> {
  if (!/^mlwbench:\d+:[0-9a-f]+$/.test(prefix)) throw new Error(`bad redis prefix ${prefix}`);
  const queue = new Queue(queueName, { connection: { ...REDIS, maxRetriesPerRequest: 3, connectTimeout: 5000 }, prefix });
  try {
    await queue.obliterate({ force: true }).catch(() => {});
    const client = (await queue.client) as unknown as RedisCommands;
    let cursor = '0';
    let deleted = 0;
    for (let i = 0; i < 100_000; i++) {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) deleted += await client.unlink(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
    return deleted;
  } finally {
    await queue.close().catch(() => {});
  }
}

/** Keys of earlier runs (prefix mlwbench:<pid>:<hex>) whose process is gone: deleted. Returns their prefixes. */
export async function dropStaleRedisPrefixes(isAlive: (pid: number) => boolean): Promise<string[]> {
  const queue = new Queue('probe', { connection: { ...REDIS, maxRetriesPerRequest: 3, connectTimeout: 5000 }, prefix: 'mlwbench-probe' });
  const prefixes = new Set<string>();
  try {
    const client = (await queue.client) as unknown as RedisCommands;
    let cursor = '0';
    for (let i = 0; i < 100_000; i++) {
      const [next, keys] = await client.scan(cursor, 'MATCH', 'mlwbench:*', 'COUNT', 1000);
      for (const k of keys) {
        const m = /^(mlwbench:(\d+):[0-9a-f]+):/.exec(k);
        if (m && !isAlive(Number(m[2]))) prefixes.add(m[1]);
      }
      cursor = next;
      if (cursor === '0') break;
    }
    await client.unlink('mlwbench-probe:probe:meta');
  } finally {
    await queue.close().catch(() => {});
  }
  for (const p of prefixes) await flushRedisPrefix(p, 'webhooks');
  return [...prefixes];
}

/** Memory Redis reports using now, in bytes (the shared server: context, not counted as the system's RSS). */
export async function redisUsedMemory(): Promise<number> {
  const queue = new Queue('probe', { connection: { ...REDIS, maxRetriesPerRequest: 3, connectTimeout: 5000 }, prefix: 'mlwbench-probe' });
  try {
    const client = (await queue.client) as unknown as RedisCommands;
    const info = await client.info('memory');
    await client.unlink('mlwbench-probe:probe:meta');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
  } finally {
    await queue.close().catch(() => {});
  }
}

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export async function startAlternative(kind: AlternativeKind, cases: CaseHooks, runTag: string, tuning: Record<string, number>): Promise<System> {
  const cfg: AltConfig = { ingestToken: randomBytes(24).toString('hex'), queue: 'webhooks', customers: {}, webhooks: {}, tuning };
  const customers: Record<string, string> = {};
  for (const [caseKey, urls] of Object.entries(cases)) {
    const customerId = randomUUID();
    customers[caseKey] = customerId;
    cfg.customers[customerId] = urls.map((url) => {
      const id = randomUUID();
      cfg.webhooks[id] = { url, secret: newSecret() };
      return id;
    });
  }
  let undo: () => Promise<void>;
  if (kind === 'bullmq') {
    const prefix = `mlwbench:${runTag.replace('_', ':')}`;
    cfg.redis = { ...REDIS, prefix };
    const forget = onCleanup(`redis ${prefix}`, async () => void (await flushRedisPrefix(prefix, cfg.queue)));
    undo = async () => {
      await flushRedisPrefix(prefix, cfg.queue);
      forget();
    };
  } else {
    const schema = await createSchema(`mlwbench_${runTag}_pgboss`);
    cfg.pg = { url: schemaUrl(schema), schema };
    undo = () => dropSchema(schema);
  }
  const procs: Tracked[] = [];
  const launch = async (role: 'api' | 'worker') => {
    const t = forkTracked(`${kind}-${role}`, new URL(`../alternatives/${kind}.ts`, import.meta.url), [role], {
      execArgv: ['--import', 'tsx'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, BENCH_ALT_CONFIG: JSON.stringify(cfg) },
    });
    procs.push(t);
    let timer: NodeJS.Timeout | undefined;
    const ready = await Promise.race([
      new Promise<{ port?: number }>((resolve) => t.child.on('message', (m: { ready?: boolean; port?: number }) => m?.ready && resolve(m))),
      t.exited.then(() => undefined),
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 60_000))),
    ]);
    clearTimeout(timer);
    if (!ready) throw new Error(`${kind} ${role} did not start:\n${t.tail()}`);
    return ready;
  };
  const stopAll = async () => {
    await Promise.all(procs.map((t) => stop(t, 8000)));
    await undo();
  };
  try {
    const api = await launch('api');
    await launch('worker');
    return {
      target: { ingestUrl: `http://127.0.0.1:${api.port}/internal/v1/events`, ingestToken: cfg.ingestToken },
      customers,
      procs,
      stop: stopAll,
      pgSchema: cfg.pg?.schema,
      settings: { processes: procs.map((p) => p.label), ...tuning, ...(kind === 'bullmq' ? { redis: `${REDIS.host}:${REDIS.port}` } : { schema: cfg.pg!.schema }) },
    };
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
}
