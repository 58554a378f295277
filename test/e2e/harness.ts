import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { expect } from 'vitest';
import { eventually, type Received } from '../helpers/receiver.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { StoreKind } from '../helpers/stores.ts';

/**
 * Shared steps of the end-to-end tests: the whole service (API + a real worker) over a
 * fresh store, driven only through its public APIs, delivering to real loopback receivers.
 */

/** The API and a worker in this process; the rate limit is lifted so tests may poll. */
export function startE2E(kind: StoreKind, env: Record<string, string> = {}): Promise<TestService> {
  return startTestService(kind, { role: 'all', env: { RATE_LIMIT: '1000000', ...env } });
}

export type CreatedWebhook = { id: string; secret: string; body: any };

export async function createWebhook(svc: TestService, key: string, input: Record<string, unknown>): Promise<CreatedWebhook> {
  const res = await svc.customer(key, 'POST', '/api/v1/customer/webhooks', input);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id, secret: res.body.secret, body: res.body };
}

/** A valid ingest event with a fresh email_id; `extra` overrides or adds fields. */
export function event(customerId: string, type = 'email.delivered', extra: Record<string, unknown> = {}): Record<string, any> {
  return { customer_id: customerId, event: type, email_id: randomUUID(), ...extra };
}

/** Ingests and insists on 202. */
export async function ingestOk(svc: TestService, payload: unknown): Promise<any> {
  const res = await svc.ingest(payload);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body;
}

export async function listDeliveries(svc: TestService, key: string, webhookId: string, query = ''): Promise<{ status: number; body: any }> {
  return svc.customer(key, 'GET', `/api/v1/customer/webhooks/${webhookId}/deliveries${query}`);
}

/** Waits until the webhook has a delivery (newest first search) that satisfies `check`. */
export async function deliveryWhere(svc: TestService, key: string, webhookId: string, check: (d: any) => boolean): Promise<any> {
  const list = await eventually(
    async () => (await listDeliveries(svc, key, webhookId, '?limit=200')).body.data as any[],
    (l) => Array.isArray(l) && l.some(check),
  );
  return list.find(check);
}

export const bodyOf = (r: Received): any => JSON.parse(r.body);

/** Requests whose JSON body carries this email_id. */
export const withEmail = (received: Received[], emailId: string): Received[] =>
  received.filter((r) => {
    try {
      return bodyOf(r).email_id === emailId;
    } catch {
      return false;
    }
  });

const headerRecord = (r: Received): Record<string, string> =>
  Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));

/** Verifies with both public libraries; throws if either refuses. */
export function verifyBoth(secret: string, r: Received): unknown {
  const headers = headerRecord(r);
  const a = new StandardWebhook(secret).verify(r.body, headers);
  const b = new SvixWebhook(secret).verify(r.body, headers);
  expect(b).toEqual(a);
  return a;
}

/** A loopback port nobody listens on: a server is bound to it, then closed. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
