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
  /** The HTTP app: every API, or for a worker only /healthz, /readyz and /metrics. */
  app: FastifyInstance;
  worker?: Worker;
  ctx: ServiceContext;
  /** Starts the delivery worker, if the role has one and it was deferred. */
  startWorker(): void;
  close(): Promise<void>;
}

export function secretBoxFor(config: Pick<Config, 'secretsKey' | 'secretsKeyPrevious'>): SecretBox {
  return new SecretBox(parseSecretsKey(config.secretsKey), config.secretsKeyPrevious.map(parseSecretsKey));
}

/**
 * Wires one process: the HTTP app (for a worker, only its health and metrics routes) and the
 * delivery worker (unless 'api') over an open, migrated database. main.ts and the tests both build the service here.
 * Closing stops taking requests and claims, lets in-flight deliveries finish, then closes
 * the database.
 */
export async function createService(
  config: Config,
  database: Database,
  logger: Logger,
  role: Role,
  opts: {
    /** Tests only: a DNS resolver to stand in for the system's, e.g. one that answers 10.0.0.1. */
    resolve?: Resolver;
    /** Leave the worker to startWorker(): main.ts starts it once the port is bound. */
    deferWorker?: boolean;
  } = {},
): Promise<Service> {
  const metrics = createMetrics();
  const wakeup = createWakeup(database, logger, { listen: role !== 'api' });
  // Every outbound request, test events included, goes through the connect-time SSRF guard.
  const client = (connectionsPerOrigin: number) =>
    new WebhookHttpClient({
      timeoutMs: config.deliveryTimeoutMs,
      connectionsPerOrigin,
      connector: createGuardedConnector({ allowPrivateNetworks: config.allowPrivateNetworks, timeoutMs: config.deliveryTimeoutMs, resolve: opts.resolve }),
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
    wake: (webhookIds) => wakeup.wake(webhookIds),
    httpClient,
    retryScheduleMs: config.retryScheduleMs,
  };
  const app = await buildApp({ ctx, metrics, logger, config, operationsOnly: role === 'worker' });
  const service: Service = {
    app,
    worker: undefined,
    ctx,
    startWorker() {
      if (role === 'api' || service.worker) return;
      service.worker = startWorker({ database, secretBox, metrics, logger, config, wakeup, client: workerClient });
    },
    async close() {
      // Together: the worker stops claiming at once instead of after the last HTTP request
      // (a test event can take the whole delivery timeout), and both fit in one timeout.
      await Promise.all([app.close(), service.worker?.stop()]);
      await wakeup.close();
      await httpClient.close();
      await workerClient?.close();
      await database.close();
    },
  };
  if (!opts.deferWorker) service.startWorker();
  return service;
}
