import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TestReceiver } from '../helpers/receiver.ts';
import type { TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { bodyOf, createWebhook, event, ingestOk, startE2E, withEmail } from './harness.ts';

describe.each(STORES)('fan-out to customer, domain and domain-group webhooks (%s)', (kind) => {
  let svc: TestService;
  let receiver: TestReceiver;
  let customer: { id: string; key: string; domains: string[] };
  let d1: string, d2: string, d3: string, d4: string;

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    svc = await startE2E(kind);
    customer = await svc.newCustomer('business', ['one.example.com', 'two.example.com', 'three.example.com', 'four.example.com']);
    [d1, d2, d3, d4] = customer.domains;
    const hook = (path: string, events: string[], domain_ids: string[] | null, is_active = true) =>
      createWebhook(svc, customer.key, { url: `${receiver.url}${path}`, events, domain_ids, is_active, name: path });
    // The mixed approach of the product document: all three kinds side by side.
    const made = [
      await hook('/customer', ['email.delivered', 'email.opened'], null),
      await hook('/customer-empty', ['email.complained'], []),
      await hook('/single', ['email.delivered', 'email.bounced'], [d1]),
      await hook('/group', ['email.delivered', 'email.opened', 'email.clicked'], [d2, d3]),
      await hook('/inactive-customer', ['email.delivered', 'email.opened', 'email.bounced', 'email.clicked', 'email.complained'], null, false),
      await hook('/inactive-single', ['email.delivered', 'email.bounced'], [d1], false),
    ];
    expect(made.map((m) => m.body.scope)).toEqual(['customer', 'customer', 'domain', 'domain_group', 'customer', 'domain']);
  });
  afterAll(async () => {
    await receiver?.close();
    await svc?.close();
  });

  const got = () => new Set(receiver.received.map((r) => `${r.path} ${bodyOf(r).email_id}`));

  it('sends each webhook exactly the types it subscribes to, for the domains it covers', async () => {
    const cases: [Record<string, any>, string[]][] = [
      [event(customer.id, 'email.delivered', { domain_id: d1 }), ['/single', '/customer']],
      [event(customer.id, 'email.delivered', { domain_id: d2 }), ['/group', '/customer']],
      [event(customer.id, 'email.delivered', { domain_id: d3 }), ['/group', '/customer']],
      [event(customer.id, 'email.delivered', { domain_id: d4 }), ['/customer']],
      [event(customer.id, 'email.delivered'), ['/customer']],
      [event(customer.id, 'email.opened', { domain_id: d1 }), ['/customer']],
      [event(customer.id, 'email.opened', { domain_id: d3 }), ['/group', '/customer']],
      [event(customer.id, 'email.bounced', { domain_id: d1 }), ['/single']],
      [event(customer.id, 'email.bounced', { domain_id: d2 }), []],
      [event(customer.id, 'email.bounced'), []],
      [event(customer.id, 'email.clicked', { domain_id: d2 }), ['/group']],
      [event(customer.id, 'email.clicked', { domain_id: d4 }), []],
      [event(customer.id, 'email.clicked'), []],
      [event(customer.id, 'email.complained', { domain_id: d1 }), ['/customer-empty']],
      [event(customer.id, 'email.complained'), ['/customer-empty']],
      [event(customer.id, 'email.sent', { domain_id: d1 }), []],
      [event(customer.id, 'email.failed'), []],
    ];
    const expected = new Set(cases.flatMap(([e, paths]) => paths.map((p) => `${p} ${e.email_id}`)));
    const res = await ingestOk(svc, { events: cases.map(([e]) => e) });
    expect(res.deliveries).toBe(expected.size);

    await eventually(got, (s) => [...expected].every((k) => s.has(k)));
    // Sentinels behind them on every active webhook: once they are in, nothing else is coming.
    const sentinels = [
      event(customer.id, 'email.delivered', { domain_id: d1 }),
      event(customer.id, 'email.delivered', { domain_id: d2 }),
      event(customer.id, 'email.complained'),
    ];
    await ingestOk(svc, { events: sentinels });
    for (const s of sentinels) await eventually(() => withEmail(receiver.received, s.email_id).length, (n) => n >= 2 || (n >= 1 && s.event === 'email.complained'));
    const caseEmails = new Set(cases.map(([e]) => e.email_id));
    const actual = [...got()].filter((k) => caseEmails.has(k.split(' ')[1]));
    expect(actual.sort()).toEqual([...expected].sort());
    expect(receiver.received.filter((r) => caseEmails.has(bodyOf(r).email_id))).toHaveLength(expected.size);
  });

  it('sends nothing to inactive webhooks', async () => {
    const e = event(customer.id, 'email.delivered', { domain_id: d1 });
    const res = await ingestOk(svc, e);
    expect(res.deliveries).toBe(2);
    await eventually(() => withEmail(receiver.received, e.email_id).length, (n) => n === 2);
    expect(receiver.count('/inactive-customer')).toBe(0);
    expect(receiver.count('/inactive-single')).toBe(0);
  });

  it('sends an event without a domain_id to customer-level webhooks only', async () => {
    const e = event(customer.id, 'email.delivered');
    expect((await ingestOk(svc, e)).deliveries).toBe(1);
    await eventually(() => withEmail(receiver.received, e.email_id), (l) => l.length === 1);
    expect(withEmail(receiver.received, e.email_id)[0].path).toBe('/customer');
  });

  it('sends the domain-scoped POST before the customer-level one for the same event', async () => {
    for (const domain of [d1, d2, d3, d1, d2]) {
      const e = event(customer.id, 'email.delivered', { domain_id: domain });
      await ingestOk(svc, e);
      const both = await eventually(() => withEmail(receiver.received, e.email_id), (l) => l.length === 2);
      expect(both.map((r) => r.path)).toEqual([domain === d1 ? '/single' : '/group', '/customer']);
    }
  });

  it('sends the domain-scoped POST first for every event of a mixed batch', async () => {
    // Events only the customer-level webhook takes come first and between the others, so the
    // customer-level lane is the first one the claim meets.
    const events = Array.from({ length: 30 }, (_, i) =>
      i % 2 === 0 ? event(customer.id, 'email.opened', { domain_id: d1 }) : event(customer.id, 'email.delivered', { domain_id: d2 }),
    );
    // Order is decided when the requests start; open enough pooled connections first, so that
    // no request of the batch waits for a connection of its own and arrives out of its turn.
    const warm = Array.from({ length: 40 }, () => event(customer.id, 'email.delivered', { domain_id: d2 }));
    await ingestOk(svc, { events: warm });
    for (const e of warm) await eventually(() => withEmail(receiver.received, e.email_id).length, (n) => n === 2);
    await ingestOk(svc, { events });
    const scoped = events.filter((e) => e.event === 'email.delivered');
    for (const e of scoped) {
      const both = await eventually(() => withEmail(receiver.received, e.email_id), (l) => l.length === 2);
      expect(both.map((r) => r.path), e.email_id).toEqual(['/group', '/customer']);
    }
  });

  it('follows a change of scope made with update', async () => {
    const list = (await svc.customer(customer.key, 'GET', '/api/v1/customer/webhooks')).body.data;
    const single = list.find((w: any) => w.name === '/single');
    const put = await svc.customer(customer.key, 'PUT', `/api/v1/customer/webhooks/${single.id}`, { domain_ids: [d4] });
    expect(put.body.scope).toBe('domain');
    try {
      const toD4 = event(customer.id, 'email.bounced', { domain_id: d4 });
      const toD1 = event(customer.id, 'email.bounced', { domain_id: d1 });
      const res = await ingestOk(svc, { events: [toD1, toD4] });
      expect(res.deliveries).toBe(1);
      await eventually(() => withEmail(receiver.received, toD4.email_id), (l) => l.length === 1);
      expect(withEmail(receiver.received, toD1.email_id)).toHaveLength(0);
    } finally {
      await svc.customer(customer.key, 'PUT', `/api/v1/customer/webhooks/${single.id}`, { domain_ids: [d1] });
    }
  });

  it('matches domain ids whatever their letter case', async () => {
    const e = event(customer.id, 'email.bounced', { domain_id: d1.toUpperCase() });
    expect((await ingestOk(svc, e)).deliveries).toBe(1);
    const [r] = await eventually(() => withEmail(receiver.received, e.email_id), (l) => l.length === 1);
    expect(r.path).toBe('/single');
    expect(bodyOf(r).domain_id).toBe(d1);
  });

  it('sends the documented body, with tag and metadata only when given', async () => {
    const full = event(customer.id, 'email.delivered', {
      domain_id: d4,
      timestamp: '2026-01-18T12:34:56Z',
      tag: 'welcome',
      metadata: { user_id: 42, plan: 'pro' },
      data: { recipient: 'r@example.com' },
    });
    const bare = event(customer.id, 'email.opened', { data: { user_agent: 'Mail/1.0' } });
    const noData = event(customer.id, 'email.opened', { domain_id: d4 });
    await ingestOk(svc, { events: [full, bare, noData] });
    const [f] = await eventually(() => withEmail(receiver.received, full.email_id), (l) => l.length === 1);
    const [b] = await eventually(() => withEmail(receiver.received, bare.email_id), (l) => l.length === 1);
    const [n] = await eventually(() => withEmail(receiver.received, noData.email_id), (l) => l.length === 1);

    expect(Object.keys(bodyOf(f))).toEqual(['event', 'timestamp', 'email_id', 'tag', 'metadata', 'domain_id', 'data']);
    expect(bodyOf(f)).toEqual({
      event: 'email.delivered',
      timestamp: '2026-01-18T12:34:56Z',
      email_id: full.email_id,
      tag: 'welcome',
      metadata: { user_id: 42, plan: 'pro' },
      domain_id: d4,
      data: { recipient: 'r@example.com' },
    });
    expect(Object.keys(bodyOf(b))).toEqual(['event', 'timestamp', 'email_id', 'domain_id', 'data']);
    expect(bodyOf(b)).toMatchObject({ event: 'email.opened', domain_id: null, data: { user_agent: 'Mail/1.0' } });
    expect(Number.isNaN(Date.parse(bodyOf(b).timestamp))).toBe(false);
    expect(bodyOf(n)).toMatchObject({ domain_id: d4, data: {} });
  });
});
