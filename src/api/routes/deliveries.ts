import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../../domain/errors.ts';
import type { ServiceContext } from '../../services/context.ts';
import * as deliveries from '../../services/deliveries.ts';
import { errors } from '../schemas/common.ts';
import { DeliveryList, DeliveryParams, DeliveryQuery, RetryResult, TestResult } from '../schemas/deliveries.ts';
import { WebhookParams } from '../schemas/webhooks.ts';

const tags = ['webhooks'];

function pageSize(value: string | undefined): number {
  if (value === undefined) return 50;
  const n = /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 200)) throw new AppError('bad_request', 'limit must be a whole number from 1 to 200', [{ field: 'limit', message: 'must be a whole number from 1 to 200' }]);
  return n;
}
const security = [{ apiKey: [] }];

/** Seeing and mending deliveries; registered inside the customer webhook routes (same auth). */
export const deliveryRoutes = (ctx: ServiceContext): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/:webhookId/test', {
    schema: {
      tags,
      security,
      summary: 'Send a test event',
      description: 'Sends {"event":"test",…} signed with the current secret and answers with the outcome. Not queued, not retried; works on inactive webhooks.',
      params: WebhookParams,
      response: { 200: TestResult, ...errors(401, 404, 429) },
    },
    handler: async (req) => deliveries.sendTestEvent(ctx, req.customerId, req.params.webhookId),
  });

  app.get('/:webhookId/deliveries', {
    schema: {
      tags,
      security,
      summary: "List a webhook's deliveries and their attempts",
      params: WebhookParams,
      querystring: DeliveryQuery,
      response: { 200: DeliveryList, ...errors(400, 401, 404, 429) },
    },
    handler: async (req) =>
      deliveries.listDeliveries(ctx, req.customerId, req.params.webhookId, {
        status: req.query.status as never,
        limit: pageSize(req.query.limit),
        cursor: req.query.cursor,
      }),
  });

  app.post('/:webhookId/deliveries/:deliveryId/retry', {
    schema: {
      tags,
      security,
      summary: 'Send a delivery again now',
      params: DeliveryParams,
      response: { 202: RetryResult, ...errors(401, 404, 409, 429) },
    },
    handler: async (req, reply) => reply.status(202).send(await deliveries.retryDelivery(ctx, req.customerId, req.params.webhookId, req.params.deliveryId)),
  });
};
