import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';

type Operation = { requestBody?: any; responses: Record<string, any>; security?: unknown[]; parameters?: { name: string; in: string }[]; summary?: string };

const W = '/api/v1/customer/webhooks';

/** Every route of SPEC §3, §4 and §5 with the request body fields it documents (if any). */
const ROUTES: [method: string, path: string, security: string, body?: string[]][] = [
  ['get', W, 'apiKey'],
  ['post', W, 'apiKey', ['url', 'events', 'name', 'domain_ids', 'is_active']],
  ['get', `${W}/{webhookId}`, 'apiKey'],
  ['put', `${W}/{webhookId}`, 'apiKey', ['url', 'events', 'name', 'domain_ids', 'is_active']],
  ['delete', `${W}/{webhookId}`, 'apiKey'],
  ['post', `${W}/{webhookId}/test`, 'apiKey'],
  ['post', `${W}/{webhookId}/regenerate-secret`, 'apiKey'],
  ['get', `${W}/{webhookId}/deliveries`, 'apiKey'],
  ['post', `${W}/{webhookId}/deliveries/{deliveryId}/retry`, 'apiKey'],
  ['post', '/admin/v1/customers', 'adminToken', ['name', 'plan', 'webhook_limit']],
  ['get', '/admin/v1/customers/{customerId}', 'adminToken'],
  ['patch', '/admin/v1/customers/{customerId}', 'adminToken', ['name', 'plan', 'webhook_limit']],
  ['post', '/admin/v1/customers/{customerId}/domains', 'adminToken', ['name']],
  ['get', '/admin/v1/customers/{customerId}/domains', 'adminToken'],
  ['post', '/admin/v1/customers/{customerId}/api-keys', 'adminToken'],
  ['get', '/admin/v1/customers/{customerId}/api-keys', 'adminToken'],
  ['delete', '/admin/v1/customers/{customerId}/api-keys/{keyId}', 'adminToken'],
  ['post', '/internal/v1/events', 'ingestToken', ['customer_id', 'event', 'email_id', 'domain_id', 'timestamp', 'tag', 'metadata', 'data']],
];

/** The properties a request body schema documents, following $refs and anyOf/oneOf/allOf. */
function propertiesOf(doc: any, schema: any, seen = new Set<any>()): Set<string> {
  const out = new Set<string>();
  if (!schema || typeof schema !== 'object' || seen.has(schema)) return out;
  seen.add(schema);
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref.replace(/^#\//, '').split('/').reduce((o: any, k: string) => o?.[k], doc);
    return propertiesOf(doc, target, seen);
  }
  for (const k of Object.keys(schema.properties ?? {})) out.add(k);
  for (const key of ['anyOf', 'oneOf', 'allOf']) for (const s of schema[key] ?? []) for (const p of propertiesOf(doc, s, seen)) out.add(p);
  if (schema.items) for (const p of propertiesOf(doc, schema.items, seen)) out.add(p);
  for (const s of Object.values<any>(schema.properties ?? {})) if (s?.type === 'array') for (const p of propertiesOf(doc, s.items, seen)) out.add(p);
  return out;
}

describe.each(STORES)('API reference (%s)', (kind) => {
  let svc: TestService;
  let doc: any;
  beforeAll(async () => {
    svc = await startTestService(kind);
    const res = await svc.app.inject('/openapi.json');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = res.json();
  });
  afterAll(async () => svc?.close());

  const op = (method: string, path: string): Operation => doc.paths[path]?.[method];

  it('serves an OpenAPI 3 document without authentication', () => {
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['adminToken', 'apiKey', 'ingestToken']);
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
    expect(doc.components.securitySchemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it.each(ROUTES)('documents %s %s with its security scheme', (method, path, security) => {
    const o = op(method, path);
    expect(o, `${method.toUpperCase()} ${path} is missing; documented: ${Object.keys(doc.paths).join(' ')}`).toBeDefined();
    expect(o.security).toEqual([{ [security]: [] }]);
    expect(o.summary).toEqual(expect.any(String));
    expect(Object.keys(o.responses).some((s) => /^2\d\d$/.test(s))).toBe(true);
    expect(o.responses['401'], 'documents its 401').toBeDefined();
    for (const name of path.match(/\{(\w+)\}/g) ?? []) {
      expect(o.parameters?.some((p) => p.in === 'path' && `{${p.name}}` === name), `path parameter ${name}`).toBe(true);
    }
  });

  it.each(ROUTES.filter((r) => r[3]))('documents the request body of %s %s', (method, path, _security, fields) => {
    const body = op(method, path).requestBody;
    expect(body?.content?.['application/json']?.schema).toBeDefined();
    const props = propertiesOf(doc, body.content['application/json'].schema);
    expect([...props]).toEqual(expect.arrayContaining(fields!));
  });

  it('marks url and events as required to create a webhook, and nothing as required to update one', () => {
    const create = op('post', W).requestBody.content['application/json'].schema;
    expect(create.required?.sort()).toEqual(['events', 'url']);
    expect(create.additionalProperties).toBe(false);
    expect(create.properties.url.maxLength).toBe(2048);
    expect(create.properties.events.minItems).toBe(1);
    const update = op('put', `${W}/{webhookId}`).requestBody.content['application/json'].schema;
    expect(update.required ?? []).toEqual([]);
  });

  it('lists the eight event types a webhook can subscribe to', () => {
    const events = op('post', W).requestBody.content['application/json'].schema.properties.events;
    expect(JSON.stringify(events)).toContain('email.unsubscribed');
    for (const e of ['sent', 'delivered', 'opened', 'clicked', 'bounced', 'complained', 'unsubscribed', 'failed']) {
      expect(JSON.stringify(events)).toContain(`"email.${e}"`);
    }
  });

  it('documents the answers of creating a webhook: 201 with the secret, 403 limit, 415, 422', () => {
    const responses = op('post', W).responses;
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '413', '415', '422']));
    expect(propertiesOf(doc, responses['201'].content['application/json'].schema)).toContain('secret');
    expect(propertiesOf(doc, responses['403'].content['application/json'].schema)).toContain('error');
  });

  it('shows the secret only in the create and regenerate-secret answers', () => {
    expect(propertiesOf(doc, op('post', `${W}/{webhookId}/regenerate-secret`).responses['200'].content['application/json'].schema)).toContain('secret');
    for (const [method, path] of [
      ['get', W],
      ['get', `${W}/{webhookId}`],
      ['put', `${W}/{webhookId}`],
    ]) {
      expect(propertiesOf(doc, op(method, path).responses['200'].content['application/json'].schema), `${method} ${path}`).not.toContain('secret');
    }
  });

  it('serves the collection with and without a trailing slash', async () => {
    const c = await svc.newCustomer('starter');
    expect((await svc.customer(c.key, 'GET', W)).status).toBe(200);
    expect((await svc.customer(c.key, 'GET', `${W}/`)).status).toBe(200);
  });

  it('answers /docs with an HTML reference page', async () => {
    let res = await svc.app.inject('/docs');
    for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 3; hops++) {
      res = await svc.app.inject(new URL(String(res.headers.location), 'http://localhost/docs').pathname);
    }
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/<html/i);
  });
});
