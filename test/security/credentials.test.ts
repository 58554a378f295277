import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, request } from '../helpers/http.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { event } from '../e2e/harness.ts';

/**
 * Each credential opens its own API only: a customer key is no operator token, an operator
 * token is no customer key, and the admin and ingest tokens are not interchangeable.
 */

describe.each(STORES)('credential boundaries (%s)', (kind) => {
  let svc: TestService;
  let customer: { id: string; key: string; keyId: string };
  let webhookId: string;

  beforeAll(async () => {
    svc = await startTestService(kind, { role: 'api', env: { RATE_LIMIT: '1000000' } });
    customer = await svc.newCustomer('business');
    const w = await svc.customer(customer.key, 'POST', '/api/v1/customer/webhooks', { url: 'https://hooks.example.com/in', events: ['email.delivered'] });
    expect(w.status).toBe(201);
    webhookId = w.body.id;
  });
  afterAll(async () => {
    await svc?.close();
  });

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const apiKey = (t: string) => ({ 'x-api-key': t });
  const adminGet = (headers: Record<string, string>) => request(svc.app, 'GET', `/admin/v1/customers/${customer.id}`, { headers });
  const ingest = (headers: Record<string, string>) => request(svc.app, 'POST', '/internal/v1/events', { headers, payload: event(customer.id) });
  const customerList = (headers: Record<string, string>) => request(svc.app, 'GET', '/api/v1/customer/webhooks', { headers });
  const deliveries = async () => (await svc.customer(customer.key, 'GET', `/api/v1/customer/webhooks/${webhookId}/deliveries`)).body.data;

  it('each credential works on its own API', async () => {
    expect((await adminGet(bearer(svc.adminToken))).status).toBe(200);
    expect((await customerList(apiKey(customer.key))).status).toBe(200);
    expect((await ingest(bearer(svc.ingestToken))).status).toBe(202);
    expect(await deliveries()).toHaveLength(1);
  });

  it('a customer API key opens neither the admin nor the ingest API', async () => {
    expectError(await adminGet(bearer(customer.key)), 401, 'unauthorized');
    expectError(await adminGet(apiKey(customer.key)), 401, 'unauthorized');
    expectError(await request(svc.app, 'POST', `/admin/v1/customers/${customer.id}/api-keys`, { headers: { ...apiKey(customer.key), ...bearer(customer.key) } }), 401, 'unauthorized');
    expectError(await ingest(bearer(customer.key)), 401, 'unauthorized');
    expectError(await ingest(apiKey(customer.key)), 401, 'unauthorized');
    expect(await deliveries()).toHaveLength(1);
  });

  it('the admin token opens neither the customer nor the ingest API', async () => {
    expectError(await customerList(apiKey(svc.adminToken)), 401, 'unauthorized');
    expectError(await customerList(bearer(svc.adminToken)), 401, 'unauthorized');
    expectError(await ingest(bearer(svc.adminToken)), 401, 'unauthorized');
    expect(await deliveries()).toHaveLength(1);
  });

  it('the ingest token opens neither the admin nor the customer API', async () => {
    expectError(await adminGet(bearer(svc.ingestToken)), 401, 'unauthorized');
    expectError(await request(svc.app, 'POST', '/admin/v1/customers', { headers: bearer(svc.ingestToken), payload: { name: 'x', plan: 'starter' } }), 401, 'unauthorized');
    expectError(await customerList(apiKey(svc.ingestToken)), 401, 'unauthorized');
    expectError(await customerList(bearer(svc.ingestToken)), 401, 'unauthorized');
  });

  it('shows the webhook secret only at create and regenerate, and an API key only at create', async () => {
    const created = await svc.customer(customer.key, 'POST', '/api/v1/customer/webhooks', { url: 'https://hooks.example.com/once', events: ['email.delivered'] });
    const regen = await svc.customer(customer.key, 'POST', `/api/v1/customer/webhooks/${created.body.id}/regenerate-secret`);
    expect(created.body.secret).toMatch(/^whsec_/);
    expect(regen.body.secret).toMatch(/^whsec_/);
    const base = '/api/v1/customer/webhooks';
    const reads = [
      await svc.customer(customer.key, 'GET', base),
      await svc.customer(customer.key, 'GET', `${base}/${created.body.id}`),
      await svc.customer(customer.key, 'PUT', `${base}/${created.body.id}`, { name: 'renamed' }),
      await svc.admin('GET', `/admin/v1/customers/${customer.id}`),
      await svc.admin('GET', `/admin/v1/customers/${customer.id}/api-keys`),
    ];
    for (const r of reads) {
      const text = JSON.stringify(r.body);
      expect(text).not.toMatch(/whsec_|"secret"|secret_enc|key_hash/);
      for (const secret of [created.body.secret, regen.body.secret, customer.key]) expect(text).not.toContain(secret.slice(12));
    }
    await svc.customer(customer.key, 'DELETE', `${base}/${created.body.id}`);
  });

  it('a revoked API key stops working at once', async () => {
    const k = await svc.admin('POST', `/admin/v1/customers/${customer.id}/api-keys`);
    expect((await customerList(apiKey(k.body.key))).status).toBe(200);
    expect((await svc.admin('DELETE', `/admin/v1/customers/${customer.id}/api-keys/${k.body.id}`)).status).toBe(204);
    expectError(await customerList(apiKey(k.body.key)), 401, 'unauthorized');
    expect((await customerList(apiKey(customer.key))).status).toBe(200);
  });
});
