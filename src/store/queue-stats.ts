import { sql } from 'kysely';
import type { Db } from './database.ts';

// A literal, not a parameter: SQLite uses the partial index of pending deliveries only then.
const isPending = sql<boolean>`status = 'pending'`;

/** Queue depth and how long the oldest due delivery has waited, for /metrics. */
export async function queueStats(db: Db, now: number): Promise<{ pending: number; oldestDueAgeMs: number }> {
  const [count, oldest] = await Promise.all([
    db.selectFrom('deliveries').select((eb) => eb.fn.countAll<number>().as('n')).where(isPending).executeTakeFirstOrThrow(),
    db
      .selectFrom('deliveries')
      .select('next_attempt_at')
      .where(isPending)
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .limit(1)
      .executeTakeFirst(),
  ]);
  return { pending: Number(count.n), oldestDueAgeMs: oldest ? now - oldest.next_attempt_at : 0 };
}
