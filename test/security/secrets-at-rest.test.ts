import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createService, secretBoxFor, type Role, type Service } from '../../src/service.ts';
import { rotateSecretsKey } from '../../src/store/rotate-secrets.ts';
import { request } from '../helpers/http.ts';
import { REPO_ROOT } from '../helpers/process.ts';
import { eventually, TestReceiver } from '../helpers/receiver.ts';
import { createTestStore, STORES, type TestStore } from '../helpers/stores.ts';
import { event, verifyBoth } from '../e2e/harness.ts';

/**
 * What someone reading the database sees, and SECRETS_KEY rotation end to end: services on one
 * store started with different keys, and the rotate-secrets-key command as a child process.
 */

const run = promisify(execFile);
const keyId = (hex: string) => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex').slice(0, 8);

const ADMIN_TOKEN = randomBytes(24).toString('base64url');
const INGEST_TOKEN = randomBytes(24).toString('base64url');
const OLD_KEY = randomBytes(32).toString('hex');
const NEW_KEY = randomBytes(32).toString('hex');

/** The service in this process on an existing store (closing it leaves the store). */
async function serviceOn(store: TestStore, role: Role, env: Record<string, string>, logs?: string[]) {
  const config = loadConfig({
    DATA_DIR: store.dataDir,
    ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}),
    ADMIN_TOKEN,
    INGEST_TOKEN,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    LOG_LEVEL: 'silent',
    DELIVERY_TIMEOUT: '1s',
    LEASE_DURATION: '2s',
    ...env,
  });
  const logger = logs ? createLogger('error', { write: (line: string) => void logs.push(line) }) : createLogger('silent');
  const service: Service = await createService(config, store.open(), logger, role);
  const call = (headers: Record<string, string>) => (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    request(service.app!, method, url, { headers, payload });
  return {
    service,
    admin: call({ authorization: `Bearer ${ADMIN_TOKEN}` }),
    ingest: (payload: unknown) => call({ authorization: `Bearer ${INGEST_TOKEN}` })('POST', '/internal/v1/events', payload),
    customer: (key: string) => call({ 'x-api-key': key }),
  };
}

/** Every row of every table of the store, as text. */
async function dumpStore(store: TestStore): Promise<{ tables: Record<string, any[]>; text: string }> {
  const tables: Record<string, any[]> = {};
  let raw = '';
  if (store.kind === 'sqlite') {
    const file = join(store.dataDir, 'mailerlogic.sqlite');
    const db = new SQLite(file, { readonly: true });
    try {
      for (const { name } of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]) {
        tables[name] = db.prepare(`SELECT * FROM "${name}"`).all();
      }
    } finally {
      db.close();
    }
    // The file and its journals byte for byte: free pages and the WAL hold old row versions too.
    for (const f of [file, `${file}-wal`, `${file}-journal`]) if (existsSync(f)) raw += readFileSync(f).toString('latin1');
  } else {
    const client = new pg.Client({ connectionString: store.databaseUrl });
    await client.connect();
    try {
      const names = await client.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`);
      for (const { table_name } of names.rows) tables[table_name] = (await client.query(`SELECT * FROM "${table_name}"`)).rows;
    } finally {
      await client.end();
    }
  }
  return { tables, text: JSON.stringify(tables) + raw };
}

// The stores run side by side: most of the time here is spent waiting for child processes.
describe.concurrent.each(STORES)('secrets at rest and SECRETS_KEY rotation (%s)', (kind) => {
  let store: TestStore;
  let receiver: TestReceiver;
  let customer: { id: string; key: string };
  let hook: { id: string; secret: string };

  beforeAll(async () => {
    store = await createTestStore(kind);
    receiver = await new TestReceiver().start();
    const a = await serviceOn(store, 'api', { SECRETS_KEY: OLD_KEY });
    try {
      const c = await a.admin('POST', '/admin/v1/customers', { name: 'Rotating', plan: 'business' });
      const k = await a.admin('POST', `/admin/v1/customers/${c.body.id}/api-keys`);
      customer = { id: c.body.id, key: k.body.key };
      const w = await a.customer(customer.key)('POST', '/api/v1/customer/webhooks', { url: `${receiver.url}/rotating`, events: ['email.delivered'] });
      expect(w.status).toBe(201);
      hook = { id: w.body.id, secret: w.body.secret };
    } finally {
      await a.service.close();
    }
  });
  afterAll(async () => {
    await receiver?.close();
    await store?.drop();
  });

  it('keeps the webhook secret encrypted and API keys hashed, with no token in the store', async () => {
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const secretB64 = hook.secret.slice('whsec_'.length);
    const secretBytes = Buffer.from(secretB64, 'base64');
    const { tables, text } = await dumpStore(store);

    const [row] = tables.webhooks!;
    expect(row.id).toBe(hook.id);
    // Under the old key, or the new one if the rotation test (running alongside) got there first.
    expect(row.secret_enc).toMatch(new RegExp(`^v1\\.(${keyId(OLD_KEY)}|${keyId(NEW_KEY)})\\.[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{22}$`));
    // Not the secret, not its base64 body, not its raw bytes, in any spelling we can think of.
    for (const needle of [hook.secret, secretB64, secretBytes.toString('base64url'), secretBytes.toString('hex'), secretBytes.toString('latin1')]) {
      expect(text.includes(needle), `secret as ${needle.slice(0, 6)}…`).toBe(false);
    }
    const [apiKey] = tables.api_keys!;
    expect(apiKey.key_hash).toBe(createHash('sha256').update(customer.key).digest('hex'));
    expect(customer.key.startsWith(apiKey.prefix)).toBe(true);
    expect(apiKey.prefix.length).toBeLessThanOrEqual(12);
    // Beyond the displayed prefix, nothing of the key is stored.
    expect(text.includes(customer.key.slice(8))).toBe(false);
    for (const token of [ADMIN_TOKEN, INGEST_TOKEN, OLD_KEY, NEW_KEY]) expect(text.includes(token)).toBe(false);
  });

  it('rotates: a service with only the new key sends nothing and loses nothing; after the CLI it signs with the original secret', async () => {
    const cli = (env: Record<string, string>) =>
      run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'rotate-secrets-key'], {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          NODE_ENV: 'test',
          DATA_DIR: store.dataDir,
          ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}),
          ADMIN_TOKEN,
          INGEST_TOKEN,
          ...env,
        },
      });
    const stored = async () => (await dumpStore(store)).tables.webhooks![0].secret_enc as string;
    const before = await stored();
    // Run alongside step 1 (it changes nothing, and child processes are slow to start):
    // without the old key the command fails.
    const withoutOldKey = cli({ SECRETS_KEY: NEW_KEY }).then(
      () => 'succeeded',
      (err) => err.code,
    );

    // 1. Only the new key: the secret cannot be read, so the delivery waits; nothing is sent
    //    (no request with a wrong signature), no attempt is charged to the receiver.
    const logs: string[] = [];
    const b = await serviceOn(store, 'all', { SECRETS_KEY: NEW_KEY }, logs);
    let deliveryId: string;
    try {
      const e = event(customer.id);
      expect((await b.ingest(e)).status).toBe(202);
      await eventually(() => logs.join(''), (l) => l.includes('cannot decrypt webhook secret'), 10_000);
      const test = await b.customer(customer.key)('POST', `/api/v1/customer/webhooks/${hook.id}/test`);
      expect(test.status).toBe(500);
      expect(test.body.error.code).toBe('internal_error');
      expect(test.text).not.toMatch(/\bat .+:\d+:\d+|"stack"|whsec_/);
      const list = await b.customer(customer.key)('GET', `/api/v1/customer/webhooks/${hook.id}/deliveries`);
      expect(list.body.data).toHaveLength(1);
      expect(list.body.data[0]).toMatchObject({ status: 'pending', attempts: [] });
      deliveryId = list.body.data[0].id;
      expect(receiver.count()).toBe(0);
      // The log says what is wrong without saying any secret.
      for (const secret of [NEW_KEY, OLD_KEY, hook.secret]) expect(logs.join('')).not.toContain(secret);
    } finally {
      await b.service.close();
    }
    expect(receiver.count()).toBe(0);

    // 2. The failed rotation changed nothing.
    expect(await withoutOldKey).toBe(1);
    expect(await stored()).toBe(before);

    // 3. The rotation itself.
    const first = await cli({ SECRETS_KEY: NEW_KEY, SECRETS_KEY_PREVIOUS: OLD_KEY });
    expect(JSON.parse(first.stdout)).toEqual({ reencrypted: 1, checked: 1 });
    expect(await stored()).toMatch(new RegExp(`^v1\\.${keyId(NEW_KEY)}\\.`));
    const { text } = await dumpStore(store);
    expect(text.includes(hook.secret.slice('whsec_'.length))).toBe(false);
    // Running it again finds nothing left to do (in this process: a child is slow to start).
    const db = store.open();
    try {
      expect(await rotateSecretsKey(db.db, secretBoxFor(loadConfig({ DATA_DIR: store.dataDir, ADMIN_TOKEN, INGEST_TOKEN, SECRETS_KEY: NEW_KEY, SECRETS_KEY_PREVIOUS: OLD_KEY })))).toEqual({ reencrypted: 0, checked: 1 });
    } finally {
      await db.close();
    }

    // 4. Only the new key again: the waiting delivery goes out once its lease has run out,
    //    signed with the secret the customer was given at create.
    const c = await serviceOn(store, 'all', { SECRETS_KEY: NEW_KEY });
    try {
      await receiver.waitFor(1, '/rotating', 15_000);
      const [r] = receiver.received;
      expect(r!.headers['webhook-id']).toBe(deliveryId);
      expect(r!.headers['x-webhook-attempt']).toBe('1');
      verifyBoth(hook.secret, r!);
      const d = await eventually(
        async () => (await c.customer(customer.key)('GET', `/api/v1/customer/webhooks/${hook.id}/deliveries`)).body.data[0],
        (x: any) => x.status === 'succeeded',
      );
      expect(d.attempts.map((a: any) => [a.attempt, a.status_code, a.error])).toEqual([[1, 200, null]]);
      const test = await c.customer(customer.key)('POST', `/api/v1/customer/webhooks/${hook.id}/test`);
      expect(test.body).toMatchObject({ delivered: true, status_code: 200 });
      verifyBoth(hook.secret, receiver.received.at(-1)!);
    } finally {
      await c.service.close();
    }
  });
});
