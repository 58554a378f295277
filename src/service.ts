import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './api/app.ts';
import type { Config } from './config/load.ts';
import { WebhookHttpClient } from './delivery/http-client.ts';
import { createWakeup } from './delivery/wakeup.ts';
import { startWorker, type Worker } from './delivery/worker.ts';
import { createMetrics } from './observability/metrics.ts';
import type { ServiceContext } from './services/context.ts';
import { SecretBox, parseSecretsKey } from './signing/secret-box.ts';
import { createGuardedConnector, type Resolver } from './ssrf/guarded-lookup.ts';
import type { Database } from './store/database.ts';

export type Role = 'all' | 'api' | 'worker';

export interface Service {
  app?: FastifyInstance;
  worker?: Worker;
  ctx: ServiceContext;
  close(): Promise<void>;
}

export function secretBoxFor(config: Pick<Config, 'secretsKey' | 'secretsKeyPrevious'>): SecretBox {
  return new SecretBox(parseSecretsKey(config.secretsKey), config.secretsKeyPrevious.map(parseSecretsKey));
}

/**
 * Wires one process: the HTTP app (unless role is 'worker') and the delivery worker (unless
 * 'api') over an open, migrated database. main.ts and the tests both build the service here.
 * Closing stops taking requests and claims, lets in-flight deliveries finish, then closes
 * the database.
 */
export async function createService(
  config: Config,
  database: Database,
  logger: Logger,
  role: Role,
  /** Tests only: a DNS resolver to stand in for the system's, e.g. one that answers 10.0.0.1. */
  overrides: { resolve?: Resolver } = {},
): Promise<Service> {
  const metrics = createMetrics();
  const wakeup = createWakeup(database, logger, { listen: role !== 'api' });
  // Every outbound request, test events included, goes through the connect-time SSRF guard.
  const client = (connectionsPerOrigin: number) =>
    new WebhookHttpClient({
      timeoutMs: config.deliveryTimeoutMs,
      connectionsPerOrigin,
      connector: createGuardedConnector({ allowPrivateNetworks: config.allowPrivateNetworks, timeoutMs: config.deliveryTimeoutMs, resolve: overrides.resolve }),
    });
  const httpClient = client(config.endpointConcurrency);
  // The worker's per-webhook cap does the limiting; a per-origin cap below the worker's
  // concurrency would make webhooks sharing a host queue behind a slow one.
  const workerClient = role === 'api' ? undefined : client(config.workerConcurrency);
  const secretBox = secretBoxFor(config);
  const ctx: ServiceContext = {
    database,
    secretBox,
    allowPrivateNetworks: config.allowPrivateNetworks,
    wake: () => wakeup.wake(),
    httpClient,
    retryScheduleMs: config.retryScheduleMs,
  };
  const worker = role === 'api' ? undefined : startWorker({ database, secretBox, metrics, logger, config, wakeup, client: workerClient });
  const app = role === 'worker' ? undefined : await buildApp({ ctx, metrics, logger, config });
  return {
    app,
    worker,
    ctx,
    async close() {
      await app?.close();
      await worker?.stop();
      await wakeup.close();
      await httpClient.close();
      await workerClient?.close();
      await database.close();
    },
  };
}
