import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError } from '../domain/errors.ts';

/**
 * One place turns every failure into `{"error": {code, message, details?}}`. Messages of
 * errors we raised, and of request errors Fastify raised, are shown; anything else is an
 * internal error: logged with its stack, answered with a bare 500.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    if (err instanceof AppError) return reply.status(err.status).send(err.toJSON());
    const fe = err as FastifyError;
    if (fe.validation) {
      const details = fe.validation.map((v) => ({
        field: fieldOf(fe.validationContext, v.instancePath, v.params),
        message: v.message,
      }));
      const where = fe.validationContext === 'body' ? 'request body' : fe.validationContext;
      const first = details[0];
      return reply
        .status(fe.validationContext === 'body' ? 422 : 400)
        .send(
          new AppError(fe.validationContext === 'body' ? 'validation_failed' : 'bad_request', `invalid ${where}: ${first.field} ${first.message}`, details).toJSON(),
        );
    }
    const status = fe.statusCode ?? 500;
    if (status === 413) return reply.status(413).send(new AppError('payload_too_large', 'request body is too large').toJSON());
    if (status === 415) {
      return reply.status(415).send(new AppError('unsupported_media_type', 'send the body as application/json').toJSON());
    }
    if (status === 429) return reply.status(429).send(new AppError('rate_limited', fe.message || 'too many requests').toJSON());
    if (status === 400) {
      const code = fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError ? 'invalid_json' : 'bad_request';
      return reply.status(400).send(new AppError(code, code === 'invalid_json' ? 'request body is not valid JSON' : fe.message).toJSON());
    }
    if (status < 500) return reply.status(status).send({ error: { code: 'bad_request', message: fe.message } });
    request.log.error({ err }, 'request failed');
    return reply.status(500).send(new AppError('internal_error', 'internal error').toJSON());
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(new AppError('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`).toJSON());
  });
}

/** `/events/0` → `events[0]`; a missing property names itself. */
function fieldOf(context: string | undefined, instancePath: string, params: Record<string, unknown>): string {
  const path = instancePath
    .split('/')
    .filter(Boolean)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
  const extra = (params.missingProperty ?? params.additionalProperty) as string | undefined;
  const full = extra ? (path ? `${path}.${extra}` : extra) : path;
  return full || context || 'body';
}
