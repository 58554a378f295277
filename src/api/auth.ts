import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../domain/errors.ts';
import { customerForApiKey } from '../services/customers.ts';
import { safeEqual } from '../signing/secret-box.ts';
import type { Db } from '../store/database.ts';

declare module 'fastify' {
  interface FastifyRequest {
    customerId: string;
    apiKeyId: string;
  }
}

const unauthorized = (message: string) => new AppError('unauthorized', message);

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme, token] = header.split(' ');
  return scheme?.toLowerCase() === 'bearer' && token ? token : undefined;
}

/** Admin and ingest APIs: one operator token each, compared in constant time. */
export const requireToken = (token: string, name: string) => async (request: FastifyRequest, _reply: FastifyReply) => {
  const given = bearer(request);
  if (!given) throw unauthorized(`send Authorization: Bearer <${name}>`);
  if (!safeEqual(given, token)) throw unauthorized(`invalid ${name}`);
};

/** Customer API: X-API-Key, looked up by hash; a revoked key stops working at once. */
export const requireApiKey = (db: Db) => async (request: FastifyRequest, _reply: FastifyReply) => {
  const key = request.headers['x-api-key'];
  if (typeof key !== 'string' || key.length === 0) throw unauthorized('send your API key in the X-API-Key header');
  const found = key.length <= 256 ? await customerForApiKey(db, key) : null;
  if (!found) throw unauthorized('invalid or revoked API key');
  request.customerId = found.customerId;
  request.apiKeyId = found.keyId;
};
