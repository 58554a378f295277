import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES, TEST_DATABASE_URL, type StoreKind } from '../helpers/stores.ts';

/**
 * The operator CLI as a child process, as an operator runs it. Every child costs about a
 * second, so each test runs its command against both stores at once.
 */
type Run = { code: number; stdout: string; stderr: string };

const ROOT = new URL('../..', import.meta.url).pathname;

function cli(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', ...args],
      // A clean environment: nothing of the developer's own settings leaks in.
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'silent', ...env }, timeout: 25_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** A store that has never been migrated: a temp folder, or a PostgreSQL schema of its own. */
type FreshStore = { kind: StoreKind; env: Record<string, string>; drop(): Promise<void> };

async function freshStore(kind: StoreKind): Promise<FreshStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlw-cli-'));
  if (kind === 'sqlite') return { kind, env: { DATA_DIR: dataDir }, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  const schema = `cli_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    kind,
    env: { DATA_DIR: dataDir, DATABASE_URL: url.toString() },
    drop: async () => {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe(`operator CLI (${STORES.join(', ')})`, { timeout: 60_000 }, () => {
  const stores = new Map<StoreKind, FreshStore & { customer?: any; domain?: any; key?: any }>();
  /** Runs the same command on every store at once; returns the results by store. */
  const onEveryStore = async (args: (s: FreshStore & Record<string, any>) => string[], extraEnv: Record<string, string> = {}) => {
    const runs = await Promise.all(STORES.map(async (kind) => [kind, await cli({ ...stores.get(kind)!.env, ...extraEnv }, ...args(stores.get(kind)!))] as const));
    return runs;
  };
  /** A successful run printed JSON and nothing on stderr. */
  const json = (kind: StoreKind, run: Run) => {
    expect({ kind, code: run.code, stderr: run.stderr }).toEqual({ kind, code: 0, stderr: '' });
    return JSON.parse(run.stdout);
  };

  beforeAll(async () => {
    for (const kind of STORES) stores.set(kind, await freshStore(kind));
  });
  afterAll(async () => {
    for (const s of stores.values()) await s.drop();
  });

  it('migrate applies the migrations of a new store and prints their ids', async () => {
    for (const [kind, run] of await onEveryStore(() => ['migrate'])) {
      const out = json(kind, run);
      expect(out).toEqual({ applied: ['0001_init', '0002_webhook_due_index'], store: kind });
    }
  });

  it('customers create prints the new customer as JSON', async () => {
    for (const [kind, run] of await onEveryStore(() => ['customers', 'create', '--name', 'CLI Co', '--plan', 'starter'])) {
      const c = json(kind, run);
      expect(c).toMatchObject({ name: 'CLI Co', plan: 'starter', webhook_limit: 1 });
      expect(c.id).toMatch(UUID);
      stores.get(kind)!.customer = c;
    }
  });

  it('customers get prints the customer', async () => {
    for (const [kind, run] of await onEveryStore((s) => ['customers', 'get', s.customer.id])) {
      expect(json(kind, run)).toEqual(stores.get(kind)!.customer);
    }
  });

  it('customers update changes the plan and with it the webhook limit', async () => {
    for (const [kind, run] of await onEveryStore((s) => ['customers', 'update', s.customer.id, '--plan', 'custom', '--webhook-limit', '7', '--name', 'CLI Co 2'])) {
      expect(json(kind, run)).toMatchObject({ id: stores.get(kind)!.customer.id, name: 'CLI Co 2', plan: 'custom', webhook_limit: 7 });
    }
  });

  it('domains create prints the domain with a UUID id', async () => {
    for (const [kind, run] of await onEveryStore((s) => ['domains', 'create', s.customer.id, '--name', 'mail.example.com'])) {
      const d = json(kind, run);
      expect(d).toMatchObject({ name: 'mail.example.com' });
      expect(d.id).toMatch(UUID);
      stores.get(kind)!.domain = d;
    }
  });

  it('domains list prints the customer’s domains', async () => {
    for (const [kind, run] of await onEveryStore((s) => ['domains', 'list', s.customer.id])) {
      expect(json(kind, run)).toEqual({ data: [stores.get(kind)!.domain] });
    }
  });

  it('api-keys create prints the key once, with the mlk_ prefix', async () => {
    for (const [kind, run] of await onEveryStore((s) => ['api-keys', 'create', s.customer.id])) {
      const k = json(kind, run);
      expect(k.id).toMatch(UUID);
      expect(k.key).toMatch(/^mlk_[A-Za-z0-9_-]{40,}$/);
      expect(k.key.startsWith(k.prefix)).toBe(true);
      stores.get(kind)!.key = k;
    }
  });

  it('api-keys revoke revokes the key', async () => {
    for (const [kind, run] of await onEveryStore((s) => ['api-keys', 'revoke', s.customer.id, s.key.id])) {
      expect(json(kind, run)).toEqual({ revoked: stores.get(kind)!.key.id });
    }
  });

  it('api-keys list prints only the prefix of each key, and when it was revoked', async () => {
    for (const [kind, run] of await onEveryStore((s) => ['api-keys', 'list', s.customer.id])) {
      const { key } = stores.get(kind)!;
      const list = json(kind, run);
      expect(list).toEqual({ data: [{ id: key.id, prefix: key.prefix, created_at: key.created_at, revoked_at: expect.any(String) }] });
      expect(run.stdout).not.toContain(key.key);
    }
  });

  it('a bad plan or an unknown customer exits non-zero with one clear line on stderr', async () => {
    const runs = [
      ...(await onEveryStore(() => ['customers', 'create', '--name', 'X', '--plan', 'gold'])).map(([kind, run]) => [kind, run, /--plan must be one of starter, professional, business, custom/] as const),
      ...(await onEveryStore(() => ['customers', 'get', randomUUID()])).map(([kind, run]) => [kind, run, /customer not found/] as const),
    ];
    for (const [kind, run, message] of runs) {
      expect(run.code, `${kind}: ${run.stderr}`).not.toBe(0);
      expect(run.stdout).toBe('');
      const lines = run.stderr.trim().split('\n');
      expect(lines, kind).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(lines[0]).not.toMatch(/\bat .+:\d+:\d+/);
    }
  });

  it('an invalid environment value (PORT=abc) stops the service with exit code 2 and a line naming PORT', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mlw-cli-'));
    try {
      const run = await cli({ DATA_DIR: dataDir, PORT: 'abc' }, 'serve');
      expect(run.code).toBe(2);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/\bPORT\b/);
      expect(lines[0]).toContain('abc');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
