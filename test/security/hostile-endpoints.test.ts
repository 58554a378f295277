import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TestReceiver } from '../helpers/receiver.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { tableResolver } from './support.ts';
import { closedPort, createWebhook, event, ingestOk, listDeliveries, withEmail } from '../e2e/harness.ts';

/**
 * Receivers that misbehave at the socket level, end to end through ingest and the deliveries
 * API (private networks allowed: they are local). Each failure carries its own code and is
 * retried; the 10 MB 2xx counts as delivered; meanwhile a healthy webhook's deliveries keep
 * arriving promptly and the API keeps answering.
 */

const TIMEOUT_MS = 1000;
const MiB = 1024 * 1024;

type Behaviour = (s: net.Socket) => void;

/** Writes `chunk` forever, respecting backpressure, until the socket goes away. */
function pumpForever(s: net.Socket, chunk: Buffer | string) {
  const pump = () => {
    while (!s.destroyed && s.writable && s.write(chunk));
  };
  s.on('drain', pump);
  pump();
}

const BEHAVIOURS: Record<string, Behaviour> = {
  never: () => {},
  drip: (s) => {
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    const t = setInterval(() => s.write('1\r\nx\r\n'), 200);
    s.on('close', () => clearInterval(t));
  },
  endless: (s) => {
    s.write('HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n');
    pumpForever(s, `4000\r\n${'z'.repeat(0x4000)}\r\n`);
  },
  'endless-headers': (s) => {
    s.write('HTTP/1.1 200 OK\r\n');
    pumpForever(s, `X-Pad: ${'h'.repeat(1000)}\r\n`);
  },
  lie: (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'),
  reset: (s) => {
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    setTimeout(() => s.resetAndDestroy(), 20);
  },
  // PostgreSQL text cannot hold NUL: stored as is, it would fail the batch of outcomes it is in.
  nul: (s) => s.end('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 8\r\n\r\nbad\u0000byte'),
  big: (s) => {
    s.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${10 * MiB}\r\n\r\n`);
    s.end(Buffer.alloc(10 * MiB, 'b'));
  },
};

/** One raw TCP server; the request line's path picks the behaviour. */
async function hostileServer() {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let head = '';
    const onData = (c: Buffer) => {
      // A TLS ClientHello (record type 22) to a plain-HTTP server: it answers in clear text.
      if (head === '' && c[0] === 0x16) return void s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      head += c.toString('latin1');
      const line = head.indexOf('\r\n');
      if (line < 0) return;
      s.off('data', onData);
      s.resume();
      const path = head.slice(0, line).split(' ')[1]?.slice(1) ?? '';
      BEHAVIOURS[path]?.(s);
    };
    s.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** [path, final status, expected attempts as [status_code, error]] */
const EXPECTED: [string, string, [number | null, string | null][]][] = [
  ['never', 'failed', [[null, 'timeout'], [null, 'timeout']]],
  ['drip', 'failed', [[200, 'timeout'], [200, 'timeout']]],
  ['endless', 'failed', [[500, 'http_status'], [500, 'http_status']]],
  ['endless-headers', 'failed', [[null, 'response_too_large'], [null, 'response_too_large']]],
  ['lie', 'failed', [[200, 'connection_reset'], [200, 'connection_reset']]],
  ['reset', 'failed', [[200, 'connection_reset'], [200, 'connection_reset']]],
  ['refused', 'failed', [[null, 'connection_refused'], [null, 'connection_refused']]],
  ['tls', 'failed', [[null, 'tls_error'], [null, 'tls_error']]],
  ['dns', 'failed', [[null, 'dns_error'], [null, 'dns_error']]],
  ['nul', 'failed', [[500, 'http_status'], [500, 'http_status']]],
  ['big', 'succeeded', [[200, null]]],
];

describe.each(STORES)('hostile endpoints (%s)', (kind) => {
  let svc: TestService;
  let hostile: Awaited<ReturnType<typeof hostileServer>>;
  let healthy: TestReceiver;
  let bad: { id: string; key: string };
  let good: { id: string; key: string };
  let goodHook: string;
  const hooks = new Map<string, string>();

  beforeAll(async () => {
    hostile = await hostileServer();
    healthy = await new TestReceiver().start();
    svc = await startTestService(kind, {
      role: 'all',
      env: { DELIVERY_TIMEOUT: '1s', LEASE_DURATION: '5s', RETRY_SCHEDULE: '100ms', RATE_LIMIT: '1000000' },
      // Knows no name at all: nowhere.customer.example does not resolve.
      resolve: tableResolver(new Map()).resolve,
    });
    bad = await svc.newCustomer('custom', [], 20);
    good = await svc.newCustomer('starter');
    const refused = `http://127.0.0.1:${await closedPort()}/refused`;
    for (const [path] of EXPECTED) {
      const url =
        path === 'refused' ? refused
        : path === 'tls' ? `${hostile.url.replace('http:', 'https:')}/tls`
        : path === 'dns' ? 'https://nowhere.customer.example/dns'
        : `${hostile.url}/${path}`;
      hooks.set(path, (await createWebhook(svc, bad.key, { url, events: ['email.delivered'] })).id);
    }
    goodHook = (await createWebhook(svc, good.key, { url: `${healthy.url}/healthy`, events: ['email.delivered'] })).id;
  });
  afterAll(async () => {
    await svc?.close();
    await hostile?.close();
    await healthy?.close();
  });

  it('records each misbehaviour with its own code, retries it, and keeps serving everyone else', async () => {
    await ingestOk(svc, event(bad.id));

    // While the hostile deliveries hold their sockets, a healthy webhook's events arrive
    // well within one delivery timeout, and the API answers.
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 5; i++) {
      const e = event(good.id);
      const sentAt = Date.now();
      await ingestOk(svc, e);
      await eventually(() => withEmail(healthy.received, e.email_id).length, (n) => n === 1, 5_000);
      // Queued behind a hostile lane it would have waited out at least one delivery timeout.
      expect(Date.now() - sentAt, `healthy delivery ${i}`).toBeLessThan(TIMEOUT_MS - 200);
      const t = Date.now();
      expect((await svc.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect(Date.now() - t).toBeLessThan(500);
      await new Promise((r) => setTimeout(r, 150));
    }

    for (const [path, status, attempts] of EXPECTED) {
      const [d] = await eventually(
        async () => (await listDeliveries(svc, bad.key, hooks.get(path)!)).body.data as any[],
        (l) => l.length === 1 && l[0].status !== 'pending',
        10_000,
      );
      expect({ path, status: d.status, attempts: d.attempts.map((a: any) => [a.status_code, a.error]) }).toEqual({ path, status, attempts });
      for (const a of d.attempts) {
        // The total deadline holds however the endpoint behaves; nothing runs past it by much.
        expect(a.duration_ms, path).toBeLessThan(TIMEOUT_MS + 1000);
        expect(Buffer.byteLength(a.response_excerpt ?? ''), path).toBeLessThanOrEqual(1024);
      }
      if (path === 'never' || path === 'drip') for (const a of d.attempts) expect(a.duration_ms, path).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      // Stopped reading at the cap, long before the timeout.
      if (path === 'endless' || path === 'big') {
        expect(d.attempts[0].duration_ms, path).toBeLessThan(TIMEOUT_MS / 2);
        expect(d.attempts[0].response_excerpt, path).toBe((path === 'big' ? 'b' : 'z').repeat(1024));
      }
      if (path === 'nul') expect(d.attempts[0].response_excerpt).toBe('badbyte');
    }
    // Every outcome was written, the healthy ones included: no receiver's answer blocks the store.
    const goodDeliveries = (await listDeliveries(svc, good.key, goodHook)).body.data;
    expect(goodDeliveries.map((d: any) => d.status)).toEqual(Array(5).fill('succeeded'));
  });
});
