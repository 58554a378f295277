/**
 * The parent's side of bench/receiver.ts: starts it, and sorts the arrivals it reports by case.
 * A webhook URL's path is `/<case>/<hook>` (or `/slow/<case>/<hook>` for the 2 s endpoints),
 * so each case sees only its own deliveries, and one that arrives late for a case already
 * measured is not counted against the next one.
 */
import { forkTracked, stop, type Tracked } from './proc.ts';

export type Arrival = { path: string; id: string; at: number; sentAt: number | null };

export class CaseLog {
  /** First arrival of each distinct webhook-id, in arrival order (empty when `lean`). */
  readonly arrivals: Arrival[] = [];
  readonly ids = new Set<string>();
  duplicates = 0;
  private waiter?: { n: number; resolve: () => void };

  /** lean: count distinct arrivals without keeping them (the soak's million). */
  constructor(private readonly lean = false) {}

  add(a: Arrival) {
    if (this.ids.has(a.id)) {
      this.duplicates++;
      return;
    }
    this.ids.add(a.id);
    if (!this.lean) this.arrivals.push(a);
    if (this.waiter && this.ids.size >= this.waiter.n) {
      this.waiter.resolve();
      this.waiter = undefined;
    }
  }

  get count() {
    return this.ids.size;
  }

  /** Resolves true once n distinct deliveries arrived, false after timeoutMs. */
  waitFor(n: number, timeoutMs: number, filter?: (a: Arrival) => boolean): Promise<boolean> {
    if (filter) {
      // Rare path (degraded case: only the healthy endpoints): poll.
      const end = Date.now() + timeoutMs;
      return new Promise((resolve) => {
        const tick = () => {
          if (this.arrivals.filter(filter).length >= n) resolve(true);
          else if (Date.now() > end) resolve(false);
          else setTimeout(tick, 25);
        };
        tick();
      });
    }
    if (this.ids.size >= n) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(false);
      }, timeoutMs);
      this.waiter = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
    });
  }
}

export type Receiver = {
  hosts: string[];
  port: number;
  /** Origin of webhook number i: each gets its own loopback address while there are enough. */
  origin(i: number): string;
  open(caseKey: string, opts?: { lean?: boolean }): CaseLog;
  close(caseKey: string): void;
  proc: Tracked;
  stop(): Promise<void>;
};

export async function startReceiver(hosts: string[], delayMs: number): Promise<Receiver> {
  const proc = forkTracked('receiver', new URL('../receiver.ts', import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, RECEIVER_HOSTS: hosts.join(','), DELAY_MS: String(delayMs) },
  });
  const logs = new Map<string, CaseLog>();
  const ready = new Promise<{ port: number; hosts: string[] }>((resolve, reject) => {
    proc.child.on('message', (m: unknown) => {
      if (!Array.isArray(m)) {
        if (m && typeof m === 'object' && 'port' in m) resolve(m as { port: number; hosts: string[] });
        return;
      }
      for (const [path, id, at, sentAt] of m as [string, string, number, number | null][]) {
        const parts = path.split('/');
        const key = parts[1] === 'slow' ? parts[2] : parts[1];
        logs.get(key)?.add({ path, id, at, sentAt });
      }
    });
    void proc.exited.then(() => reject(new Error(`receiver exited before it listened:\n${proc.tail()}`)));
  });
  const info = await ready;
  return {
    hosts: info.hosts,
    port: info.port,
    origin: (i) => `http://${info.hosts[i % info.hosts.length]}:${info.port}`,
    open(caseKey, opts) {
      const log = new CaseLog(opts?.lean);
      logs.set(caseKey, log);
      return log;
    },
    close(caseKey) {
      logs.delete(caseKey);
    },
    proc,
    stop: () => stop(proc, 2000),
  };
}
