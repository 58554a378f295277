import { createHmac } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TestReceiver, type Received } from '../helpers/receiver.ts';
import type { TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { bodyOf, createWebhook, event, ingestOk, startE2E, verifyBoth, withEmail } from './harness.ts';

const headers = (r: Received) => Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)]));

describe.each(STORES)('signed deliveries (%s)', (kind) => {
  let svc: TestService;
  let receiver: TestReceiver;
  let customer: { id: string; key: string; domains: string[] };

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    svc = await startE2E(kind, { RETRY_SCHEDULE: '100ms,100ms,100ms,100ms,100ms', ENDPOINT_CONCURRENCY: '1' });
    customer = await svc.newCustomer('business', ['mail.example.com']);
  });
  afterAll(async () => {
    await receiver?.close();
    await svc?.close();
  });

  it('signs every delivery so that standardwebhooks and svix both verify it with the whsec_ secret', async () => {
    const hook = await createWebhook(svc, customer.key, {
      url: `${receiver.url}/signed`,
      events: ['email.delivered', 'email.opened', 'email.unsubscribed'],
      domain_ids: [customer.domains[0]],
    });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const events = [
      event(customer.id, 'email.delivered', { domain_id: customer.domains[0], tag: 'ünïcödé ✓', metadata: { a: [1, 2, { b: null }] } }),
      event(customer.id, 'email.opened', { domain_id: customer.domains[0], data: { user_agent: 'Mozilla/5.0 "quoted"' } }),
      { customer_id: customer.id, domain_id: customer.domains[0], event: 'email.unsubscribed' },
    ];
    await ingestOk(svc, { events });
    await receiver.waitFor(3, '/signed');
    for (const r of receiver.received.filter((x) => x.path === '/signed')) {
      expect(verifyBoth(hook.secret, r)).toEqual(bodyOf(r));
      // Tampering is caught: the signature covers the body.
      expect(() => new StandardWebhook(hook.secret).verify(r.body.replace('"event"', '"Event"'), headers(r))).toThrow();
    }
  });

  it('sends the Standard Webhooks headers, their X-Webhook twins and the descriptive headers', async () => {
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/headers`, events: ['email.clicked'] });
    const e = event(customer.id, 'email.clicked');
    await ingestOk(svc, e);
    await receiver.waitFor(1, '/headers');
    const r = receiver.received.find((x) => x.path === '/headers')!;
    const h = r.headers;
    expect(h['webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(h['x-webhook-id']).toBe(h['webhook-id']);
    expect(h['x-webhook-timestamp']).toBe(h['webhook-timestamp']);
    expect(h['x-webhook-signature']).toBe(h['webhook-signature']);
    expect(Math.abs(Number(h['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(h['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(h['x-webhook-event']).toBe('email.clicked');
    expect(h['x-webhook-attempt']).toBe('1');
    expect(h['content-type']).toBe('application/json');
    expect(h['user-agent']).toMatch(/MailerLogic/);
    // The signature is exactly the documented HMAC, computed independently here.
    const key = Buffer.from(hook.secret.slice('whsec_'.length), 'base64');
    const mac = createHmac('sha256', key).update(`${h['webhook-id']}.${h['webhook-timestamp']}.${r.body}`).digest('base64');
    expect(h['webhook-signature']).toBe(`v1,${mac}`);
    verifyBoth(hook.secret, r);
    // The webhook-id is the delivery id the customer API shows.
    const list = await svc.customer(customer.key, 'GET', `/api/v1/customer/webhooks/${hook.id}/deliveries`);
    expect(list.body.data.map((d: any) => d.id)).toContain(h['webhook-id']);
  });

  it('signs a retry of an older message with the regenerated secret, never the old one', async () => {
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/rotate`, events: ['email.bounced'] });
    let regenerated = false;
    receiver.respond = (r) => (r.path === '/rotate' && !regenerated ? { status: 500, body: 'down' } : { status: 200 });
    const e = event(customer.id, 'email.bounced');
    await ingestOk(svc, e);
    await receiver.waitFor(1, '/rotate');
    const regen = await svc.customer(customer.key, 'POST', `/api/v1/customer/webhooks/${hook.id}/regenerate-secret`);
    expect(regen.status).toBe(200);
    const fresh: string = regen.body.secret;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(hook.secret);
    regenerated = true;
    const seenBefore = receiver.count('/rotate');

    await receiver.waitFor(seenBefore + 1, '/rotate');
    const all = withEmail(receiver.received, e.email_id);
    const first = all[0];
    const retry = all[seenBefore];
    expect(retry.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(Number(retry.headers['x-webhook-attempt'])).toBe(seenBefore + 1);
    verifyBoth(hook.secret, first);
    verifyBoth(fresh, retry);
    expect(() => verifyBoth(hook.secret, retry)).toThrow();
  });

  it('signs a message that waited behind a slow one with the secret current when it is sent', async () => {
    // ENDPOINT_CONCURRENCY is 1: the second message waits in the worker while the first is
    // in flight, and the secret is regenerated during that wait.
    const hook = await createWebhook(svc, customer.key, { url: `${receiver.url}/queued`, events: ['email.complained'] });
    let regenerated = false;
    receiver.respond = (r) => (r.path === '/queued' && !regenerated ? { status: 200, delayMs: 1500 } : { status: 200 });
    const a = event(customer.id, 'email.complained');
    const b = event(customer.id, 'email.complained');
    await ingestOk(svc, { events: [a, b] });
    await receiver.waitFor(1, '/queued');
    const regen = await svc.customer(customer.key, 'POST', `/api/v1/customer/webhooks/${hook.id}/regenerate-secret`);
    regenerated = true;
    await receiver.waitFor(2, '/queued');
    const [, second] = receiver.received.filter((r) => r.path === '/queued');
    expect(() => verifyBoth(regen.body.secret, second)).not.toThrow();
    await eventually(
      async () => (await svc.customer(customer.key, 'GET', `/api/v1/customer/webhooks/${hook.id}/deliveries?status=succeeded`)).body.data.length,
      (n) => n === 2,
    );
  });
});
