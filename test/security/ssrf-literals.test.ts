import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, expectError } from '../helpers/http.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';

/**
 * Destinations written as addresses, in every spelling the URL parser accepts, are refused at
 * create and at update (private networks not allowed), and nothing is stored. What is accepted
 * is stored in its canonical form and read back exactly so.
 */

const BASE = '/api/v1/customer/webhooks';

const REFUSED: [what: string, url: string][] = [
  ['decimal IPv4', 'https://2130706433/'],
  ['octal IPv4', 'https://0177.0.0.1/'],
  ['octal IPv4, one number', 'https://017700000001/'],
  ['hex IPv4', 'https://0x7f000001/'],
  ['hex IPv4, dotted', 'https://0x7f.0.0.1/'],
  ['short IPv4', 'https://127.1/'],
  ['short private IPv4', 'https://10.1/'],
  ['dotted-quad loopback with a port', 'https://127.0.0.1:8443/hook'],
  ['unspecified 0.0.0.0', 'https://0.0.0.0/'],
  ['unspecified 0', 'https://0/'],
  ['cloud metadata', 'https://169.254.169.254/latest/meta-data/'],
  ['cloud metadata in octal, trailing dot', 'https://0251.0376.0251.0376./'],
  ['CGNAT', 'https://100.64.0.1/'],
  ['RFC 1918 172.16/12', 'https://172.16.0.1/'],
  ['RFC 1918 192.168/16', 'https://192.168.1.1/'],
  ['IPv4-mapped IPv6', 'https://[::ffff:127.0.0.1]/'],
  ['IPv4-mapped IPv6, hex', 'https://[::ffff:7f00:1]/'],
  ['IPv4-compatible IPv6', 'https://[::127.0.0.1]/'],
  ['6to4 of 127.0.0.1', 'https://[2002:7f00:1::]/'],
  ['6to4 of 10.0.0.1', 'https://[2002:a00:1::]/'],
  ['NAT64 of 127.0.0.1', 'https://[64:ff9b::7f00:1]/'],
  ['NAT64 of the metadata address', 'https://[64:ff9b::a9fe:a9fe]/'],
  ['Teredo of 127.0.0.1', 'https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/'],
  ['IPv6 loopback', 'https://[::1]/'],
  ['IPv6 unspecified', 'https://[::]/'],
  ['IPv6 link-local', 'https://[fe80::1]/'],
  ['IPv6 unique-local', 'https://[fc00::1]/'],
  ['IPv6 documentation', 'https://[2001:db8::1]/'],
  ['AWS IPv6 metadata', 'https://[fd00:ec2::254]/'],
  ['localhost', 'https://localhost/'],
  ['localhost.', 'https://localhost./'],
  ['a.localhost', 'https://a.localhost/'],
  ['mixed-case A.LocalHost.', 'https://A.LocalHost./x'],
  ['full-width localhost', 'https://ｌｏｃａｌｈｏｓｔ/'],
  ['plain http', 'http://hooks.example.com/'],
];

describe.each(STORES)('IP literals and local names at create and update (%s)', (kind) => {
  let svc: TestService;
  let key: string;
  const call = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
    request(svc.app, method, url, { headers: { 'x-api-key': key }, payload });

  beforeAll(async () => {
    svc = await startTestService(kind, { role: 'api', env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false', RATE_LIMIT: '1000000' } });
    key = (await svc.newCustomer('custom', [], 20)).key;
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('refuses every spelling with 422 at create and at update, and stores nothing', async () => {
    const ok = await call('POST', BASE, { url: 'https://hooks.example.com/in', events: ['email.delivered'] });
    expect(ok.status).toBe(201);
    const failures: string[] = [];
    for (const [what, url] of REFUSED) {
      const created = await call('POST', BASE, { url, events: ['email.delivered'] });
      const updated = await call('PUT', `${BASE}/${ok.body.id}`, { url });
      for (const [op, res] of [['create', created], ['update', updated]] as const) {
        if (res.status !== 422 || res.body?.error?.code !== 'validation_failed') failures.push(`${op} ${what} (${url}): ${res.status} ${JSON.stringify(res.body)}`);
        else expectError(res, 422, 'validation_failed');
      }
    }
    expect(failures).toEqual([]);
    const list = await call('GET', BASE);
    expect(list.body.count).toBe(1);
    expect(list.body.data[0].url).toBe('https://hooks.example.com/in');
    expect((await call('GET', `${BASE}/${ok.body.id}`)).body.url).toBe('https://hooks.example.com/in');
  });

  it.each([
    ['an IDN, stored as punycode, fragment dropped', 'https://bücher.example/hook?x=1#frag', 'https://xn--bcher-kva.example/hook?x=1'],
    ['default port, dot segments and case normalised', 'https://HOOKS.Example.com:443/a/../in#top', 'https://hooks.example.com/in'],
    ['a public IPv4 literal', 'https://93.184.216.34/in', 'https://93.184.216.34/in'],
    ['a public IPv6 literal', 'https://[2606:4700:0::1111]/in', 'https://[2606:4700::1111]/in'],
  ])('stores %s and returns it exactly as stored', async (_what, given, stored) => {
    const created = await call('POST', BASE, { url: given, events: ['email.delivered'] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.url).toBe(stored);
    expect((await call('GET', `${BASE}/${created.body.id}`)).body.url).toBe(stored);
    expect((await call('GET', BASE)).body.data.find((w: any) => w.id === created.body.id).url).toBe(stored);
    // Update normalises the same way.
    const updated = await call('PUT', `${BASE}/${created.body.id}`, { url: given });
    expect(updated.body.url).toBe(stored);
    expect((await call('GET', `${BASE}/${created.body.id}`)).body.url).toBe(stored);
  });

  it('refuses a 2,049-character URL at create and update instead of truncating it', async () => {
    const long = `https://hooks.example.com/${'a'.repeat(2049 - 26)}`;
    expect(long).toHaveLength(2049);
    const before = (await call('GET', BASE)).body.count;
    expectError(await call('POST', BASE, { url: long, events: ['email.delivered'] }), 422, 'validation_failed');
    expect((await call('GET', BASE)).body.count).toBe(before);

    const ok = await call('POST', BASE, { url: 'https://hooks.example.com/short', events: ['email.delivered'] });
    expectError(await call('PUT', `${BASE}/${ok.body.id}`, { url: long }), 422, 'validation_failed');
    expect((await call('GET', `${BASE}/${ok.body.id}`)).body.url).toBe('https://hooks.example.com/short');

    // 2,048 after normalisation, but longer once the IDN becomes punycode: still refused.
    const idn = `https://bücher.example/${'a'.repeat(2048 - 'https://bücher.example/'.length)}`;
    expect(idn).toHaveLength(2048);
    expectError(await call('POST', BASE, { url: idn, events: ['email.delivered'] }), 422, 'validation_failed');
  });
});
