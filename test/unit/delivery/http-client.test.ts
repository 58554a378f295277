import { describe, it, expect, afterEach, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConnector } from 'undici';
import {
  WebhookHttpClient,
  classifyError,
  parseRetryAfter,
  type WebhookHttpClientOptions,
} from '../../../src/delivery/http-client.ts';

// Real servers on 127.0.0.1:0; every server and client made in a test is torn down after it.
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((f) => f()));
});

async function listen(server: net.Server): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

function client(opts: WebhookHttpClientOptions = {}): WebhookHttpClient {
  const c = new WebhookHttpClient(opts);
  cleanups.push(() => c.close());
  return c;
}

/** HTTP server answering every request with `handler`; counts requests and TCP connections. */
async function httpServer(handler: http.RequestListener) {
  const stats = { requests: 0, connections: 0, lastHeaders: {} as http.IncomingHttpHeaders, lastBody: '' };
  const server = http.createServer((req, res) => {
    stats.requests++;
    stats.lastHeaders = req.headers;
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      stats.lastBody = body;
      handler(req, res);
    });
  });
  server.on('connection', () => stats.connections++);
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, stats };
}

/** Raw TCP server: `onRequest` gets the socket once the first request bytes arrive. */
async function rawServer(onRequest: (s: net.Socket) => void): Promise<string> {
  const server = net.createServer((s) => s.once('data', () => onRequest(s)));
  return `http://127.0.0.1:${await listen(server)}`;
}

async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('WebhookHttpClient responses', () => {
  it('POSTs the body and returns status and excerpt for a 200', async () => {
    const srv = await httpServer((_req, res) => res.end('hello'));
    const r = await client({ userAgent: 'ml-webhooks/1' }).send(`${srv.url}/hook`, { 'content-type': 'application/json' }, '{"a":1}');
    expect(r).toMatchObject({ kind: 'response', statusCode: 200, excerpt: 'hello' });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(srv.stats.lastBody).toBe('{"a":1}');
    expect(srv.stats.lastHeaders['user-agent']).toBe('ml-webhooks/1');
    expect(srv.stats.lastHeaders['content-type']).toBe('application/json');
  });

  it('returns a 500 as a response, not an error', async () => {
    const srv = await httpServer((_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    expect(await client().send(srv.url, {}, '')).toMatchObject({ kind: 'response', statusCode: 500, excerpt: 'boom' });
  });

  it('reuses pooled keep-alive connections', async () => {
    const srv = await httpServer((_req, res) => res.end('ok'));
    const c = client();
    for (let i = 0; i < 10; i++) expect(await c.send(srv.url, {}, 'x')).toMatchObject({ statusCode: 200 });
    // undici's pool may open a second socket while the first is still settling after its first
    // response (plain Agent.request does the same); without keep-alive this would be 10.
    expect(srv.stats.connections).toBeLessThanOrEqual(2);
  });

  it.each([301, 302, 303, 307, 308])('never follows a %i redirect', async (status) => {
    const target = await httpServer((_req, res) => res.end('should not be reached'));
    const srv = await httpServer((_req, res) => {
      res.writeHead(status, { location: `${target.url}/elsewhere` });
      res.end();
    });
    expect(await client().send(srv.url, {}, 'x')).toMatchObject({ kind: 'response', statusCode: status });
    expect(target.stats.requests).toBe(0);
  });

  it('parses Retry-After as seconds and as an HTTP date', async () => {
    const secs = await httpServer((_req, res) => res.writeHead(429, { 'retry-after': '7' }).end());
    expect(await client().send(secs.url, {}, '')).toMatchObject({ statusCode: 429, retryAfterMs: 7000 });
    const when = new Date(Date.now() + 10_000).toUTCString();
    const date = await httpServer((_req, res) => res.writeHead(503, { 'retry-after': when }).end());
    const r = await client().send(date.url, {}, '');
    expect(r).toMatchObject({ statusCode: 503 });
    expect(r.kind === 'response' && r.retryAfterMs).toBeGreaterThan(8_000);
    expect(r.kind === 'response' && r.retryAfterMs).toBeLessThanOrEqual(10_000);
  });

  it('parseRetryAfter ignores garbage and clamps past dates to 0', () => {
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('-5')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT')).toBe(0);
  });

  it('keeps exactly excerptBytes of a 2 KiB body', async () => {
    const srv = await httpServer((_req, res) => res.end('x'.repeat(2048)));
    const r = await client().send(srv.url, {}, '');
    expect(r.kind === 'response' && Buffer.byteLength(r.excerpt)).toBe(1024);
    expect(r).not.toHaveProperty('truncated');
  });

  it.each([
    ['a 3-byte char', '€'],
    ['a 4-byte char', '😀'],
  ])('does not split %s at the excerpt boundary', async (_name, ch) => {
    const srv = await httpServer((_req, res) => res.end('a'.repeat(1023) + ch.repeat(10)));
    const r = await client().send(srv.url, {}, '');
    expect(r.kind === 'response' && r.excerpt).toBe('a'.repeat(1023));
  });

  it('stops reading an endless body at maxReadBytes and closes the socket', async () => {
    let serverSawClose!: () => void;
    const closed = new Promise<void>((r) => (serverSawClose = r));
    const chunk = Buffer.alloc(16 * 1024, 'z');
    const srv = await httpServer((_req, res) => {
      res.writeHead(200);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
      };
      res.on('drain', pump);
      res.on('close', serverSawClose);
      pump();
    });
    const r = await client({ maxReadBytes: 64 * 1024 }).send(srv.url, {}, '');
    expect(r).toMatchObject({ kind: 'response', statusCode: 200, truncated: true, excerpt: 'z'.repeat(1024) });
    await closed; // would time the test out if the client kept the connection open
  });
});

describe('WebhookHttpClient failures', () => {
  it('connection refused', async () => {
    const port = await deadPort();
    const r = await client().send(`http://127.0.0.1:${port}/`, {}, '');
    expect(r).toMatchObject({ kind: 'error', error: 'connection_refused' });
  });

  it('never puts the path or query in the message', async () => {
    const port = await deadPort();
    const r = await client().send(`http://127.0.0.1:${port}/secret-path/abc?token=s3cret`, {}, '');
    expect(r.kind === 'error' && r.message).toContain(`127.0.0.1:${port}`);
    expect(r.kind === 'error' && r.message).not.toMatch(/secret-path|s3cret|token/);
  });

  it('times out a server that accepts and never answers', async () => {
    const url = await rawServer(() => {});
    const r = await client({ timeoutMs: 300 }).send(`${url}/p?q=1`, {}, '');
    expect(r).toMatchObject({ kind: 'error', error: 'timeout' });
    expect(r.durationMs).toBeGreaterThanOrEqual(250);
    expect(r.durationMs).toBeLessThan(1300);
    expect(r.kind === 'error' && r.message).not.toContain('/p?q=1');
  });

  it('enforces the total deadline on a drip-feeding server', async () => {
    const srv = await httpServer((_req, res) => {
      res.writeHead(200);
      res.flushHeaders();
      const t = setInterval(() => res.write('x'), 100);
      res.on('close', () => clearInterval(t));
    });
    const r = await client({ timeoutMs: 300 }).send(srv.url, {}, '');
    expect(r).toMatchObject({ kind: 'error', error: 'timeout', statusCode: 200 });
    expect(r.durationMs).toBeLessThan(300 + 1000);
  });

  it('reports a Content-Length lie as an error, not a hang', async () => {
    const url = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'));
    const r = await client({ timeoutMs: 5000 }).send(url, {}, '');
    expect(r).toMatchObject({ kind: 'error', error: 'connection_reset', statusCode: 200 });
    expect(r.durationMs).toBeLessThan(5000);
  });

  it('reports a socket destroyed mid-response as connection_reset', async () => {
    const url = await rawServer((s) => {
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      setTimeout(() => s.destroy(), 20);
    });
    expect(await client().send(url, {}, '')).toMatchObject({ kind: 'error', error: 'connection_reset' });
  });

  it('reports a socket destroyed before any response as connection_reset', async () => {
    const url = await rawServer((s) => s.destroy());
    expect(await client().send(url, {}, '')).toMatchObject({ kind: 'error', error: 'connection_reset' });
  });

  it('reports oversized response headers as response_too_large', async () => {
    const url = await rawServer((s) => s.end(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`));
    expect(await client().send(url, {}, '')).toMatchObject({ kind: 'error', error: 'response_too_large' });
  });

  it('maps the injected connector failing with ERR_BLOCKED_DESTINATION to blocked_destination', async () => {
    const blocked = () => Object.assign(new Error('10.0.0.1 is a private address'), { code: 'ERR_BLOCKED_DESTINATION' });
    const direct: WebhookHttpClientOptions['connector'] = (_opts, cb) => setImmediate(() => cb(blocked(), null));
    // Wrapped: the code is found through the cause chain. (The wrapper must not carry the code
    // UND_ERR_SOCKET: undici treats that as recoverable and re-runs the connector until the deadline.)
    const wrapped: WebhookHttpClientOptions['connector'] = (_opts, cb) =>
      setImmediate(() => cb(new Error('connect failed', { cause: blocked() }), null));
    for (const connector of [direct, wrapped]) {
      const r = await client({ connector, timeoutMs: 2000 }).send('http://internal.example/x', {}, '');
      expect(r).toMatchObject({ kind: 'error', error: 'blocked_destination' });
      expect(r.durationMs).toBeLessThan(1000);
    }
  });

  it('enforces the deadline even when the connector never calls back', async () => {
    const r = await client({ connector: () => {}, timeoutMs: 300 }).send('http://stuck.example/', {}, '');
    expect(r).toMatchObject({ kind: 'error', error: 'timeout' });
    expect(r.durationMs).toBeLessThan(300 + 1000);
  });

  it('classifies by code through cause chains and AggregateErrors', () => {
    const coded = (code: string) => Object.assign(new Error('m'), { code });
    expect(classifyError(coded('ENOTFOUND'))).toBe('dns_error');
    expect(classifyError(coded('EAI_AGAIN'))).toBe('dns_error');
    expect(classifyError(coded('ERR_TLS_CERT_ALTNAME_INVALID'))).toBe('tls_error');
    expect(classifyError(coded('ERR_SSL_WRONG_VERSION_NUMBER'))).toBe('tls_error');
    expect(classifyError(coded('UND_ERR_HEADERS_TIMEOUT'))).toBe('timeout');
    expect(classifyError(new AggregateError([coded('ECONNREFUSED')]))).toBe('connection_refused');
    expect(classifyError(new Error('ECONNREFUSED in the text only'))).toBe('network_error');
  });
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!hasOpenssl) console.warn('http-client HTTPS tests skipped: the `openssl` CLI is not installed');

describe.skipIf(!hasOpenssl)('WebhookHttpClient over HTTPS (needs the openssl CLI)', () => {
  let dir: string;
  let key: string;
  let cert: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'webhook-tls-'));
    const res = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]);
    if (res.status !== 0) throw new Error(`openssl failed: ${res.stderr}`);
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function httpsUrl(): Promise<string> {
    const server = https.createServer({ key, cert }, (_req, res) => res.end('secure'));
    return `https://127.0.0.1:${await listen(server)}`;
  }

  it('rejects a self-signed certificate as tls_error', async () => {
    const url = await httpsUrl();
    const r = await client().send(`${url}/hook?sig=abc`, {}, '');
    expect(r).toMatchObject({ kind: 'error', error: 'tls_error' });
    expect(r.kind === 'error' && r.message).not.toContain('sig=abc');
  });

  it('succeeds through an injected connector that trusts the cert', async () => {
    const url = await httpsUrl();
    const r = await client({ connector: buildConnector({ ca: cert }) }).send(url, {}, '');
    expect(r).toMatchObject({ kind: 'response', statusCode: 200, excerpt: 'secure' });
  });
});
