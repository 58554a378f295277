import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../../services/context.ts';
import * as deliveries from '../../services/deliveries.ts';
import { errors } from '../schemas/common.ts';
import { DeliveryList, DeliveryParams, DeliveryQuery, RetryResult, TestResult } from '../schemas/deliveries.ts';
import { WebhookParams } from '../schemas/webhooks.ts';

const tags = ['webhooks'];
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
        limit: req.query.limit ? Number(req.query.limit) : 50,
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
