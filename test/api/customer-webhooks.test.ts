import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, request, type Res } from '../helpers/http.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';

const BASE = '/api/v1/customer/webhooks';
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;

/**
 * The product document's three create examples, byte for byte as its curl commands send
 * them; only the placeholder domain UUIDs are swapped for domains the operator created.
 */
const CURL_CUSTOMER_LEVEL = `{ "url": "https://your-app.com/webhooks/mailerlogic", "events": ["email.delivered", "email.opened", "email.clicked", "email.bounced", "email.complained"], "name": "Production Webhook", "domain_ids": null, "is_active": true }`;
const CURL_DOMAIN_GROUP = `{ "url": "https://marketing.example.com/webhook", "events": ["email.opened", "email.clicked"], "name": "Marketing Domains Group", "domain_ids": [ "550e8400-e29b-41d4-a716-446655440001", "550e8400-e29b-41d4-a716-446655440002", "550e8400-e29b-41d4-a716-446655440003" ], "is_active": true }`;
const CURL_SINGLE_DOMAIN = `{ "url": "https://support.example.com/webhook", "events": ["email.delivered", "email.bounced"], "name": "Support Domain Only", "domain_ids": ["550e8400-e29b-41d4-a716-446655440000"], "is_active": true }`;

type Customer = { id: string; key: string; keyId: string; domains: string[] };

/** Calls the customer API as one customer, keeping headers and raw text for the error contract. */
const as =
  (svc: () => TestService, c: { key: string }) =>
  (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<Res> =>
    request(svc().app, method, url, { headers: { 'x-api-key': c.key, ...headers }, payload });

const hook = (over: Record<string, unknown> = {}) => ({ url: 'https://hooks.example.com/in', events: ['email.delivered'], ...over });

describe.each(STORES)('customer webhook API (%s)', (kind) => {
  let svc: TestService;
  const get = () => svc;
  const created = async (c: Customer, body: unknown) => {
    const res = await as(get, c)('POST', BASE, body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };

  beforeAll(async () => {
    svc = await startTestService(kind);
  });
  afterAll(async () => svc?.close());

  describe("the product document's examples", () => {
    let c: Customer;
    const withDomains = (body: string, ids: string[]) =>
      ['550e8400-e29b-41d4-a716-446655440001', '550e8400-e29b-41d4-a716-446655440002', '550e8400-e29b-41d4-a716-446655440003', '550e8400-e29b-41d4-a716-446655440000'].reduce(
        (text, placeholder, i) => text.replace(placeholder, ids[i]),
        body,
      );
    const post = (body: string) => as(get, c)('POST', BASE, body, { 'content-type': 'application/json' });

    beforeAll(async () => {
      c = await svc.newCustomer('professional', ['marketing.example.com', 'campaigns.example.com', 'newsletters.example.com', 'support.example.com']);
    });

    it('creates the customer-level webhook of the first curl example', async () => {
      const res = await post(CURL_CUSTOMER_LEVEL);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        url: 'https://your-app.com/webhooks/mailerlogic',
        events: ['email.delivered', 'email.opened', 'email.clicked', 'email.bounced', 'email.complained'],
        name: 'Production Webhook',
        domain_ids: null,
        scope: 'customer',
        is_active: true,
        disabled_reason: null,
      });
      expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.body.secret).toMatch(SECRET);
      expect(Buffer.from(res.body.secret.slice(6), 'base64')).toHaveLength(32);
      expect(new Date(res.body.created_at).toISOString()).toBe(res.body.created_at);
      expect(res.body.updated_at).toBe(res.body.created_at);
    });

    it('creates the domain group webhook of the second curl example', async () => {
      const res = await post(withDomains(CURL_DOMAIN_GROUP, c.domains));
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        url: 'https://marketing.example.com/webhook',
        events: ['email.opened', 'email.clicked'],
        name: 'Marketing Domains Group',
        domain_ids: c.domains.slice(0, 3),
        scope: 'domain_group',
        is_active: true,
      });
      expect(res.body.secret).toMatch(SECRET);
    });

    it('creates the single domain webhook of the third curl example', async () => {
      const res = await post(withDomains(CURL_SINGLE_DOMAIN, ['', '', '', c.domains[3]]));
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        url: 'https://support.example.com/webhook',
        events: ['email.delivered', 'email.bounced'],
        name: 'Support Domain Only',
        domain_ids: [c.domains[3]],
        scope: 'domain',
        is_active: true,
      });
      expect(res.body.secret).toMatch(SECRET);
    });

    it('gives every webhook its own secret and lists all three without any secret', async () => {
      const res = await as(get, c)('GET', BASE);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ limit: 3, count: 3 });
      expect(Object.keys(res.body).sort()).toEqual(['count', 'data', 'limit']);
      expect(res.body.data.map((w: { scope: string }) => w.scope).sort()).toEqual(['customer', 'domain', 'domain_group']);
      expect(res.text).not.toMatch(/secret|whsec_/);
      for (const w of res.body.data) {
        expect(Object.keys(w)).toEqual(expect.arrayContaining(['id', 'url', 'name', 'events', 'domain_ids', 'scope', 'is_active', 'created_at', 'updated_at']));
      }
    });

    it('creates the shorter examples of the document, which leave out name and is_active', async () => {
      const d = await svc.newCustomer('business', ['a.example.com', 'b.example.com', 'c.example.com', 'd.example.com']);
      const a = await created(d, { url: 'https://api.example.com/webhook', events: ['email.delivered', 'email.bounced'], domain_ids: null });
      expect(a).toMatchObject({ scope: 'customer', name: null, is_active: true, domain_ids: null });
      const b = await created(d, { url: 'https://marketing.example.com/webhook', events: ['email.opened', 'email.clicked'], domain_ids: d.domains.slice(0, 3) });
      expect(b).toMatchObject({ scope: 'domain_group', domain_ids: d.domains.slice(0, 3) });
      const s = await created(d, { url: 'https://support.example.com/webhook', events: ['email.delivered'], domain_ids: [d.domains[3]] });
      expect(s).toMatchObject({ scope: 'domain', domain_ids: [d.domains[3]] });
      const e = await created(d, { url: 'https://api.example.com/all', events: ['email.sent'], domain_ids: [] });
      expect(e).toMatchObject({ scope: 'customer', domain_ids: null });
      const none = await created(d, { url: 'https://api.example.com/none', events: ['email.failed'] });
      expect(none).toMatchObject({ scope: 'customer', domain_ids: null });
    });

    it('accepts each of the eight event types', async () => {
      const d = await svc.newCustomer('starter');
      const all = ['email.sent', 'email.delivered', 'email.opened', 'email.clicked', 'email.bounced', 'email.complained', 'email.unsubscribed', 'email.failed'];
      expect((await created(d, hook({ events: all }))).events).toEqual(all);
    });
  });

  describe('reading', () => {
    it('gets one webhook as the list shows it, without its secret', async () => {
      const c = await svc.newCustomer('professional', ['one.example.com']);
      const w = await created(c, hook({ name: 'Reader', domain_ids: c.domains }));
      const one = await as(get, c)('GET', `${BASE}/${w.id}`);
      expect(one.status).toBe(200);
      const { secret, ...rest } = w;
      expect(one.body).toEqual(rest);
      expect(one.text).not.toContain(secret);
      expect(one.body).not.toHaveProperty('secret');
      expect((await as(get, c)('GET', BASE)).body.data).toEqual([one.body]);
    });

    it('lists an empty account as no data with its plan limit', async () => {
      const c = await svc.newCustomer('business');
      expect((await as(get, c)('GET', BASE)).body).toEqual({ data: [], limit: 10, count: 0 });
    });

    it('answers a missing or malformed webhook id with 404', async () => {
      const c = await svc.newCustomer('starter');
      for (const id of [randomUUID(), 'nope', '1']) expectError(await as(get, c)('GET', `${BASE}/${id}`), 404, 'not_found');
    });
  });

  describe('updating', () => {
    let c: Customer;
    beforeAll(async () => {
      c = await svc.newCustomer('custom', ['a.example.com', 'b.example.com', 'c.example.com'], 100);
    });
    const put = (id: string, body: unknown) => as(get, c)('PUT', `${BASE}/${id}`, body);

    it('changes scope through every domain_ids form of the document and keeps the other fields', async () => {
      const w = await created(c, hook({ name: 'Scoped', events: ['email.opened', 'email.clicked'], domain_ids: [c.domains[0]] }));
      const kept = { url: w.url, name: 'Scoped', events: ['email.opened', 'email.clicked'], is_active: true, created_at: w.created_at };
      const steps: [unknown, string, string[] | null][] = [
        [null, 'customer', null],
        [[c.domains[1]], 'domain', [c.domains[1]]],
        [[], 'customer', null],
        [c.domains, 'domain_group', c.domains],
        [[c.domains[2]], 'domain', [c.domains[2]]],
        [[c.domains[0], c.domains[1]], 'domain_group', [c.domains[0], c.domains[1]]],
      ];
      for (const [domain_ids, scope, expected] of steps) {
        const res = await put(w.id, { domain_ids });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body).toMatchObject({ ...kept, scope, domain_ids: expected });
        expect(res.body).not.toHaveProperty('secret');
        expect((await as(get, c)('GET', `${BASE}/${w.id}`)).body).toEqual(res.body);
      }
    });

    it('replaces only the fields given', async () => {
      const w = await created(c, hook({ name: 'Before', events: ['email.sent'], domain_ids: [c.domains[0]] }));
      const url = await put(w.id, { url: 'https://new.example.com/hook?x=1' });
      expect(url.body).toMatchObject({ url: 'https://new.example.com/hook?x=1', name: 'Before', events: ['email.sent'], domain_ids: [c.domains[0]], scope: 'domain', is_active: true });
      const events = await put(w.id, { events: ['email.bounced', 'email.failed'] });
      expect(events.body).toMatchObject({ url: 'https://new.example.com/hook?x=1', name: 'Before', events: ['email.bounced', 'email.failed'], domain_ids: [c.domains[0]] });
      const name = await put(w.id, { name: 'After' });
      expect(name.body).toMatchObject({ name: 'After', events: ['email.bounced', 'email.failed'], domain_ids: [c.domains[0]] });
      const noName = await put(w.id, { name: null });
      expect(noName.body).toMatchObject({ name: null, url: 'https://new.example.com/hook?x=1' });
      const nothing = await put(w.id, {});
      expect(nothing.status).toBe(200);
      expect(nothing.body).toMatchObject({ name: null, url: 'https://new.example.com/hook?x=1', events: ['email.bounced', 'email.failed'], domain_ids: [c.domains[0]] });
      expect(new Date(nothing.body.updated_at).getTime()).toBeGreaterThanOrEqual(new Date(w.updated_at).getTime());
      expect(nothing.body.created_at).toBe(w.created_at);
    });

    it('switches a webhook off and on again with is_active', async () => {
      const w = await created(c, hook());
      const off = await put(w.id, { is_active: false });
      expect(off.status).toBe(200);
      expect(off.body).toMatchObject({ is_active: false, url: w.url, events: w.events });
      expect((await as(get, c)('GET', `${BASE}/${w.id}`)).body.is_active).toBe(false);
      const on = await put(w.id, { is_active: true });
      expect(on.body).toMatchObject({ is_active: true, disabled_reason: null });
      expect((await as(get, c)('GET', `${BASE}/${w.id}`)).body.is_active).toBe(true);
    });

    it('creates a webhook switched off when is_active is false', async () => {
      expect(await created(c, hook({ is_active: false }))).toMatchObject({ is_active: false });
    });

    it('folds duplicate events and duplicate domain ids on update', async () => {
      const w = await created(c, hook());
      const res = await put(w.id, { events: ['email.opened', 'email.opened', 'email.clicked'], domain_ids: [c.domains[1], c.domains[1]] });
      expect(res.body).toMatchObject({ events: ['email.opened', 'email.clicked'], domain_ids: [c.domains[1]], scope: 'domain' });
    });

    it('answers an update of a missing webhook with 404', async () => {
      expectError(await put(randomUUID(), { name: 'x' }), 404, 'not_found');
    });
  });

  describe('deleting and regenerating', () => {
    it('deletes a webhook with 204, then answers 404 for it and frees its place', async () => {
      const c = await svc.newCustomer('starter');
      const w = await created(c, hook());
      const del = await as(get, c)('DELETE', `${BASE}/${w.id}`);
      expect(del.status).toBe(204);
      expect(del.text).toBe('');
      expectError(await as(get, c)('GET', `${BASE}/${w.id}`), 404, 'not_found');
      expectError(await as(get, c)('DELETE', `${BASE}/${w.id}`), 404, 'not_found');
      expectError(await as(get, c)('PUT', `${BASE}/${w.id}`, { name: 'x' }), 404, 'not_found');
      expectError(await as(get, c)('POST', `${BASE}/${w.id}/regenerate-secret`), 404, 'not_found');
      expect((await as(get, c)('GET', BASE)).body).toEqual({ data: [], limit: 1, count: 0 });
      await created(c, hook());
    });

    it('regenerates a new, different secret and shows it only in that answer', async () => {
      const c = await svc.newCustomer('starter');
      const w = await created(c, hook());
      const res = await as(get, c)('POST', `${BASE}/${w.id}/regenerate-secret`);
      expect(res.status).toBe(200);
      expect(res.body.secret).toMatch(SECRET);
      expect(res.body.secret).not.toBe(w.secret);
      expect(res.body).toMatchObject({ id: w.id, url: w.url, events: w.events, scope: w.scope, is_active: true });
      const again = await as(get, c)('POST', `${BASE}/${w.id}/regenerate-secret`);
      expect(again.body.secret).not.toBe(res.body.secret);
      const one = await as(get, c)('GET', `${BASE}/${w.id}`);
      expect(one.text).not.toMatch(/secret|whsec_/);
    });
  });

  describe('plan limits', () => {
    it('refuses one webhook more than the plan allows with 403 webhook_limit_reached', async () => {
      const c = await svc.newCustomer('starter');
      await created(c, hook());
      const res = await as(get, c)('POST', BASE, hook({ url: 'https://hooks.example.com/second' }));
      expectError(res, 403, 'webhook_limit_reached');
      expect(res.body.error).toMatchObject({ code: 'webhook_limit_reached', limit: 1, plan: 'starter' });
      expect((await as(get, c)('GET', BASE)).body).toMatchObject({ limit: 1, count: 1 });
    });

    it.each([
      ['professional', 3],
      ['business', 10],
    ])('lets a %s customer create exactly %i webhooks', async (plan, limit) => {
      const c = await svc.newCustomer(plan);
      for (let i = 0; i < limit; i++) await created(c, hook({ url: `https://hooks.example.com/${i}` }));
      const res = await as(get, c)('POST', BASE, hook());
      expectError(res, 403, 'webhook_limit_reached');
      expect(res.body.error).toMatchObject({ limit, plan });
    });

    it('holds a custom customer to its own limit, zero included', async () => {
      const two = await svc.newCustomer('custom', [], 2);
      await created(two, hook());
      await created(two, hook());
      expect((await as(get, two)('POST', BASE, hook())).body.error).toMatchObject({ code: 'webhook_limit_reached', limit: 2, plan: 'custom' });
      const zero = await svc.newCustomer('custom', [], 0);
      expect((await as(get, zero)('POST', BASE, hook())).body.error).toMatchObject({ code: 'webhook_limit_reached', limit: 0, plan: 'custom' });
    });

    it('counts inactive webhooks toward the limit', async () => {
      const c = await svc.newCustomer('starter');
      const w = await created(c, hook({ is_active: false }));
      expectError(await as(get, c)('POST', BASE, hook()), 403, 'webhook_limit_reached');
      await as(get, c)('PUT', `${BASE}/${w.id}`, { is_active: true });
      await as(get, c)('PUT', `${BASE}/${w.id}`, { is_active: false });
      expectError(await as(get, c)('POST', BASE, hook()), 403, 'webhook_limit_reached');
      expect((await as(get, c)('GET', BASE)).body).toMatchObject({ limit: 1, count: 1 });
    });

    it('lifts the limit at once when the operator moves the customer to a bigger plan', async () => {
      const c = await svc.newCustomer('starter');
      await created(c, hook());
      expectError(await as(get, c)('POST', BASE, hook()), 403, 'webhook_limit_reached');
      expect((await svc.admin('PATCH', `/admin/v1/customers/${c.id}`, { plan: 'professional' })).body).toMatchObject({ webhook_limit: 3 });
      await created(c, hook());
      await created(c, hook());
      expect((await as(get, c)('GET', BASE)).body).toMatchObject({ limit: 3, count: 3 });
      expect((await as(get, c)('POST', BASE, hook())).body.error).toMatchObject({ code: 'webhook_limit_reached', limit: 3, plan: 'professional' });
    });

    it('keeps existing webhooks when the plan shrinks below their number, and refuses new ones', async () => {
      const c = await svc.newCustomer('professional');
      const w1 = await created(c, hook());
      await created(c, hook());
      await svc.admin('PATCH', `/admin/v1/customers/${c.id}`, { plan: 'starter' });
      expect((await as(get, c)('GET', BASE)).body).toMatchObject({ limit: 1, count: 2 });
      expect((await as(get, c)('PUT', `${BASE}/${w1.id}`, { name: 'still editable' })).status).toBe(200);
      expect((await as(get, c)('POST', BASE, hook())).body.error).toMatchObject({ code: 'webhook_limit_reached', limit: 1, plan: 'starter' });
    });
  });

  describe("another customer's webhooks and domains", () => {
    let owner: Customer;
    let intruder: Customer;
    let w: any;
    beforeAll(async () => {
      owner = await svc.newCustomer('professional', ['owner.example.com']);
      intruder = await svc.newCustomer('professional', ['intruder.example.com']);
      w = await created(owner, hook({ name: 'Private', domain_ids: owner.domains }));
    });

    it.each([
      ['GET', ''],
      ['PUT', ''],
      ['DELETE', ''],
      ['POST', '/regenerate-secret'],
      ['POST', '/test'],
      ['GET', '/deliveries'],
    ] as const)("answers %s …/{id}%s of another customer's webhook with 404, like a missing one", async (method, suffix) => {
      const res = await as(get, intruder)(method, `${BASE}/${w.id}${suffix}`, method === 'PUT' ? { name: 'hijacked', url: 'https://evil.example.com/' } : undefined);
      expectError(res, 404, 'not_found');
      const missing = await as(get, intruder)(method, `${BASE}/${randomUUID()}${suffix}`, method === 'PUT' ? { name: 'x' } : undefined);
      expect(missing.body.error.message).toBe(res.body.error.message);
    });

    it("leaves the owner's webhook untouched and out of the other's list", async () => {
      const one = await as(get, owner)('GET', `${BASE}/${w.id}`);
      expect(one.status).toBe(200);
      const { secret: _secret, ...rest } = w;
      expect(one.body).toEqual(rest);
      expect((await as(get, intruder)('GET', BASE)).body).toMatchObject({ data: [], count: 0 });
    });

    it("refuses another customer's domain id with 422 naming it", async () => {
      const res = await as(get, intruder)('POST', BASE, hook({ domain_ids: owner.domains }));
      expectError(res, 422, 'validation_failed');
      expect(res.body.error.message).toContain(owner.domains[0]);
      const mine = await created(intruder, hook({ domain_ids: intruder.domains }));
      const upd = await as(get, intruder)('PUT', `${BASE}/${mine.id}`, { domain_ids: [intruder.domains[0], owner.domains[0]] });
      expectError(upd, 422, 'validation_failed');
      expect(upd.body.error.message).toContain(owner.domains[0]);
      expect((await as(get, intruder)('GET', `${BASE}/${mine.id}`)).body.domain_ids).toEqual(intruder.domains);
    });
  });

  describe('bad input', () => {
    let c: Customer;
    beforeAll(async () => {
      c = await svc.newCustomer('custom', ['valid.example.com'], 1000);
    });
    const post = (body: unknown, headers?: Record<string, string>) => as(get, c)('POST', BASE, body, headers);

    it.each([
      ['a missing url', { events: ['email.delivered'] }, /url/],
      ['a null url', { url: null, events: ['email.delivered'] }, /url/],
      ['an empty url', { url: '', events: ['email.delivered'] }, /url/],
      ['a relative url', { url: '/webhook', events: ['email.delivered'] }, /url/],
      ['an ftp url', { url: 'ftp://files.example.com/hook', events: ['email.delivered'] }, /url/],
      ['a url with credentials', { url: 'https://user:pass@hooks.example.com/', events: ['email.delivered'] }, /credentials/],
      ['a url with a user only', { url: 'https://user@hooks.example.com/', events: ['email.delivered'] }, /credentials/],
      ['a url of 2,049 characters', { url: `https://hooks.example.com/${'a'.repeat(2049 - 26)}`, events: ['email.delivered'] }, /2,?048/],
      ['missing events', { url: 'https://hooks.example.com/' }, /events/],
      ['empty events', { url: 'https://hooks.example.com/', events: [] }, /events/],
      ['an unknown event type', { url: 'https://hooks.example.com/', events: ['email.delivered', 'email.exploded'] }, /events/],
      ['the test pseudo-event', { url: 'https://hooks.example.com/', events: ['test'] }, /events/],
      ['events given as a string', { url: 'https://hooks.example.com/', events: 'email.delivered' }, /events/],
      ['a name of 256 characters', hook({ name: 'n'.repeat(256) }), /name/],
      ['a name that is a number', hook({ name: 7 }), /name/],
      ['a malformed domain id', hook({ domain_ids: ['not-a-uuid'] }), /not-a-uuid/],
      ['domain_ids given as a string', hook({ domain_ids: '550e8400-e29b-41d4-a716-446655440000' }), /domain_ids/],
      ['"event" instead of "events"', { url: 'https://hooks.example.com/', event: ['email.delivered'] }, /event/],
      ['an unknown extra field', hook({ secret: 'whsec_mine' }), /secret/],
      ['is_active: "yes"', hook({ is_active: 'yes' }), /is_active/],
      ['is_active: 1', hook({ is_active: 1 }), /is_active/],
      ['a JSON array body', [hook()], /body/],
      ['a JSON string body', 'plain', /body/],
    ])('refuses a webhook with %s with 422', async (_what, body, mentions) => {
      const res = await post(typeof body === 'string' ? JSON.stringify(body) : body, { 'content-type': 'application/json' });
      expectError(res, 422, 'validation_failed');
      expect(res.body.error.message).toMatch(mentions);
      expect((await as(get, c)('GET', BASE)).body.count).toBe(0);
    });

    it('refuses an unknown domain id with 422 naming it', async () => {
      const unknown = randomUUID();
      const res = await post(hook({ domain_ids: [c.domains[0], unknown] }));
      expectError(res, 422, 'validation_failed');
      expect(res.body.error.message).toContain(unknown);
      expect(res.body.error.message).not.toContain(c.domains[0]);
    });

    it('accepts a url of exactly 2,048 characters and a name of exactly 255', async () => {
      const url = `https://hooks.example.com/${'a'.repeat(2048 - 26)}`;
      expect(url).toHaveLength(2048);
      const w = await created(c, hook({ url, name: 'n'.repeat(255) }));
      expect(w.url).toBe(url);
      expect(w.name).toHaveLength(255);
      expect((await as(get, c)('DELETE', `${BASE}/${w.id}`)).status).toBe(204);
    });

    it('folds duplicate events, keeping their first order', async () => {
      const w = await created(c, hook({ events: ['email.opened', 'email.clicked', 'email.opened', 'email.clicked'] }));
      expect(w.events).toEqual(['email.opened', 'email.clicked']);
      expect((await as(get, c)('DELETE', `${BASE}/${w.id}`)).status).toBe(204);
    });

    it('refuses the same bad fields on update with 422 and changes nothing', async () => {
      const w = await created(c, hook({ name: 'Untouched' }));
      const bad: unknown[] = [
        { url: 'ftp://files.example.com/' },
        { url: 'https://a:b@hooks.example.com/' },
        { url: `https://hooks.example.com/${'a'.repeat(2049 - 26)}` },
        { url: null },
        { events: [] },
        { events: ['email.nope'] },
        { events: null },
        { name: 'x'.repeat(256) },
        { domain_ids: [randomUUID()] },
        { domain_ids: ['nope'] },
        { is_active: 'yes' },
        { is_active: null },
        { event: ['email.delivered'] },
        { id: randomUUID() },
      ];
      for (const body of bad) {
        const res = await as(get, c)('PUT', `${BASE}/${w.id}`, body);
        expect(res.status, JSON.stringify(body)).toBe(422);
        expectError(res, 422, 'validation_failed');
      }
      const { secret: _s, ...rest } = w;
      expect((await as(get, c)('GET', `${BASE}/${w.id}`)).body).toEqual(rest);
      expect((await as(get, c)('DELETE', `${BASE}/${w.id}`)).status).toBe(204);
    });

    it('answers malformed JSON with 400 invalid_json', async () => {
      for (const text of ['{"url": "https://hooks.example.com/", "events": [', '{url: 1}', "{'url': 'x'}"]) {
        expectError(await post(text, { 'content-type': 'application/json' }), 400, 'invalid_json');
      }
      const w = await created(c, hook());
      expectError(await as(get, c)('PUT', `${BASE}/${w.id}`, '{"name": ', { 'content-type': 'application/json' }), 400, 'invalid_json');
      expect((await as(get, c)('DELETE', `${BASE}/${w.id}`)).status).toBe(204);
    });

    it('answers an empty JSON body with a JSON error, not a crash', async () => {
      const res = await post('', { 'content-type': 'application/json' });
      expect([400, 422]).toContain(res.status);
      expectError(res, res.status, res.status === 400 ? res.body.error.code : 'validation_failed');
    });

    it('answers another content type with 415', async () => {
      const json = JSON.stringify(hook());
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        expectError(await post(json, { 'content-type': type }), 415, 'unsupported_media_type');
      }
      const w = await created(c, hook());
      expectError(await as(get, c)('PUT', `${BASE}/${w.id}`, '{"name":"x"}', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
      expect((await as(get, c)('DELETE', `${BASE}/${w.id}`)).status).toBe(204);
    });

    it('accepts application/json with a charset', async () => {
      const w = await created(c, hook());
      const res = await as(get, c)('PUT', `${BASE}/${w.id}`, JSON.stringify({ name: 'charset' }), { 'content-type': 'application/json; charset=utf-8' });
      expect(res.status).toBe(200);
      expect(res.body.name).toBe('charset');
      expect((await as(get, c)('DELETE', `${BASE}/${w.id}`)).status).toBe(204);
    });
  });

  describe('authentication', () => {
    const routes = (id: string): [string, string, unknown?][] => [
      ['GET', BASE],
      ['POST', BASE, hook()],
      ['GET', `${BASE}/${id}`],
      ['PUT', `${BASE}/${id}`, { name: 'x' }],
      ['DELETE', `${BASE}/${id}`],
      ['POST', `${BASE}/${id}/regenerate-secret`],
      ['POST', `${BASE}/${id}/test`],
      ['GET', `${BASE}/${id}/deliveries`],
      ['POST', `${BASE}/${id}/deliveries/${randomUUID()}/retry`],
    ];

    it('answers every route without an X-API-Key with 401 JSON', async () => {
      for (const [method, url, payload] of routes(randomUUID())) {
        expectError(await request(svc.app, method as 'GET', url, { payload }), 401, 'unauthorized');
      }
    });

    it('answers every route with an unknown or empty X-API-Key with 401 JSON', async () => {
      for (const key of ['mlk_not-a-real-key', 'x', 'mlk_' + 'a'.repeat(300)]) {
        for (const [method, url, payload] of routes(randomUUID())) {
          expectError(await request(svc.app, method as 'GET', url, { headers: { 'x-api-key': key }, payload }), 401, 'unauthorized');
        }
      }
      expectError(await request(svc.app, 'GET', BASE, { headers: { 'x-api-key': '' } }), 401, 'unauthorized');
    });

    it('answers a revoked X-API-Key with 401 on every route, at once', async () => {
      const c = await svc.newCustomer('starter');
      const w = await created(c, hook());
      expect((await svc.admin('DELETE', `/admin/v1/customers/${c.id}/api-keys/${c.keyId}`)).status).toBe(204);
      for (const [method, url, payload] of routes(w.id)) {
        expectError(await as(get, c)(method as 'GET', url, payload), 401, 'unauthorized');
      }
      const fresh = (await svc.admin('POST', `/admin/v1/customers/${c.id}/api-keys`)).body;
      const { secret: _s, ...rest } = w;
      expect((await as(get, fresh)('GET', `${BASE}/${w.id}`)).body).toEqual(rest);
    });

    it('refuses the API key sent as a bearer token', async () => {
      const c = await svc.newCustomer('starter');
      expectError(await request(svc.app, 'GET', BASE, { headers: { authorization: `Bearer ${c.key}` } }), 401, 'unauthorized');
    });
  });

  describe('unknown routes', () => {
    it.each([
      ['GET', '/api/v1/customer/nope'],
      ['GET', '/api/v2/customer/webhooks'],
      ['POST', '/'],
      ['GET', `${BASE}/${randomUUID()}/secret`],
      ['PATCH', `${BASE}/${randomUUID()}`],
    ])('answers %s %s with a 404 JSON error', async (method, url) => {
      const c = await svc.newCustomer('starter');
      expectError(await request(svc.app, method as 'GET', url, { headers: { 'x-api-key': c.key } }), 404, 'not_found');
    });
  });
});

describe.each(STORES)('customer webhook API with private networks refused (%s)', (kind) => {
  let svc: TestService;
  let c: Customer;
  beforeAll(async () => {
    svc = await startTestService(kind, { env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' } });
    c = await svc.newCustomer('custom', [], 1000);
  });
  afterAll(async () => svc?.close());
  const call = (method: 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => as(() => svc, c)(method, url, body);

  it.each([
    ['an http:// url', 'http://hooks.example.com/webhook', /https/],
    ['IPv4 loopback', 'https://127.0.0.1/', /non-public/],
    ['IPv4 loopback with a port', 'https://127.0.0.1:8443/hook', /non-public/],
    ['IPv6 loopback', 'https://[::1]/', /non-public/],
    ['the cloud metadata address', 'https://169.254.169.254/latest/meta-data', /non-public/],
    ['a 10/8 private address', 'https://10.0.0.1/', /non-public/],
    ['a 172.16/12 private address', 'https://172.16.5.4/', /non-public/],
    ['a 192.168/16 private address', 'https://192.168.1.1/', /non-public/],
    ['a CGNAT address', 'https://100.64.0.1/', /non-public/],
    ['the unspecified address', 'https://0.0.0.0/', /non-public/],
    ['a documentation address', 'https://192.0.2.10/', /non-public/],
    ['a benchmarking address', 'https://198.18.0.1/', /non-public/],
    ['a reserved address', 'https://240.0.0.1/', /non-public/],
    ['a broadcast address', 'https://255.255.255.255/', /non-public/],
    ['a decimal spelling of loopback', 'https://2130706433/', /non-public/],
    ['a hex spelling of loopback', 'https://0x7f.0.0.1/', /non-public/],
    ['a short spelling of loopback', 'https://127.1/', /non-public/],
    ['an IPv4-mapped IPv6 loopback', 'https://[::ffff:127.0.0.1]/', /non-public/],
    ['an IPv4-mapped IPv6 private address', 'https://[::ffff:10.0.0.1]/', /non-public/],
    ['a NAT64 form of loopback', 'https://[64:ff9b::7f00:1]/', /non-public/],
    ['a 6to4 form of a private address', 'https://[2002:0a00:0001::1]/', /non-public/],
    ['an IPv6 unique local address', 'https://[fd00::1]/', /non-public/],
    ['an IPv6 link-local address', 'https://[fe80::1]/', /non-public/],
    ['the IPv6 unspecified address', 'https://[::]/', /non-public/],
    ['an IPv6 documentation address', 'https://[2001:db8::1]/', /non-public/],
    ['localhost', 'https://localhost/', /localhost/],
    ['localhost with a trailing dot', 'https://localhost./', /localhost/],
    ['upper-case localhost', 'https://LOCALHOST/', /localhost/],
    ['a *.localhost name', 'https://api.localhost/webhook', /localhost/],
    ['a *.localhost name with a trailing dot', 'https://api.localhost./webhook', /localhost/],
  ])('refuses %s at create and at update with 422', async (_what, url, mentions) => {
    const res = await call('POST', BASE, hook({ url }));
    expectError(res, 422, 'validation_failed');
    expect(res.body.error.message).toMatch(mentions);

    const w = (await call('POST', BASE, hook())).body;
    const upd = await call('PUT', `${BASE}/${w.id}`, { url });
    expectError(upd, 422, 'validation_failed');
    expect((await svc.customer(c.key, 'GET', `${BASE}/${w.id}`)).body.url).toBe('https://hooks.example.com/in');
    expect((await call('DELETE', `${BASE}/${w.id}`)).status).toBe(204);
  });

  it.each([
    ['a public name', 'https://hooks.example.com/in'],
    ['a public IPv4 address', 'https://8.8.8.8/hook'],
    ['a public IPv6 address', 'https://[2606:4700:4700::1111]/hook'],
    ['a name that merely contains localhost', 'https://localhost.example.com/hook'],
    ['a public address with a port', 'https://93.184.216.34:8443/hook'],
  ])('accepts %s', async (_what, url) => {
    const res = await call('POST', BASE, hook({ url }));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect((await call('DELETE', `${BASE}/${res.body.id}`)).status).toBe(204);
  });
});

describe.each(STORES)('customer webhook API with a small BODY_LIMIT (%s)', (kind) => {
  let svc: TestService;
  let c: Customer;
  beforeAll(async () => {
    svc = await startTestService(kind, { env: { BODY_LIMIT: '2048' } });
    c = await svc.newCustomer('starter');
  });
  afterAll(async () => svc?.close());

  it('answers a body larger than BODY_LIMIT with 413 and stores nothing', async () => {
    const res = await as(() => svc, c)('POST', BASE, hook({ name: 'n'.repeat(3000) }));
    expectError(res, 413, 'payload_too_large');
    expect((await svc.customer(c.key, 'GET', BASE)).body.count).toBe(0);
  });

  it('answers an update larger than BODY_LIMIT with 413', async () => {
    const w = (await as(() => svc, c)('POST', BASE, hook())).body;
    expectError(await as(() => svc, c)('PUT', `${BASE}/${w.id}`, { name: 'n'.repeat(3000) }), 413, 'payload_too_large');
    expect((await svc.customer(c.key, 'GET', `${BASE}/${w.id}`)).body.name).toBe(null);
  });

  it('still accepts a body under the limit', async () => {
    const other = await svc.newCustomer('starter');
    expect((await as(() => svc, other)('POST', BASE, hook({ name: 'n'.repeat(255) }))).status).toBe(201);
  });
});
