import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';

describe('customer API rate limit', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService('sqlite', { env: { RATE_LIMIT: '3' } });
  });
  afterAll(async () => svc?.close());

  it('answers 429 with Retry-After once a key passes its per-minute budget, and other keys are unaffected', async () => {
    const a = await svc.newCustomer('starter');
    const b = await svc.newCustomer('starter');
    for (let i = 0; i < 3; i++) expect((await svc.customer(a.key, 'GET', '/api/v1/customer/webhooks')).status).toBe(200);
    const res = await svc.app.inject({ method: 'GET', url: '/api/v1/customer/webhooks', headers: { 'x-api-key': a.key } });
    expect(res.statusCode).toBe(429);
    expect(res.json().error.code).toBe('rate_limited');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect((await svc.customer(b.key, 'GET', '/api/v1/customer/webhooks')).status).toBe(200);
  });

  it('does not limit the admin API by customer keys', async () => {
    for (let i = 0; i < 5; i++) expect((await svc.admin('POST', '/admin/v1/customers', { name: 'x', plan: 'starter' })).status).toBe(201);
  });
});
