import { sql } from 'kysely';
import type { Database } from './database.ts';
import { MIGRATIONS } from './migrations/index.ts';

// Any constant works; it only has to be the same in every process of this service.
const MIGRATION_LOCK_ID = 7_204_118_155;

/**
 * Applies the migrations not yet recorded, in order, each in its own transaction. On
 * PostgreSQL an advisory lock lets several processes start at once without racing.
 * Returns the ids it applied.
 */
export async function migrate(database: Database): Promise<string[]> {
  const { db, dialect } = database;
  const applied: string[] = [];
  await db.connection().execute(async (conn) => {
    if (dialect === 'postgres') await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`.execute(conn);
    try {
      await sql`CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`.execute(conn);
      const done = new Set((await conn.selectFrom('schema_migrations').select('id').execute()).map((r) => r.id));
      for (const m of MIGRATIONS) {
        if (done.has(m.id)) continue;
        await conn.transaction().execute(async (trx) => {
          const text = dialect === 'postgres' ? m.postgres : m.sqlite;
          for (const statement of text.split(';').map((s) => s.trim()).filter(Boolean)) {
            await sql.raw(statement).execute(trx);
          }
          await trx.insertInto('schema_migrations').values({ id: m.id, applied_at: Date.now() }).execute();
        });
        applied.push(m.id);
      }
    } finally {
      if (dialect === 'postgres') await sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.execute(conn);
    }
  });
  return applied;
}
