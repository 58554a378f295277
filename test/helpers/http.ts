import type { FastifyInstance, InjectOptions } from 'fastify';
import { expect } from 'vitest';

export type Res = { status: number; body: any; text: string; headers: Record<string, unknown> };

/**
 * One request through the app, with full control of headers and the raw body (a string is
 * sent as is, so tests can send malformed JSON or another content type).
 */
export async function request(
  app: FastifyInstance,
  method: InjectOptions['method'],
  url: string,
  opts: { headers?: Record<string, string>; payload?: unknown } = {},
): Promise<Res> {
  const headers = { ...(opts.headers ?? {}) };
  let payload: string | undefined;
  if (typeof opts.payload === 'string') payload = opts.payload;
  else if (opts.payload !== undefined) {
    payload = JSON.stringify(opts.payload);
    headers['content-type'] ??= 'application/json';
  }
  const res = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
  let body: any = undefined;
  try {
    body = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    body = res.body;
  }
  return { status: res.statusCode, body, text: res.body, headers: res.headers };
}

/**
 * The error contract of every API: the status, a JSON `{"error": {code, message}}` body with
 * the stable code, and nothing that looks like a stack trace or an HTML page.
 */
export function expectError(res: Res, status: number, code: string): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { error: { code } } });
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.message.length).toBeGreaterThan(0);
  expect(res.text).not.toMatch(/\bat .+:\d+:\d+|"stack"|node_modules|<html/i);
}
