import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';

/**
 * Every store behaviour is tested on both stores. PostgreSQL tests run when a server answers
 * at TEST_DATABASE_URL (default: the local one, trust auth); without one they are skipped
 * with a notice, unless REQUIRE_POSTGRES=1 (CI), where a missing server fails the run.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const pgUp = await postgresReachable();
if (!pgUp) {
  if (process.env.REQUIRE_POSTGRES === '1') throw new Error(`REQUIRE_POSTGRES=1 but no PostgreSQL answers at ${TEST_DATABASE_URL}`);
  console.warn(`NOTICE: no PostgreSQL at ${TEST_DATABASE_URL}; PostgreSQL tests are skipped`);
}

export type StoreKind = 'sqlite' | 'postgres';
export const STORES: StoreKind[] = pgUp ? ['sqlite', 'postgres'] : ['sqlite'];

/** A fresh, migrated, empty store: a temp SQLite file, or a PostgreSQL schema of its own. */
export interface TestStore {
  kind: StoreKind;
  /** DATABASE_URL for child processes (postgres), or undefined (sqlite, use dataDir). */
  databaseUrl?: string;
  dataDir: string;
  open(): Database;
  drop(): Promise<void>;
}

export async function createTestStore(kind: StoreKind): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlw-test-'));
  if (kind === 'sqlite') {
    const store: TestStore = { kind, dataDir, open: () => openDatabase({ dataDir }), drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
    const db = store.open();
    await migrate(db);
    await db.close();
    return store;
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const databaseUrl = url.toString();
  const store: TestStore = {
    kind,
    dataDir,
    databaseUrl,
    open: () => openDatabase({ databaseUrl, dataDir }),
    drop: async () => {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const db = store.open();
  await migrate(db);
  await db.close();
  return store;
}
