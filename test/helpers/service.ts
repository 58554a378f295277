import { randomBytes } from 'node:crypto';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { DestinationStream } from 'pino';
import { createLogger } from '../../src/observability/logger.ts';
import type { Resolver } from '../../src/ssrf/guarded-lookup.ts';
import { loadConfig, type Config } from '../../src/config/load.ts';
import { createService, type Role, type Service } from '../../src/service.ts';
import { createTestStore, type StoreKind, type TestStore } from './stores.ts';

export type TestService = Service & {
  app: FastifyInstance;
  store: TestStore;
  config: Config;
  adminToken: string;
  ingestToken: string;
  /** Admin API call with the admin token. */
  admin(method: InjectOptions['method'], url: string, payload?: unknown): Promise<{ status: number; body: any }>;
  /** Customer API call with an API key. */
  customer(key: string, method: InjectOptions['method'], url: string, payload?: unknown): Promise<{ status: number; body: any }>;
  /** Ingest API call with the ingest token. */
  ingest(payload: unknown): Promise<{ status: number; body: any }>;
  /** A customer on a plan, a domain per name given, and an API key. */
  newCustomer(plan?: string, domains?: string[], webhookLimit?: number): Promise<{ id: string; key: string; keyId: string; domains: string[] }>;
};

/**
 * The whole service in this process over a fresh store, as `npm start` builds it: the HTTP
 * app (driven with inject) and, unless role is 'api', a real delivery worker.
 */
export async function startTestService(kind: StoreKind, opts: { role?: Role; env?: Record<string, string>; logStream?: DestinationStream; resolve?: Resolver } = {}): Promise<TestService> {
  const store = await createTestStore(kind);
  const adminToken = randomBytes(24).toString('base64url');
  const ingestToken = randomBytes(24).toString('base64url');
  const config = loadConfig({
    DATA_DIR: store.dataDir,
    DATABASE_URL: store.databaseUrl,
    ADMIN_TOKEN: adminToken,
    INGEST_TOKEN: ingestToken,
    SECRETS_KEY: randomBytes(32).toString('hex'),
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const service = await createService(config, store.open(), createLogger(opts.logStream ? 'debug' : config.logLevel, opts.logStream), opts.role ?? 'api', { resolve: opts.resolve });
  const app = service.app!;
  const call = async (headers: Record<string, string>, method: InjectOptions['method'], url: string, payload?: unknown) => {
    const res = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
    let body: any = res.body;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {}
    return { status: res.statusCode, body, headers: res.headers };
  };
  const t: TestService = {
    ...service,
    app,
    store,
    config,
    adminToken,
    ingestToken,
    admin: (method, url, payload) => call({ authorization: `Bearer ${adminToken}` }, method, url, payload),
    customer: (key, method, url, payload) => call({ 'x-api-key': key }, method, url, payload),
    ingest: (payload) => call({ authorization: `Bearer ${ingestToken}` }, 'POST', '/internal/v1/events', payload),
    async newCustomer(plan = 'business', domains = [], webhookLimit) {
      const c = await t.admin('POST', '/admin/v1/customers', { name: 'Test customer', plan, ...(webhookLimit !== undefined ? { webhook_limit: webhookLimit } : {}) });
      if (c.status !== 201) throw new Error(`creating customer: ${JSON.stringify(c.body)}`);
      const ids: string[] = [];
      for (const name of domains) {
        const d = await t.admin('POST', `/admin/v1/customers/${c.body.id}/domains`, { name });
        ids.push(d.body.id);
      }
      const k = await t.admin('POST', `/admin/v1/customers/${c.body.id}/api-keys`);
      return { id: c.body.id, key: k.body.key, keyId: k.body.id, domains: ids };
    },
    async close() {
      await service.close();
      await store.drop();
    },
  };
  return t;
}
