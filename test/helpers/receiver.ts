import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Received = { path: string; headers: http.IncomingHttpHeaders; body: string; at: number };

/**
 * A real HTTP receiver on loopback that records every request and answers with a status
 * the test sets (or a function of the request). `waitFor(n)` resolves once n requests arrived.
 */
export class TestReceiver {
  readonly received: Received[] = [];
  respond: (r: Received) => { status: number; body?: string; headers?: Record<string, string>; delayMs?: number } = () => ({ status: 200, body: 'ok' });
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      this.received.push(r);
      const answer = this.respond(r);
      const reply = () => {
        res.writeHead(answer.status, answer.headers ?? {});
        res.end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(reply, answer.delayMs);
      else reply();
      this.notify();
    });
  });
  private waiters: { n: number; path?: string; resolve: () => void }[] = [];

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  count(path?: string): number {
    return path ? this.received.filter((r) => r.path === path).length : this.received.length;
  }

  private notify() {
    this.waiters = this.waiters.filter((w) => {
      if (this.count(w.path) >= w.n) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  /** Resolves once `n` requests (to `path`, if given) have arrived; rejects after timeoutMs. */
  waitFor(n: number, path?: string, timeoutMs = 20_000): Promise<void> {
    if (this.count(path) >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} requests${path ? ` to ${path}` : ''}; got ${this.count(path)}`)), timeoutMs);
      this.waiters.push({ n, path, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/** Polls a condition without fixed sleeps in the test body; fails with the last value. */
export async function eventually<T>(fn: () => Promise<T> | T, check: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await fn();
    if (check(last)) return last;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
