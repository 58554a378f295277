import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Metrics } from '../../observability/metrics.ts';
import { ping, type Database } from '../../store/database.ts';
import { queueStats } from '../../store/queue-stats.ts';

const tags = ['operations'];

export const healthRoutes = (database: Database, metrics: Metrics): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/healthz', { logLevel: 'warn', schema: { tags, summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', { logLevel: 'warn', schema: { tags, summary: 'Readiness: the database answers' } }, async (_req, reply) => {
    try {
      await ping(database);
      return { status: 'ready', store: database.dialect };
    } catch {
      return reply.status(503).send({ error: { code: 'service_unavailable', message: 'database unreachable' } });
    }
  });

  app.get('/metrics', { logLevel: 'warn', schema: { tags, summary: 'Prometheus metrics', hide: false } }, async (_req, reply) => {
    // Queue figures are read on scrape: cheap (two indexed queries) and true across processes.
    const stats = await queueStats(database.db, Date.now()).catch(() => null);
    if (stats) {
      metrics.queueDepth.set(stats.pending);
      metrics.oldestDueAge.set(stats.oldestDueAgeMs / 1000);
    }
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
};
