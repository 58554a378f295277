/**
 * What a run must undo whatever happens: PostgreSQL schemas it created, Redis keys under its
 * prefix, temporary folders. Each system registers its undo when it creates the thing, and
 * removes it once it has undone it itself; run.ts calls runCleanups() on every way out.
 */
import pg from 'pg';

const cleanups = new Map<string, () => Promise<void>>();

export function onCleanup(key: string, fn: () => Promise<void>): () => void {
  cleanups.set(key, fn);
  return () => cleanups.delete(key);
}

export async function runCleanups(timeoutMs = 15_000): Promise<string[]> {
  const failures: string[] = [];
  const all = [...cleanups.entries()];
  cleanups.clear();
  await Promise.race([
    Promise.all(
      all.map(([key, fn]) =>
        fn().catch((err) => {
          failures.push(`${key}: ${err?.message ?? err}`);
        }),
      ),
    ),
    new Promise((r) => setTimeout(r, timeoutMs).unref()),
  ]);
  return failures;
}

export const PG_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function withPg<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

const SCHEMA_RE = /^mlwbench_\d+_[0-9a-f]+_[a-z0-9]+$/;

export async function createSchema(name: string): Promise<string> {
  if (!SCHEMA_RE.test(name)) throw new Error(`bad schema name ${name}`);
  await withPg((c) => c.query(`CREATE SCHEMA ${name}`));
  onCleanup(`schema ${name}`, () => dropSchema(name));
  return name;
}

export async function dropSchema(name: string): Promise<void> {
  if (!SCHEMA_RE.test(name)) throw new Error(`bad schema name ${name}`);
  // Other sessions of the dropped system may still hold locks for a moment after SIGKILL.
  await withPg(async (c) => {
    await c.query(`SET lock_timeout = '10s'`);
    await c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  });
  cleanups.delete(`schema ${name}`);
}

/** The connection string of a database whose search_path is `schema`. */
export function schemaUrl(schema: string): string {
  const u = new URL(PG_URL);
  u.search = '';
  return `${u.toString()}?options=-c%20search_path%3D${schema}`;
}

/** Schemas left by earlier runs whose process is gone (a run killed before it could clean up). */
export async function dropStaleSchemas(isAlive: (pid: number) => boolean): Promise<string[]> {
  return withPg(async (c) => {
    const { rows } = await c.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'mlwbench\\_%'`);
    const stale = rows.map((r) => r.nspname).filter((n) => SCHEMA_RE.test(n) && !isAlive(Number(n.split('_')[1])));
    for (const n of stale) await c.query(`DROP SCHEMA IF EXISTS ${n} CASCADE`);
    return stale;
  });
}
