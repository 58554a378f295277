import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestStore } from './stores.ts';

/**
 * The service as a real child process (`node --import tsx src/main.ts …`), for tests that
 * crash, restart or run several processes on one store. Output is captured so a failure
 * can show what the process said.
 */

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A port nobody listens on right now (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Tokens and keys shared by every process of one test, so they all agree on one store. */
export type Secrets = { ADMIN_TOKEN: string; INGEST_TOKEN: string; SECRETS_KEY: string };

export function newSecrets(): Secrets {
  return {
    ADMIN_TOKEN: randomBytes(24).toString('base64url'),
    INGEST_TOKEN: randomBytes(24).toString('base64url'),
    SECRETS_KEY: randomBytes(32).toString('hex'),
  };
}

/** The environment of a child running on `store`: its database, the secrets, loopback receivers allowed. */
export function storeEnv(store: TestStore, secrets: Secrets, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATA_DIR: store.dataDir,
    ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}),
    ...secrets,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    LOG_LEVEL: 'info',
    NODE_ENV: 'test',
    ...extra,
  };
}

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The HTTP port (a `worker` serves only /healthz, /readyz and /metrics there). */
  readonly port: number;
  readonly baseUrl: string;
  readonly args: string[];
  /** Resolves once the process has exited, with its code or signal. */
  readonly exited: Promise<Exit>;
  /** Whether the process has exited. */
  readonly running: boolean;
  /** Everything it wrote so far (stdout and stderr interleaved, the tail if very long). */
  output(): string;
  kill(signal?: NodeJS.Signals): void;
  /** SIGKILL unless already gone; resolves once it has exited. */
  stop(): Promise<Exit>;
  /** Fetch against the process's HTTP API. */
  request(method: string, path: string, opts?: { headers?: Record<string, string>; body?: unknown }): Promise<{ status: number; body: any }>;
}

const MAX_OUTPUT = 256 * 1024;
const live = new Set<ChildProcess>();
// A test runner that dies must not leave services running: kill what this file started.
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export type SpawnOptions = {
  /** Command-line after src/main.ts, e.g. ['serve'], ['serve', '--no-worker'], ['worker']. */
  args?: string[];
  env: Record<string, string>;
  /** Default: a free port. */
  port?: number;
  /**
   * How to know it is up: 'healthz' polls GET /healthz (default unless the command is
   * `worker`), 'started' waits for the "started" log line (default for `worker`).
   */
  ready?: 'healthz' | 'started';
  readyTimeoutMs?: number;
  /** Directory holding src/main.ts; default the repository root. */
  cwd?: string;
};

export async function spawnService(opts: SpawnOptions): Promise<ServiceProcess> {
  const args = opts.args ?? ['serve'];
  const port = opts.port ?? (await freePort());
  const ready = opts.ready ?? (args[0] === 'worker' ? 'started' : 'healthz');
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  const baseUrl = `http://127.0.0.1:${port}`;

  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...opts.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  const append = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > MAX_OUTPUT) out = out.slice(-MAX_OUTPUT / 2);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let running = true;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const tail = () => out.split('\n').slice(-40).join('\n');
  const describe = () => `node src/main.ts ${args.join(' ')} (pid ${child.pid}, port ${port})`;

  const proc: ServiceProcess = {
    child,
    pid: child.pid!,
    port,
    baseUrl,
    args,
    exited,
    get running() {
      return running;
    },
    output: () => out,
    kill(signal = 'SIGTERM') {
      if (running) child.kill(signal);
    },
    async stop() {
      if (running) child.kill('SIGKILL');
      return exited;
    },
    async request(method, path, { headers = {}, body } = {}) {
      const res = await fetch(baseUrl + path, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: any = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {}
      return { status: res.status, body: parsed };
    },
  };

  // Bounded wait for readiness; an early exit fails at once with what the process printed.
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (!running) {
      const e = await exited;
      throw new Error(`${describe()} exited (code ${e.code}, signal ${e.signal}) before it was ready:\n${tail()}`);
    }
    if (ready === 'started' ? /"msg":"MailerLogic Webhooks started"/.test(out) : await healthy(baseUrl)) return proc;
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`${describe()} not ready after ${readyTimeoutMs} ms:\n${tail()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function healthy(baseUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Admin, customer and ingest calls against a running API process. */
export function apiClient(proc: () => ServiceProcess, secrets: Secrets) {
  const call = async (headers: Record<string, string>, method: string, path: string, body?: unknown) => {
    const res = await proc().request(method, path, { headers, body });
    return res;
  };
  return {
    admin: (method: string, path: string, body?: unknown) => call({ authorization: `Bearer ${secrets.ADMIN_TOKEN}` }, method, path, body),
    customer: (key: string, method: string, path: string, body?: unknown) => call({ 'x-api-key': key }, method, path, body),
    ingest: (body: unknown) => call({ authorization: `Bearer ${secrets.INGEST_TOKEN}` }, 'POST', '/internal/v1/events', body),
    /** A business customer with an API key. */
    async newCustomer(): Promise<{ id: string; key: string }> {
      const c = await call({ authorization: `Bearer ${secrets.ADMIN_TOKEN}` }, 'POST', '/admin/v1/customers', { name: 'E2E customer', plan: 'business' });
      if (c.status !== 201) throw new Error(`creating customer: ${c.status} ${JSON.stringify(c.body)}`);
      const k = await call({ authorization: `Bearer ${secrets.ADMIN_TOKEN}` }, 'POST', `/admin/v1/customers/${c.body.id}/api-keys`);
      if (k.status !== 201) throw new Error(`creating API key: ${k.status} ${JSON.stringify(k.body)}`);
      return { id: c.body.id, key: k.body.key };
    },
  };
}
