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
 */
export interface Wakeup {
  wake(): void;
  onWake(listener: () => void): () => void;
  close(): Promise<void>;
}

export function createWakeup(database: Database, logger: Logger, opts: { listen: boolean }): Wakeup {
  const local = new EventEmitter();
  local.setMaxListeners(100);
  let listener: pg.Client | undefined;
  let closed = false;
  let notifying = false;
  let notifyAgain = false;

  const notifyOthers = () => {
    if (!database.capabilities.listenNotify || closed) return;
    // Coalesce: a burst of wake() calls costs at most two round trips.
    if (notifying) {
      notifyAgain = true;
      return;
    }
    notifying = true;
    sql`select pg_notify(${WORK_CHANNEL}, '')`
      .execute(database.db)
      .catch((err) => logger.warn({ err }, 'NOTIFY failed; workers will find the work by polling'))
      .finally(() => {
        notifying = false;
        if (notifyAgain) {
          notifyAgain = false;
          notifyOthers();
        }
      });
  };

  const connectListener = async (): Promise<void> => {
    if (closed || !database.connectionString) return;
    const client = new pg.Client({ connectionString: database.connectionString });
    client.on('notification', () => local.emit('wake'));
    client.on('error', (err) => {
      logger.warn({ err: err.message }, 'LISTEN connection lost; reconnecting');
      client.end().catch(() => {});
      if (!closed) setTimeout(() => void connectListener().catch(() => {}), 1000).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${WORK_CHANNEL}`);
    listener = client;
    local.emit('wake'); // anything that arrived while we were not listening
  };

  const ready = opts.listen && database.capabilities.listenNotify ? connectListener() : Promise.resolve();
  ready.catch((err) => logger.warn({ err: err.message }, 'could not LISTEN; workers will poll'));

  return {
    wake() {
      local.emit('wake');
      notifyOthers();
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
