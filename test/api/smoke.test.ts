import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';

describe.each(STORES)('service basics (%s)', (kind) => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService(kind);
  });
  afterAll(async () => svc?.close());

  it('answers liveness and readiness', async () => {
    expect((await svc.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await svc.app.inject('/readyz')).json()).toMatchObject({ status: 'ready', store: kind });
  });

  it('creates a customer-level webhook from the product document example', async () => {
    const c = await svc.newCustomer('starter');
    const res = await svc.customer(c.key, 'POST', '/api/v1/customer/webhooks', {
      url: 'https://your-app.com/webhooks/mailerlogic',
      events: ['email.delivered', 'email.opened', 'email.clicked', 'email.bounced', 'email.complained'],
      name: 'Production Webhook',
      domain_ids: null,
      is_active: true,
    });
    expect(res.status).toBe(201);
    expect(res.body.scope).toBe('customer');
    expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  });
});
