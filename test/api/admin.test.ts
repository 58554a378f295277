import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, request, type Res } from '../helpers/http.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe.each(STORES)('admin API (%s)', (kind) => {
  let svc: TestService;
  /** An admin call that keeps the headers and raw text, for the error contract. */
  const admin = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown): Promise<Res> =>
    request(svc.app, method, url, { headers: { authorization: `Bearer ${svc.adminToken}` }, payload });
  const createCustomer = async (body: Record<string, unknown>) => {
    const res = await admin('POST', '/admin/v1/customers', body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };

  beforeAll(async () => {
    svc = await startTestService(kind);
  });
  afterAll(async () => svc?.close());

  describe('customers', () => {
    it.each([
      ['starter', 1],
      ['professional', 3],
      ['business', 10],
    ])('creates a %s customer with a webhook limit of %i', async (plan, limit) => {
      const res = await admin('POST', '/admin/v1/customers', { name: `Acme ${plan}`, plan });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ name: `Acme ${plan}`, plan, webhook_limit: limit });
      expect(res.body.id).toMatch(UUID);
    });

    it('creates a custom customer with the webhook limit the operator names', async () => {
      const c = await createCustomer({ name: 'Big Co', plan: 'custom', webhook_limit: 42 });
      expect(c).toMatchObject({ plan: 'custom', webhook_limit: 42 });
    });

    it('refuses a custom customer without a webhook limit with 422', async () => {
      const res = await admin('POST', '/admin/v1/customers', { name: 'Big Co', plan: 'custom' });
      expectError(res, 422, 'validation_failed');
      expect(res.body.error.message).toMatch(/webhook_limit/);
    });

    it('refuses a webhook limit on a non-custom plan that differs from the plan with 422', async () => {
      const res = await admin('POST', '/admin/v1/customers', { name: 'Acme', plan: 'starter', webhook_limit: 5 });
      expectError(res, 422, 'validation_failed');
      expect(res.body.error.message).toMatch(/webhook_limit/);
    });

    it('accepts a webhook limit on a non-custom plan when it equals the plan limit', async () => {
      expect(await createCustomer({ name: 'Acme', plan: 'professional', webhook_limit: 3 })).toMatchObject({ webhook_limit: 3 });
    });

    it.each([
      ['no name', { plan: 'starter' }],
      ['an empty name', { name: '', plan: 'starter' }],
      ['no plan', { name: 'Acme' }],
      ['an unknown plan', { name: 'Acme', plan: 'gold' }],
      ['a negative webhook limit', { name: 'Acme', plan: 'custom', webhook_limit: -1 }],
      ['a fractional webhook limit', { name: 'Acme', plan: 'custom', webhook_limit: 1.5 }],
      ['a webhook limit given as a string', { name: 'Acme', plan: 'custom', webhook_limit: '5' }],
      ['an unknown field', { name: 'Acme', plan: 'starter', planz: 'x' }],
    ])('refuses a customer with %s with 422', async (_what, body) => {
      expectError(await admin('POST', '/admin/v1/customers', body), 422, 'validation_failed');
    });

    it('answers malformed JSON with 400 invalid_json', async () => {
      const res = await request(svc.app, 'POST', '/admin/v1/customers', {
        headers: { authorization: `Bearer ${svc.adminToken}`, 'content-type': 'application/json' },
        payload: '{"name": "Acme", "plan": ',
      });
      expectError(res, 400, 'invalid_json');
    });

    it('answers a body in another content type with 415', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
        const res = await request(svc.app, 'POST', '/admin/v1/customers', {
          headers: { authorization: `Bearer ${svc.adminToken}`, 'content-type': type },
          payload: JSON.stringify({ name: 'Acme', plan: 'starter' }),
        });
        expectError(res, 415, 'unsupported_media_type');
      }
    });

    it('gets a customer by id', async () => {
      const c = await createCustomer({ name: 'Readable', plan: 'business' });
      const res = await admin('GET', `/admin/v1/customers/${c.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(c);
    });

    it('answers an unknown customer with 404 on every customer route', async () => {
      for (const id of [randomUUID(), 'not-a-uuid']) {
        expectError(await admin('GET', `/admin/v1/customers/${id}`), 404, 'not_found');
        expectError(await admin('PATCH', `/admin/v1/customers/${id}`, { name: 'x' }), 404, 'not_found');
        expectError(await admin('POST', `/admin/v1/customers/${id}/domains`, { name: 'mail.example.com' }), 404, 'not_found');
        expectError(await admin('GET', `/admin/v1/customers/${id}/domains`), 404, 'not_found');
        expectError(await admin('POST', `/admin/v1/customers/${id}/api-keys`), 404, 'not_found');
        expectError(await admin('GET', `/admin/v1/customers/${id}/api-keys`), 404, 'not_found');
        expectError(await admin('DELETE', `/admin/v1/customers/${id}/api-keys/${randomUUID()}`), 404, 'not_found');
      }
    });

    it('renames a customer and keeps its plan', async () => {
      const c = await createCustomer({ name: 'Old name', plan: 'professional' });
      const res = await admin('PATCH', `/admin/v1/customers/${c.id}`, { name: 'New name' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: c.id, name: 'New name', plan: 'professional', webhook_limit: 3 });
      expect((await admin('GET', `/admin/v1/customers/${c.id}`)).body).toMatchObject({ name: 'New name' });
    });

    it('updates the webhook limit when the plan changes', async () => {
      const c = await createCustomer({ name: 'Growing', plan: 'starter' });
      const up = await admin('PATCH', `/admin/v1/customers/${c.id}`, { plan: 'business' });
      expect(up.status).toBe(200);
      expect(up.body).toMatchObject({ plan: 'business', webhook_limit: 10 });
      const down = await admin('PATCH', `/admin/v1/customers/${c.id}`, { plan: 'professional' });
      expect(down.body).toMatchObject({ plan: 'professional', webhook_limit: 3 });
      const custom = await admin('PATCH', `/admin/v1/customers/${c.id}`, { plan: 'custom', webhook_limit: 25 });
      expect(custom.body).toMatchObject({ plan: 'custom', webhook_limit: 25 });
      const limitOnly = await admin('PATCH', `/admin/v1/customers/${c.id}`, { webhook_limit: 30 });
      expect(limitOnly.body).toMatchObject({ plan: 'custom', webhook_limit: 30 });
      const back = await admin('PATCH', `/admin/v1/customers/${c.id}`, { plan: 'starter' });
      expect(back.body).toMatchObject({ plan: 'starter', webhook_limit: 1 });
      expect((await admin('GET', `/admin/v1/customers/${c.id}`)).body).toMatchObject({ plan: 'starter', webhook_limit: 1 });
    });

    it('refuses to change the webhook limit of a non-custom plan with 422', async () => {
      const c = await createCustomer({ name: 'Fixed', plan: 'starter' });
      expectError(await admin('PATCH', `/admin/v1/customers/${c.id}`, { webhook_limit: 7 }), 422, 'validation_failed');
      expectError(await admin('PATCH', `/admin/v1/customers/${c.id}`, { plan: 'business', webhook_limit: 7 }), 422, 'validation_failed');
      expect((await admin('GET', `/admin/v1/customers/${c.id}`)).body).toMatchObject({ plan: 'starter', webhook_limit: 1 });
    });

    it.each([
      ['an unknown plan', { plan: 'gold' }],
      ['an empty name', { name: '' }],
      ['an unknown field', { plan_name: 'business' }],
    ])('refuses a customer update with %s with 422', async (_what, body) => {
      const c = await createCustomer({ name: 'Stable', plan: 'starter' });
      expectError(await admin('PATCH', `/admin/v1/customers/${c.id}`, body), 422, 'validation_failed');
    });
  });

  describe('domains', () => {
    it('creates domains with UUID ids and lists them', async () => {
      const c = await createCustomer({ name: 'Sender', plan: 'business' });
      const a = await admin('POST', `/admin/v1/customers/${c.id}/domains`, { name: 'mail.example.com' });
      const b = await admin('POST', `/admin/v1/customers/${c.id}/domains`, { name: 'news.example.org' });
      expect(a.status).toBe(201);
      expect(b.status).toBe(201);
      expect(a.body).toMatchObject({ name: 'mail.example.com' });
      expect(a.body.id).toMatch(UUID);
      expect(b.body.id).toMatch(UUID);
      expect(a.body.id).not.toBe(b.body.id);
      const list = await admin('GET', `/admin/v1/customers/${c.id}/domains`);
      expect(list.status).toBe(200);
      expect(list.body.data.map((d: { id: string; name: string }) => [d.id, d.name]).sort()).toEqual(
        [
          [a.body.id, 'mail.example.com'],
          [b.body.id, 'news.example.org'],
        ].sort(),
      );
    });

    it("lists only the customer's own domains", async () => {
      const c1 = await createCustomer({ name: 'One', plan: 'starter' });
      const c2 = await createCustomer({ name: 'Two', plan: 'starter' });
      await admin('POST', `/admin/v1/customers/${c1.id}/domains`, { name: 'one.example.com' });
      expect((await admin('GET', `/admin/v1/customers/${c2.id}/domains`)).body).toEqual({ data: [] });
    });

    it('refuses a duplicate domain name for the same customer with 409, whatever its case', async () => {
      const c = await createCustomer({ name: 'Dup', plan: 'starter' });
      expect((await admin('POST', `/admin/v1/customers/${c.id}/domains`, { name: 'mail.example.com' })).status).toBe(201);
      expectError(await admin('POST', `/admin/v1/customers/${c.id}/domains`, { name: 'mail.example.com' }), 409, 'conflict');
      expectError(await admin('POST', `/admin/v1/customers/${c.id}/domains`, { name: 'MAIL.Example.com' }), 409, 'conflict');
      expect((await admin('GET', `/admin/v1/customers/${c.id}/domains`)).body.data).toHaveLength(1);
    });

    it('lets two customers have the same domain name', async () => {
      const c1 = await createCustomer({ name: 'One', plan: 'starter' });
      const c2 = await createCustomer({ name: 'Two', plan: 'starter' });
      expect((await admin('POST', `/admin/v1/customers/${c1.id}/domains`, { name: 'shared.example.com' })).status).toBe(201);
      expect((await admin('POST', `/admin/v1/customers/${c2.id}/domains`, { name: 'shared.example.com' })).status).toBe(201);
    });

    it.each([
      ['a name with spaces', { name: 'not a domain' }],
      ['a single label', { name: 'localhost' }],
      ['a leading hyphen', { name: '-bad.example.com' }],
      ['a scheme', { name: 'https://mail.example.com' }],
      ['an empty name', { name: '' }],
      ['a name longer than 253 characters', { name: `${'a'.repeat(60)}.`.repeat(5) + 'com' }],
      ['no name', {}],
      ['a name that is not a string', { name: 42 }],
      ['an unknown field', { name: 'mail.example.com', verified: true }],
    ])('refuses a domain with %s with 422', async (_what, body) => {
      const c = await createCustomer({ name: 'Strict', plan: 'starter' });
      expectError(await admin('POST', `/admin/v1/customers/${c.id}/domains`, body), 422, 'validation_failed');
    });
  });

  describe('API keys', () => {
    it('shows a new mlk_ key once and lists only its prefix', async () => {
      const c = await createCustomer({ name: 'Keyed', plan: 'starter' });
      const created = await admin('POST', `/admin/v1/customers/${c.id}/api-keys`);
      expect(created.status).toBe(201);
      expect(created.body.id).toMatch(UUID);
      expect(created.body.key).toMatch(/^mlk_[A-Za-z0-9_-]{40,}$/);
      expect(created.body.key.startsWith(created.body.prefix)).toBe(true);
      expect(created.body.prefix.length).toBeLessThan(created.body.key.length);

      const list = await admin('GET', `/admin/v1/customers/${c.id}/api-keys`);
      expect(list.status).toBe(200);
      expect(list.body.data).toEqual([{ id: created.body.id, prefix: created.body.prefix, created_at: created.body.created_at, revoked_at: null }]);
      expect(list.text).not.toContain(created.body.key);
    });

    it('gives each key its own value and lets the customer API accept it', async () => {
      const c = await createCustomer({ name: 'Two keys', plan: 'starter' });
      const k1 = (await admin('POST', `/admin/v1/customers/${c.id}/api-keys`)).body;
      const k2 = (await admin('POST', `/admin/v1/customers/${c.id}/api-keys`)).body;
      expect(k1.key).not.toBe(k2.key);
      for (const k of [k1, k2]) expect((await svc.customer(k.key, 'GET', '/api/v1/customer/webhooks')).status).toBe(200);
    });

    it('revokes a key so that it gets 401 at once while other keys keep working', async () => {
      const c = await svc.newCustomer('starter');
      const other = (await admin('POST', `/admin/v1/customers/${c.id}/api-keys`)).body;
      expect((await svc.customer(c.key, 'GET', '/api/v1/customer/webhooks')).status).toBe(200);

      const revoked = await admin('DELETE', `/admin/v1/customers/${c.id}/api-keys/${c.keyId}`);
      expect(revoked.status).toBe(204);
      expect(revoked.text).toBe('');

      expectError(await request(svc.app, 'GET', '/api/v1/customer/webhooks', { headers: { 'x-api-key': c.key } }), 401, 'unauthorized');
      expect((await svc.customer(other.key, 'GET', '/api/v1/customer/webhooks')).status).toBe(200);
      const list = await admin('GET', `/admin/v1/customers/${c.id}/api-keys`);
      const entry = list.body.data.find((k: { id: string }) => k.id === c.keyId);
      expect(entry.revoked_at).toEqual(expect.any(String));
    });

    it('answers revoking an already revoked key with 204 and keeps it revoked', async () => {
      const c = await svc.newCustomer('starter');
      expect((await admin('DELETE', `/admin/v1/customers/${c.id}/api-keys/${c.keyId}`)).status).toBe(204);
      expect((await admin('DELETE', `/admin/v1/customers/${c.id}/api-keys/${c.keyId}`)).status).toBe(204);
      expect((await svc.customer(c.key, 'GET', '/api/v1/customer/webhooks')).status).toBe(401);
    });

    it("answers revoking an unknown key, or another customer's key, with 404", async () => {
      const c1 = await svc.newCustomer('starter');
      const c2 = await svc.newCustomer('starter');
      expectError(await admin('DELETE', `/admin/v1/customers/${c1.id}/api-keys/${randomUUID()}`), 404, 'not_found');
      expectError(await admin('DELETE', `/admin/v1/customers/${c1.id}/api-keys/not-a-uuid`), 404, 'not_found');
      expectError(await admin('DELETE', `/admin/v1/customers/${c1.id}/api-keys/${c2.keyId}`), 404, 'not_found');
      expect((await svc.customer(c2.key, 'GET', '/api/v1/customer/webhooks')).status).toBe(200);
    });
  });

  describe('authentication', () => {
    const routes: [string, string, unknown?][] = [
      ['POST', '/admin/v1/customers', { name: 'Acme', plan: 'starter' }],
      ['GET', `/admin/v1/customers/${randomUUID()}`],
      ['PATCH', `/admin/v1/customers/${randomUUID()}`, { name: 'x' }],
      ['POST', `/admin/v1/customers/${randomUUID()}/domains`, { name: 'mail.example.com' }],
      ['GET', `/admin/v1/customers/${randomUUID()}/domains`],
      ['POST', `/admin/v1/customers/${randomUUID()}/api-keys`],
      ['GET', `/admin/v1/customers/${randomUUID()}/api-keys`],
      ['DELETE', `/admin/v1/customers/${randomUUID()}/api-keys/${randomUUID()}`],
    ];

    it.each(routes)('answers %s %s without a token with 401 JSON', async (method, url, payload) => {
      expectError(await request(svc.app, method as 'GET', url, { payload }), 401, 'unauthorized');
    });

    it.each(routes)('answers %s %s with a wrong token with 401 JSON', async (method, url, payload) => {
      expectError(await request(svc.app, method as 'GET', url, { headers: { authorization: 'Bearer not-the-admin-token' }, payload }), 401, 'unauthorized');
    });

    it('refuses the admin token in another scheme or without one', async () => {
      for (const authorization of [`Basic ${svc.adminToken}`, svc.adminToken, 'Bearer', 'Bearer ', `Bearer ${svc.adminToken}x`]) {
        expectError(await request(svc.app, 'GET', `/admin/v1/customers/${randomUUID()}`, { headers: { authorization } }), 401, 'unauthorized');
      }
    });

    it('refuses a customer API key used as the admin bearer', async () => {
      const c = await svc.newCustomer('starter');
      expectError(await request(svc.app, 'GET', `/admin/v1/customers/${c.id}`, { headers: { authorization: `Bearer ${c.key}` } }), 401, 'unauthorized');
      expectError(await request(svc.app, 'GET', `/admin/v1/customers/${c.id}`, { headers: { 'x-api-key': c.key } }), 401, 'unauthorized');
    });

    it('refuses the ingest token on the admin API and the admin token on the customer API', async () => {
      expectError(await request(svc.app, 'GET', `/admin/v1/customers/${randomUUID()}`, { headers: { authorization: `Bearer ${svc.ingestToken}` } }), 401, 'unauthorized');
      expectError(await request(svc.app, 'GET', '/api/v1/customer/webhooks', { headers: { 'x-api-key': svc.adminToken } }), 401, 'unauthorized');
    });

    it('creates nothing when the token is wrong', async () => {
      const c = await createCustomer({ name: 'Guarded', plan: 'starter' });
      await request(svc.app, 'POST', `/admin/v1/customers/${c.id}/domains`, { headers: { authorization: 'Bearer wrong' }, payload: { name: 'sneaky.example.com' } });
      await request(svc.app, 'PATCH', `/admin/v1/customers/${c.id}`, { headers: { authorization: 'Bearer wrong' }, payload: { plan: 'business' } });
      expect((await admin('GET', `/admin/v1/customers/${c.id}/domains`)).body).toEqual({ data: [] });
      expect((await admin('GET', `/admin/v1/customers/${c.id}`)).body).toMatchObject({ plan: 'starter', webhook_limit: 1 });
    });
  });
});
