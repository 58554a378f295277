import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../domain/errors.ts';
import { EVENT_TYPES } from '../../domain/event-types.ts';
import { ingestEvents } from '../../ingest/ingest.ts';
import { MAX_BATCH } from '../../ingest/validate-event.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { ServiceContext } from '../../services/context.ts';
import { requireToken } from '../auth.ts';
import { errors } from '../schemas/common.ts';

const IngestEvent = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Idempotency key: a repeated id (per customer) is accepted once.' })),
    customer_id: Type.String({ format: 'uuid' }),
    domain_id: Type.Optional(Type.String({ format: 'uuid', description: 'The sending domain.' })),
    event: Type.Union(EVENT_TYPES.map((e) => Type.Literal(e))),
    timestamp: Type.Optional(Type.String({ format: 'date-time', description: 'Default: now.' })),
    email_id: Type.Optional(Type.String({ format: 'uuid', description: 'Required except for email.unsubscribed.' })),
    tag: Type.Optional(Type.String({ maxLength: 255 })),
    metadata: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'At most 16 KiB as JSON.' })),
    data: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'Type-specific details; at most 64 KiB as JSON.' })),
  },
  { title: 'IngestEvent' },
);

const IngestBody = Type.Union([
  IngestEvent,
  Type.Object({ events: Type.Array(IngestEvent, { minItems: 1, maxItems: MAX_BATCH }) }),
  Type.Array(IngestEvent, { minItems: 1, maxItems: MAX_BATCH }),
]);

const IngestAccepted = Type.Object({
  accepted: Type.Integer(),
  duplicates: Type.Integer(),
  deliveries: Type.Integer({ description: 'Deliveries created by fan-out.' }),
  events: Type.Array(
    Type.Object({
      index: Type.Integer(),
      id: Type.Union([Type.String(), Type.Null()]),
      event_id: Type.Union([Type.String(), Type.Null()]),
      status: Type.Union([Type.Literal('accepted'), Type.Literal('duplicate')]),
    }),
  ),
});

/** The sending pipeline's door. Events are checked one by one here (not by the route schema) so every bad event is named. */
export const ingestRoutes = (ctx: ServiceContext, ingestToken: string, metrics: Metrics): FastifyPluginAsyncTypebox => async (app) => {
  app.addHook('onRequest', requireToken(ingestToken, 'INGEST_TOKEN'));
  app.post('/events', {
    schema: {
      tags: ['ingest'],
      security: [{ ingestToken: [] }],
      summary: 'Submit email events',
      description:
        'One event, or {"events": [...]} (or a bare array) with up to 1,000. 202 means every event and its deliveries are durably stored. ' +
        'All or nothing: if any event is invalid the answer is 422 with one error per bad event (index, field, message) and nothing is stored.',
      body: IngestBody,
      response: { 202: IngestAccepted, ...errors(400, 401, 413, 415, 422) },
    },
    // Validation happens per event in ingestEvents, which names each bad one.
    validatorCompiler: () => (data) => ({ value: data }),
    handler: async (req, reply) => {
      const body = req.body as unknown;
      // One event, {"events": [...]}, or a bare array of events.
      const list = Array.isArray(body) ? body : body && typeof body === 'object' && 'events' in body ? (body as { events: unknown }).events : [body];
      if (!Array.isArray(list)) throw new AppError('validation_failed', 'send one event object, or {"events": [...]} with up to 1,000 events');
      const { webhookIds, ...result } = await ingestEvents(ctx.database, list);
      metrics.eventsIngested.inc(result.accepted);
      metrics.deliveriesCreated.inc(result.deliveries);
      if (webhookIds.length > 0) ctx.wake(webhookIds);
      return reply.status(202).send(result);
    },
  });
};
