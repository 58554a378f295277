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
      const details = describeValidation(fe.validationContext, fe.validation as unknown as AjvError[]);
      const body = fe.validationContext === 'body';
      const where = body ? 'request body' : fe.validationContext;
      const first = details[0];
      return reply
        .status(body ? 422 : 400)
        .send(new AppError(body ? 'validation_failed' : 'bad_request', `invalid ${where}: ${first.field} ${first.message}`, details).toJSON());
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

type AjvError = { keyword: string; instancePath: string; params: Record<string, unknown>; message?: string };

/**
 * Ajv's raw errors, one per failed schema branch, turned into one line per field that says
 * what is allowed: `events[0] must be one of email.sent, …` rather than eight "must be equal
 * to constant" and an "anyOf".
 */
function describeValidation(context: string | undefined, errors: AjvError[]): { field: string; message: string }[] {
  const byField = new Map<string, AjvError[]>();
  for (const e of errors) {
    const field = fieldOf(context, e.instancePath, e.params);
    byField.set(field, [...(byField.get(field) ?? []), e]);
  }
  return [...byField.entries()].map(([field, errs]) => {
    const allowed = errs.filter((e) => e.keyword === 'const').map((e) => JSON.stringify(e.params.allowedValue));
    const types = errs.filter((e) => e.keyword === 'type').map((e) => String(e.params.type));
    const first = errs.find((e) => e.keyword !== 'anyOf') ?? errs[0];
    let message = first.message ?? 'is invalid';
    if (allowed.length) message = `must be one of ${allowed.join(', ')}`;
    else if (types.length > 1) message = `must be ${types.join(' or ')}`;
    else if (first.keyword === 'required') message = 'is required';
    else if (first.keyword === 'additionalProperties') message = 'is not a known field';
    else if (first.keyword === 'pattern') message = 'is not in the expected format';
    return { field, message };
  });
}

/** `/events/0` → `events[0]`; a missing or unknown property names itself. */
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
