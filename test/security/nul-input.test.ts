import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, request } from '../helpers/http.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { event } from '../e2e/harness.ts';

/**
 * NUL characters from any client: PostgreSQL text cannot hold them, so without care they
 * turn into a failed query and a 500 on one store while the other stores them. Both stores
 * must answer alike, with a 4xx, and store nothing. (A receiver's NUL is covered with the
 * hostile endpoints.)
 */

describe.each(STORES)('NUL characters in requests (%s)', (kind) => {
  let svc: TestService;
  let customer: { id: string; key: string };
  let webhookId: string;

  beforeAll(async () => {
    svc = await startTestService(kind, { role: 'api', env: { RATE_LIMIT: '1000000' } });
    customer = await svc.newCustomer('business');
    webhookId = (await svc.customer(customer.key, 'POST', '/api/v1/customer/webhooks', { url: 'https://hooks.example.com/in', events: ['email.delivered'] })).body.id;
  });
  afterAll(async () => {
    await svc?.close();
  });

  const as = (headers: Record<string, string>) => (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) => request(svc.app, method, url, { headers, payload });
  const customerCall = () => as({ 'x-api-key': customer.key });
  const adminCall = () => as({ authorization: `Bearer ${svc.adminToken}` });

  it('refuses NUL in customer and admin bodies with 422, and in paths with 400', async () => {
    const hooks = '/api/v1/customer/webhooks';
    expectError(await customerCall()('POST', hooks, { url: 'https://hooks.example.com/x', name: 'a\u0000b', events: ['email.delivered'] }), 422, 'validation_failed');
    expectError(await customerCall()('PUT', `${hooks}/${webhookId}`, { name: 'a\u0000b' }), 422, 'validation_failed');
    expectError(await adminCall()('POST', '/admin/v1/customers', { name: 'a\u0000b', plan: 'starter' }), 422, 'validation_failed');
    expectError(await adminCall()('GET', '/admin/v1/customers/%00'), 400, 'bad_request');
    expectError(await customerCall()('GET', `${hooks}/${webhookId}/deliveries?cursor=%00`), 400, 'bad_request');
    const list = (await customerCall()('GET', hooks)).body;
    expect(list.count).toBe(1);
    expect(list.data[0].name).toBeNull();
  });

  it('still authenticates first', async () => {
    expectError(await as({})('POST', '/admin/v1/customers', { name: 'a\u0000b', plan: 'starter' }), 401, 'unauthorized');
  });

  it('refuses an ingest event whose id holds NUL with 422 naming it, and keeps NUL inside event data', async () => {
    const bad = await svc.ingest({ events: [event(customer.id), event(customer.id, 'email.delivered', { id: 'x\u0000y' })] });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([expect.objectContaining({ index: 1, field: 'id' })]);
    // Inside data and metadata a NUL is JSON-escaped where it is stored: accepted as sent.
    const ok = await svc.ingest(event(customer.id, 'email.delivered', { tag: 't\u0000', metadata: { 'k\u0000': 'v\u0000' }, data: { reason: 'smtp\u0000reply' } }));
    expect(ok.status).toBe(202);
    const deliveries = await svc.customer(customer.key, 'GET', `/api/v1/customer/webhooks/${webhookId}/deliveries`);
    expect(deliveries.body.data).toHaveLength(1);
  });
});
