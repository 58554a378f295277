import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';

// Mistakes a newcomer plausibly makes get an answer that says what is allowed.
describe.each(STORES)('error answers say what is allowed (%s)', (kind) => {
  let svc: TestService;
  let c: Awaited<ReturnType<TestService['newCustomer']>>;
  let other: Awaited<ReturnType<TestService['newCustomer']>>;
  beforeAll(async () => {
    svc = await startTestService(kind, { role: 'api' });
    c = await svc.newCustomer('professional', ['mail.acme.test']);
    other = await svc.newCustomer('starter', ['mail.other.test']);
  });
  afterAll(async () => svc?.close());

  it('names the allowed event types for a misspelt one, once', async () => {
    const res = await svc.customer(c.key, 'POST', '/api/v1/customer/webhooks', { url: 'https://a.example/h', events: ['email.delivred'] });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'events[0]', message: expect.stringContaining('must be one of "email.sent", "email.delivered"') }]);
  });

  it('reports an unknown field and the missing one together', async () => {
    const res = await svc.customer(c.key, 'POST', '/api/v1/customer/webhooks', { endpoint_url: 'https://a.example/h', events: ['email.sent'] });
    expect(res.status).toBe(422);
    const fields = res.body.error.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['url', 'endpoint_url']));
  });

  it('gives details as a list of fields for URL and domain problems too', async () => {
    const bad = await svc.customer(c.key, 'POST', '/api/v1/customer/webhooks', { url: 'ftp://a.example/h', events: ['email.sent'] });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([expect.objectContaining({ field: 'url', message: expect.any(String) })]);
    const foreign = await svc.customer(c.key, 'POST', '/api/v1/customer/webhooks', { url: 'https://a.example/h', events: ['email.sent'], domain_ids: other.domains });
    expect(foreign.status).toBe(422);
    expect(foreign.body.error.details).toEqual([expect.objectContaining({ field: 'domain_ids', unknown: other.domains })]);
  });

  it('says which statuses and page sizes the deliveries list takes', async () => {
    const hook = await svc.customer(c.key, 'POST', '/api/v1/customer/webhooks', { url: 'https://a.example/h', events: ['email.sent'] });
    const status = await svc.customer(c.key, 'GET', `/api/v1/customer/webhooks/${hook.body.id}/deliveries?status=delivered`);
    expect(status.status).toBe(400);
    expect(status.body.error.message).toContain('"succeeded"');
    const limit = await svc.customer(c.key, 'GET', `/api/v1/customer/webhooks/${hook.body.id}/deliveries?limit=0`);
    expect(limit.status).toBe(400);
    expect(limit.body.error.message).toBe('limit must be a whole number from 1 to 200');
  });

  it('takes a JSON content type with no body on the action routes', async () => {
    const hook = await svc.customer(c.key, 'POST', '/api/v1/customer/webhooks', { url: 'https://a.example/h', events: ['email.sent'] });
    const res = await svc.app.inject({
      method: 'POST',
      url: `/api/v1/customer/webhooks/${hook.body.id}/regenerate-secret`,
      headers: { 'x-api-key': c.key, 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().secret).toMatch(/^whsec_/);
  });

  it("refuses an ingested event whose domain_id is another customer's, naming it", async () => {
    const res = await svc.ingest({ customer_id: c.id, domain_id: other.domains[0], event: 'email.sent', email_id: '0b7c4a1e-3c2f-4a57-9f0e-2a3b4c5d6e7f' });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([expect.objectContaining({ index: 0, field: 'domain_id' })]);
    const own = await svc.ingest({ customer_id: c.id, domain_id: c.domains[0], event: 'email.sent', email_id: '0b7c4a1e-3c2f-4a57-9f0e-2a3b4c5d6e7f' });
    expect(own.status).toBe(202);
  });

  it('takes a bare array of events at ingest and says "is required" for a missing customer', async () => {
    const arr = await svc.ingest([{ customer_id: c.id, event: 'email.unsubscribed' }, { customer_id: c.id, event: 'email.unsubscribed' }]);
    expect(arr.status).toBe(202);
    expect(arr.body.accepted).toBe(2);
    const empty = await svc.ingest({});
    expect(empty.status).toBe(422);
    expect(empty.body.error.details).toEqual([expect.objectContaining({ field: 'customer_id', message: 'is required' })]);
  });
});
