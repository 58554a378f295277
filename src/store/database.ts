import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
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
  /**
   * The delivery queue's statements (claims, outcomes, the reads that go with them). On
   * PostgreSQL a pool of its own whose sessions plan by index and commit without waiting
   * for the WAL flush (see QUEUE_SESSION); on SQLite the same connection as `db`.
   */
  readonly queue: Db;
  readonly dialect: 'sqlite' | 'postgres';
  readonly capabilities: Capabilities;
  /** PostgreSQL only: a connection string for a dedicated LISTEN connection. */
  readonly connectionString?: string;
  /**
   * A transaction whose commit is on disk before it resolves, power cut included: for what
   * the service acknowledges (ingest's 202). Other writes (claims, outcomes) only need to
   * survive a crash of the process: losing one on a power cut means a delivery is sent
   * again, which at-least-once allows.
   */
  durableTransaction<T>(fn: (trx: Transaction<Tables>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export const WORK_CHANNEL = 'mailerlogic_work';

// BIGINT (oid 20) holds unix-ms times: they fit a JS number exactly until the year 285,000.
const pgTypes = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'),
};

/**
 * Session settings of the queue's connections.
 * - No sequential or bitmap scans: the queue table grows by thousands of rows a second and
 *   its statistics lag behind. With a stale row count the planner read every pending row
 *   through the due index to update a batch of known ids, and claimed with a bitmap scan,
 *   which visits every dead entry at the head of the due index on each claim (an index scan
 *   marks them dead and skips them from then on). Measured: 7 ms per claim against 1 ms.
 * - synchronous_commit off, as SQLite's synchronous = NORMAL: a claim or an outcome lost to a
 *   crash of the database server means a delivery is sent again, which at-least-once allows.
 *   Ingest, which the service acknowledges, goes through `db` and waits for the flush.
 */
const QUEUE_SESSION = '-c enable_seqscan=off -c enable_bitmapscan=off -c synchronous_commit=off';

/** The URL with `options` appended to its own (pg lets those of the URL replace the config's). */
function withOptions(databaseUrl: string, options?: string): string {
  if (!options) return databaseUrl;
  const url = new URL(databaseUrl);
  const own = url.searchParams.get('options');
  url.searchParams.set('options', own ? `${own} ${options}` : options);
  return url.toString();
}

export function openDatabase(opts: { databaseUrl?: string; dataDir: string; poolSize?: number }): Database {
  if (opts.databaseUrl) {
    const pgPool = (max: number, options?: string) => {
      const pool = new pg.Pool({ connectionString: withOptions(opts.databaseUrl!, options), max, types: pgTypes });
      // An idle client losing its connection must not crash the process; the pool replaces it.
      pool.on('error', () => {});
      return new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
    };
    const db = pgPool(opts.poolSize ?? 10);
    // Connections are opened on first use: an API-only process opens none of these.
    const queue = pgPool(6, QUEUE_SESSION);
    return {
      db,
      queue,
      dialect: 'postgres',
      capabilities: { skipLocked: true, listenNotify: true },
      connectionString: opts.databaseUrl,
      // synchronous_commit stays on (the default): every commit is flushed.
      durableTransaction: (fn) => db.transaction().execute(fn),
      close: async () => {
        await Promise.all([db.destroy(), queue.destroy()]);
      },
    };
  }
  mkdirSync(opts.dataDir, { recursive: true });
  const file = new SQLite(join(opts.dataDir, 'mailerlogic.sqlite'));
  file.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a crash of the process without an fsync, which
  // would otherwise block the event loop (better-sqlite3 is synchronous) on every claim and
  // outcome. durableTransaction switches to FULL for the commits that must survive a power cut.
  file.pragma('synchronous = NORMAL');
  file.pragma('busy_timeout = 5000');
  file.pragma('foreign_keys = ON');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: withStatementCache(file) }) });
  return {
    db,
    queue: db,
    dialect: 'sqlite',
    capabilities: { skipLocked: false, listenNotify: false },
    // One connection: holding it keeps other statements out while synchronous is FULL. The
    // FULL commit also syncs the WAL frames of every NORMAL commit before it.
    durableTransaction: (fn) =>
      db.connection().execute(async (conn) => {
        await sql`PRAGMA synchronous = FULL`.execute(conn);
        try {
          return await conn.transaction().execute(fn);
        } finally {
          await sql`PRAGMA synchronous = NORMAL`.execute(conn);
        }
      }),
    close: () => db.destroy(),
  };
}

/**
 * Kysely prepares every query anew; on the delivery path the same few statements run
 * thousands of times a second, and preparing them cost as much as running them. Statements
 * are kept by their SQL text (the least recently used is dropped past the bound); a
 * better-sqlite3 statement is reusable, and calls on one connection never interleave.
 */
function withStatementCache(file: SQLite.Database, max = 512) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => file.close(),
    prepare(text: string) {
      let stmt = cache.get(text);
      if (stmt) cache.delete(text);
      else {
        stmt = file.prepare(text);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
      }
      cache.set(text, stmt);
      return stmt;
    },
  };
}

export async function ping(database: Database): Promise<void> {
  await sql`select 1`.execute(database.db);
}
