import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWakeup, type Wakeup } from '../../../src/delivery/wakeup.ts';
import type { Database } from '../../../src/store/database.ts';
import { eventually } from '../../helpers/receiver.ts';
import { createTestStore, STORES, type TestStore } from '../../helpers/stores.ts';

/**
 * Wake-ups name the webhooks that got new work, so a worker can claim those by index; in one
 * process through an event emitter, across processes through NOTIFY (PostgreSQL).
 */
const logger = pino({ level: 'silent' });

describe.each(STORES)('wake-ups (%s)', (kind) => {
  let store: TestStore;
  let database: Database;
  const wakeups: Wakeup[] = [];

  beforeAll(async () => {
    store = await createTestStore(kind);
    database = store.open();
  });
  afterAll(async () => {
    await Promise.all(wakeups.map((w) => w.close()));
    await database?.close();
    await store?.drop();
  });

  it('reach a listener in the same process with the webhook ids, or none for "scan"', () => {
    const wakeup = createWakeup(database, logger, { listen: false });
    wakeups.push(wakeup);
    const seen: (string[] | undefined)[] = [];
    const off = wakeup.onWake((ids) => seen.push(ids));
    wakeup.wake(['w1', 'w2']);
    wakeup.wake();
    off();
    wakeup.wake(['after']);
    expect(seen).toEqual([['w1', 'w2'], undefined]);
  });

  // NOTIFY exists on PostgreSQL only; SQLite serves one process.
  if (kind === 'postgres') {
    it('reach a worker in another process through NOTIFY, names included, a burst coalesced', async () => {
      const api = createWakeup(database, logger, { listen: false });
      const worker = createWakeup(database, logger, { listen: true });
      wakeups.push(api, worker);
      const seen: (string[] | undefined)[] = [];
      worker.onWake((ids) => seen.push(ids));
      // Listening: it wakes once (undefined) as it starts, for whatever came before.
      await eventually(() => seen.length, (n) => n > 0, 5000);
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      api.wake([a]);
      api.wake([b]);
      api.wake([c]);
      const named = () => new Set(seen.flatMap((ids) => ids ?? []));
      await eventually(named, (s) => s.has(a) && s.has(b) && s.has(c), 5000);
    });
  }
});
