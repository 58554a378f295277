import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/load.ts';
import { AppError } from '../domain/errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { ServiceContext } from '../services/context.ts';
import { registerErrorHandling } from './error-handler.ts';
import { adminRoutes } from './routes/admin.ts';
import { customerWebhookRoutes } from './routes/customer-webhooks.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { healthRoutes } from './routes/health.ts';
import { ErrorBody } from './schemas/common.ts';
import { Customer, Domain } from './schemas/admin.ts';
import { Webhook } from './schemas/webhooks.ts';
import { Delivery } from './schemas/deliveries.ts';

export interface AppOptions {
  ctx: ServiceContext;
  metrics: Metrics;
  logger: Logger;
  config: Pick<Config, 'adminToken' | 'ingestToken' | 'bodyLimit' | 'rateLimit'>;
  /** A worker process serves only /healthz, /readyz and /metrics. */
  operationsOnly?: boolean;
}

/** The HTTP app, without listening: tests drive it with inject(), main.ts with listen(). */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit: opts.config.bodyLimit,
    ajv: {
      // Unknown fields are refused, not silently dropped: a typo ("event" for "events")
      // must not create a webhook that receives nothing. No type coercion of bodies either.
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  registerErrorHandling(app);
  // PostgreSQL text cannot hold NUL (SQLite can): refused here, after authentication, so
  // both stores answer alike, with 4xx rather than a failed query's 500. Ingest bodies are
  // left to its per-event validation: event data is stored as JSON, where NUL is escaped.
  app.addHook('preValidation', async (request) => {
    if (hasNul(request.params) || hasNul(request.query)) throw new AppError('bad_request', 'NUL characters are not allowed in the path or query');
    if (!request.routeOptions.url?.startsWith('/internal/') && hasNul(request.body)) {
      throw new AppError('validation_failed', 'NUL characters are not allowed in the request body');
    }
  });
  // Every API takes JSON only: without this, Fastify's text/plain parser would let a wrong
  // content type through to validation, answered 422 instead of 415.
  app.removeContentTypeParser('text/plain');
  // A JSON content type with no body (curl -H "Content-Type: application/json" on /test) is
  // no body, not an error; anything else goes to Fastify's own, poisoning-safe parser.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined);
    else parseJson(request, body as string, done);
  });
  for (const schema of [ErrorBody, Webhook, Customer, Domain, Delivery]) app.addSchema(schema);

  if (opts.operationsOnly) {
    await app.register(healthRoutes(opts.ctx.database, opts.metrics));
    return app;
  }

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'MailerLogic Webhooks',
        version: '1.0.0',
        description: 'Customer webhook API, operator admin API and the ingest API of the sending pipeline.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
          ingestToken: { type: 'http', scheme: 'bearer', description: 'INGEST_TOKEN' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (json.$id as string) ?? `def-${i}` },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes(opts.ctx.database, opts.metrics));
  await app.register(adminRoutes(opts.ctx, opts.config.adminToken), { prefix: '/admin/v1' });
  await app.register(ingestRoutes(opts.ctx, opts.config.ingestToken, opts.metrics), { prefix: '/internal/v1' });
  await app.register(
    async (scope) => {
      // Per API key (by its hash), before the key is looked up: a flood with one bad key is
      // limited without a database lookup each; requests without a key are limited per address.
      await scope.register(rateLimit, {
        max: opts.config.rateLimit,
        timeWindow: 60_000,
        keyGenerator: (req) => {
          const key = req.headers['x-api-key'];
          return typeof key === 'string' && key ? `key:${createHash('sha256').update(key).digest('hex')}` : `ip:${req.ip}`;
        },
        errorResponseBuilder: (_req, ctx) => {
          const err = new AppError('rate_limited', `rate limit of ${ctx.max} requests per minute exceeded; retry after ${ctx.after}`);
          return Object.assign(err, { statusCode: 429 });
        },
      });
      await scope.register(customerWebhookRoutes(opts.ctx));
    },
    { prefix: '/api/v1/customer/webhooks' },
  );
  return app;
}

/** Whether a string anywhere in a parsed JSON value (keys included) contains U+0000. */
function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (value === null || typeof value !== 'object' || depth > 64) return false;
  if (Array.isArray(value)) return value.some((v) => hasNul(v, depth + 1));
  for (const [k, v] of Object.entries(value)) if (k.includes('\u0000') || hasNul(v, depth + 1)) return true;
  return false;
}
