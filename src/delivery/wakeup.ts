import { EventEmitter } from 'node:events';
import { sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { WORK_CHANNEL, type Database } from '../store/database.ts';

/**
 * Wakes idle workers the moment work is due. In one process an event emitter does it; on
 * PostgreSQL, NOTIFY reaches the workers of every other process too, each of which LISTENs
 * on a dedicated connection. Polling stays as the safety net (workers also wake on a timer),
 * so a lost notification only costs latency, never a delivery.
 *
 * A wake-up may name the webhooks that got new deliveries (ingest knows them): a worker then
 * claims those webhooks' work by index instead of scanning the queue's head, which walks past
 * the backlogs of every endpoint it has no room for. Without names it scans.
 */
export type WakeListener = (webhookIds: string[] | undefined) => void;

export interface Wakeup {
  wake(webhookIds?: string[]): void;
  onWake(listener: WakeListener): () => void;
  close(): Promise<void>;
}

// NOTIFY payloads stop at 8,000 bytes; past this many ids a wake-up says "scan" instead.
const MAX_PAYLOAD = 7000;

export function createWakeup(database: Database, logger: Logger, opts: { listen: boolean }): Wakeup {
  const local = new EventEmitter();
  local.setMaxListeners(100);
  let listener: pg.Client | undefined;
  let closed = false;
  let notifying = false;
  // What the next NOTIFY will say: these webhooks, or 'all' (scan).
  let next: Set<string> | 'all' | undefined;

  const notifyOthers = (webhookIds: string[] | undefined) => {
    if (!database.capabilities.listenNotify || closed) return;
    if (!webhookIds || next === 'all') next = 'all';
    else {
      next ??= new Set();
      for (const w of webhookIds) next.add(w);
    }
    // Coalesce: a burst of wake() calls costs at most two round trips.
    if (notifying) return;
    const ids = next;
    next = undefined;
    const payload = ids === 'all' ? '' : [...ids].join(',');
    notifying = true;
    sql`select pg_notify(${WORK_CHANNEL}, ${payload.length > MAX_PAYLOAD ? '' : payload})`
      .execute(database.db)
      .catch((err) => logger.warn({ err }, 'NOTIFY failed; workers will find the work by polling'))
      .finally(() => {
        notifying = false;
        if (next) notifyOthers([]);
      });
  };

  const connectListener = async (): Promise<void> => {
    if (closed || !database.connectionString) return;
    const client = new pg.Client({ connectionString: database.connectionString });
    client.on('notification', (m) => local.emit('wake', m.payload ? m.payload.split(',') : undefined));
    client.on('error', (err) => {
      logger.warn({ err: err.message }, 'LISTEN connection lost; reconnecting');
      client.end().catch(() => {});
      if (!closed) setTimeout(() => void connectListener().catch(() => {}), 1000).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${WORK_CHANNEL}`);
    listener = client;
    local.emit('wake', undefined); // anything that arrived while we were not listening
  };

  const ready = opts.listen && database.capabilities.listenNotify ? connectListener() : Promise.resolve();
  ready.catch((err) => logger.warn({ err: err.message }, 'could not LISTEN; workers will poll'));

  return {
    wake(webhookIds) {
      local.emit('wake', webhookIds);
      notifyOthers(webhookIds);
    },
    onWake(fn) {
      local.on('wake', fn);
      return () => local.off('wake', fn);
    },
    async close() {
      closed = true;
      await ready.catch(() => {});
      await listener?.end().catch(() => {});
    },
  };
}
