import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../services/context.ts';
import * as webhooks from '../../services/webhooks.ts';
import { requireApiKey } from '../auth.ts';
import { deliveryRoutes } from './deliveries.ts';
import { errors } from '../schemas/common.ts';
import { CreateWebhook, UpdateWebhook, Webhook, WebhookList, WebhookParams, WebhookWithSecret } from '../schemas/webhooks.ts';

const tags = ['webhooks'];
const security = [{ apiKey: [] }];
// The collection is registered as '/' under the prefix, so Fastify serves it with and
// without the trailing slash; the OpenAPI document names it as the product document does.
const swaggerTransform: SwaggerTransform = ({ schema, url }) => ({ schema, url: url.replace(/\/$/, '') });
const canonicalPath = { swaggerTransform };

/** The six operations of the product document, under /api/v1/customer/webhooks. */
export const customerWebhookRoutes = (ctx: ServiceContext): FastifyPluginAsyncTypebox => async (app) => {
  app.addHook('onRequest', requireApiKey(ctx.database.db));
  await app.register(deliveryRoutes(ctx));

  app.get('/', {
    config: canonicalPath,
    schema: { tags, security, summary: 'List webhook endpoints', response: { 200: WebhookList, ...errors(401, 429) } },
    handler: async (req) => webhooks.listWebhooks(ctx, req.customerId),
  });

  app.post('/', {
    config: canonicalPath,
    schema: {
      tags,
      security,
      summary: 'Create a webhook endpoint',
      description: 'The response carries the whsec_ signing secret; no other response shows it.',
      body: CreateWebhook,
      response: { 201: WebhookWithSecret, ...errors(400, 401, 403, 413, 415, 422, 429) },
    },
    handler: async (req, reply) => reply.status(201).send(await webhooks.createWebhook(ctx, req.customerId, req.body)),
  });

  app.get('/:webhookId', {
    schema: { tags, security, summary: 'Get a webhook endpoint', params: WebhookParams, response: { 200: Type.Ref(Webhook), ...errors(401, 404, 429) } },
    handler: async (req) => webhooks.getWebhook(ctx, req.customerId, req.params.webhookId),
  });

  app.put('/:webhookId', {
    schema: {
      tags,
      security,
      summary: 'Update a webhook endpoint',
      description: 'Fields given are replaced, others kept. domain_ids null or [] makes it customer-level.',
      params: WebhookParams,
      body: UpdateWebhook,
      response: { 200: Type.Ref(Webhook), ...errors(400, 401, 404, 413, 415, 422, 429) },
    },
    handler: async (req) => webhooks.updateWebhook(ctx, req.customerId, req.params.webhookId, req.body),
  });

  app.delete('/:webhookId', {
    schema: { tags, security, summary: 'Delete a webhook endpoint', description: 'Pending deliveries are cancelled.', params: WebhookParams, response: { 204: Type.Null(), ...errors(401, 404, 429) } },
    handler: async (req, reply) => {
      await webhooks.deleteWebhook(ctx, req.customerId, req.params.webhookId);
      return reply.status(204).send(null);
    },
  });

  app.post('/:webhookId/regenerate-secret', {
    schema: {
      tags,
      security,
      summary: 'Regenerate the signing secret',
      description: 'The old secret stops signing at once, retries of older messages included.',
      params: WebhookParams,
      response: { 200: WebhookWithSecret, ...errors(401, 404, 429) },
    },
    handler: async (req) => webhooks.regenerateSecret(ctx, req.customerId, req.params.webhookId),
  });
};
