import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import * as customers from '../../services/customers.ts';
import type { ServiceContext } from '../../services/context.ts';
import { requireToken } from '../auth.ts';
import { ApiKey, ApiKeyCreated, ApiKeyParams, CreateCustomer, CreateDomain, Customer, CustomerParams, Domain, UpdateCustomer } from '../schemas/admin.ts';
import { errors } from '../schemas/common.ts';

const tags = ['admin'];
const security = [{ adminToken: [] }];

/** Operators: customers, their sending domains and API keys. */
export const adminRoutes = (ctx: ServiceContext, adminToken: string): FastifyPluginAsyncTypebox => async (app) => {
  const db = ctx.database.db;
  app.addHook('onRequest', requireToken(adminToken, 'ADMIN_TOKEN'));

  app.post('/customers', {
    schema: { tags, security, summary: 'Create a customer', body: CreateCustomer, response: { 201: Type.Ref(Customer), ...errors(400, 401, 422) } },
    handler: async (req, reply) => reply.status(201).send(await customers.createCustomer(db, req.body)),
  });

  app.get('/customers/:customerId', {
    schema: { tags, security, summary: 'Get a customer', params: CustomerParams, response: { 200: Type.Ref(Customer), ...errors(401, 404) } },
    handler: async (req) => customers.getCustomer(db, req.params.customerId),
  });

  app.patch('/customers/:customerId', {
    schema: {
      tags,
      security,
      summary: "Change a customer's name, plan or custom webhook limit",
      params: CustomerParams,
      body: UpdateCustomer,
      response: { 200: Type.Ref(Customer), ...errors(400, 401, 404, 422) },
    },
    handler: async (req) => customers.updateCustomer(db, req.params.customerId, req.body),
  });

  app.post('/customers/:customerId/domains', {
    schema: {
      tags,
      security,
      summary: 'Add a sending domain',
      params: CustomerParams,
      body: CreateDomain,
      response: { 201: Type.Ref(Domain), ...errors(400, 401, 404, 409, 422) },
    },
    handler: async (req, reply) => reply.status(201).send(await customers.createDomain(db, req.params.customerId, req.body.name)),
  });

  app.get('/customers/:customerId/domains', {
    schema: { tags, security, summary: "List a customer's domains", params: CustomerParams, response: { 200: Type.Object({ data: Type.Array(Type.Ref(Domain)) }), ...errors(401, 404) } },
    handler: async (req) => ({ data: await customers.listDomains(db, req.params.customerId) }),
  });

  app.post('/customers/:customerId/api-keys', {
    schema: { tags, security, summary: 'Create an API key (shown once)', params: CustomerParams, response: { 201: ApiKeyCreated, ...errors(401, 404) } },
    handler: async (req, reply) => reply.status(201).send(await customers.createApiKey(db, req.params.customerId)),
  });

  app.get('/customers/:customerId/api-keys', {
    schema: { tags, security, summary: "List a customer's API keys (prefixes only)", params: CustomerParams, response: { 200: Type.Object({ data: Type.Array(ApiKey) }), ...errors(401, 404) } },
    handler: async (req) => ({ data: await customers.listApiKeys(db, req.params.customerId) }),
  });

  app.delete('/customers/:customerId/api-keys/:keyId', {
    schema: { tags, security, summary: 'Revoke an API key at once', params: ApiKeyParams, response: { 204: Type.Null(), ...errors(401, 404) } },
    handler: async (req, reply) => {
      await customers.revokeApiKey(db, req.params.customerId, req.params.keyId);
      return reply.status(204).send(null);
    },
  });
};
