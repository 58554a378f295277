import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Tables } from './tables.ts';

export type Db = Kysely<Tables>;

/**
 * What differs between the two stores, as flags (the Kysely DialectAdapter habit), so the
 * queries branch on a capability instead of on a dialect name.
 */
export interface Capabilities {
  /** Several processes share the database: claims need FOR UPDATE SKIP LOCKED. */
  readonly skipLocked: boolean;
  /** Wake-ups can cross processes through LISTEN/NOTIFY. */
  readonly listenNotify: boolean;
}

export interface Database {
  readonly db: Db;
  readonly dialect: 'sqlite' | 'postgres';
  readonly capabilities: Capabilities;
  /** PostgreSQL only: a connection string for a dedicated LISTEN connection. */
  readonly connectionString?: string;
  close(): Promise<void>;
}

export const WORK_CHANNEL = 'mailerlogic_work';

// BIGINT (oid 20) holds unix-ms times: they fit a JS number exactly until the year 285,000.
const pgTypes = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'),
};

export function openDatabase(opts: { databaseUrl?: string; dataDir: string; poolSize?: number }): Database {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 10, types: pgTypes });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      dialect: 'postgres',
      capabilities: { skipLocked: true, listenNotify: true },
      connectionString: opts.databaseUrl,
      close: () => db.destroy(),
    };
  }
  mkdirSync(opts.dataDir, { recursive: true });
  const file = new SQLite(join(opts.dataDir, 'mailerlogic.sqlite'));
  file.pragma('journal_mode = WAL');
  // FULL: a 202 from ingest means the events survive a power cut, not only a crash.
  file.pragma('synchronous = FULL');
  file.pragma('busy_timeout = 5000');
  file.pragma('foreign_keys = ON');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: file }) });
  return {
    db,
    dialect: 'sqlite',
    capabilities: { skipLocked: false, listenNotify: false },
    close: () => db.destroy(),
  };
}

export async function ping(database: Database): Promise<void> {
  await sql`select 1`.execute(database.db);
}
