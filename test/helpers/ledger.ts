import type { Received, TestReceiver } from './receiver.ts';

/**
 * Bookkeeping of what a TestReceiver got, for at-least-once checks: every request is keyed
 * by its `webhook-id` header and by (path, event key), where the event key is what the test
 * put in the event's metadata (`metadata.key`). Receivers de-duplicate on `webhook-id`;
 * the (path, key) view checks the same thing from the sender's side.
 */
export class Ledger {
  constructor(private readonly receiver: TestReceiver) {}

  private pairOf(r: Received): string {
    let key: unknown;
    try {
      key = JSON.parse(r.body)?.metadata?.key;
    } catch {}
    return `${r.path} ${String(key)}`;
  }

  /** Requests whose (path, event key) is in `expected` (all requests if omitted). */
  private relevant(expected?: Set<string>): Received[] {
    return expected ? this.receiver.received.filter((r) => expected.has(this.pairOf(r))) : this.receiver.received;
  }

  /** Distinct (path, event key) pairs received. */
  arrived(expected?: Set<string>): number {
    return new Set(this.relevant(expected).map((r) => this.pairOf(r))).size;
  }

  missing(expected: Set<string>): string[] {
    const got = new Set(this.receiver.received.map((r) => this.pairOf(r)));
    return [...expected].filter((k) => !got.has(k));
  }

  /**
   * Counts for the requests of `expected`: total requests, distinct webhook-ids, duplicates
   * (requests beyond the first of each webhook-id), and webhook-ids seen on more than one
   * (path, event) pair, which must never happen.
   */
  stats(expected?: Set<string>) {
    const rs = this.relevant(expected);
    const byId = new Map<string, Set<string>>();
    for (const r of rs) {
      const id = String(r.headers['webhook-id']);
      const pairs = byId.get(id) ?? new Set<string>();
      pairs.add(this.pairOf(r));
      byId.set(id, pairs);
    }
    const pairs = new Set(rs.map((r) => this.pairOf(r)));
    return {
      requests: rs.length,
      distinctIds: byId.size,
      distinctPairs: pairs.size,
      duplicates: rs.length - byId.size,
      idsOnSeveralPairs: [...byId.values()].filter((s) => s.size > 1).length,
    };
  }
}

/**
 * When repeats arrived: for every webhook-id received more than once, the times of its
 * second and later arrivals, sorted.
 */
export function repeatTimes(receiver: TestReceiver): number[] {
  const seen = new Set<string>();
  const times: number[] = [];
  for (const r of receiver.received) {
    const id = String(r.headers['webhook-id']);
    if (seen.has(id)) times.push(r.at);
    else seen.add(id);
  }
  return times.sort((a, b) => a - b);
}

/** The (path, event key) pairs a test expects: every key × every path. */
export function expectedPairs(paths: string[], keys: string[]): Set<string> {
  return new Set(paths.flatMap((p) => keys.map((k) => `${p} ${k}`)));
}

/** A one-line picture of the deliveries table, for failure messages. */
export async function queueSnapshot(store: { open(): import('../../src/store/database.ts').Database }): Promise<string> {
  const database = store.open();
  try {
    const now = Date.now();
    const rows = await database.db.selectFrom('deliveries').select(['status', 'locked_by', 'attempts', 'next_attempt_at', 'last_error']).execute();
    const groups = new Map<string, number>();
    for (const r of rows) {
      const due = r.next_attempt_at <= now ? 'due' : `in ${Math.ceil((r.next_attempt_at - now) / 1000)}s`;
      const k = `${r.status}${r.status === 'pending' ? ` ${due} ${r.locked_by ? 'locked' : 'free'} attempts=${r.attempts} err=${r.last_error}` : ''}`;
      groups.set(k, (groups.get(k) ?? 0) + 1);
    }
    return [...groups.entries()].map(([k, n]) => `${n} × ${k}`).join('; ');
  } finally {
    await database.close();
  }
}
