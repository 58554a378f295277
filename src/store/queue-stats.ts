import type { Db } from './database.ts';

/** Queue depth and how long the oldest due delivery has waited, for /metrics. */
export async function queueStats(db: Db, now: number): Promise<{ pending: number; oldestDueAgeMs: number }> {
  const [count, oldest] = await Promise.all([
    db.selectFrom('deliveries').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow(),
    db
      .selectFrom('deliveries')
      .select('next_attempt_at')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .limit(1)
      .executeTakeFirst(),
  ]);
  return { pending: Number(count.n), oldestDueAgeMs: oldest ? now - oldest.next_attempt_at : 0 };
}
