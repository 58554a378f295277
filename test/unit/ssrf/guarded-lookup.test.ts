import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type dns from 'node:dns';
import { Agent, request } from 'undici';
import {
  BLOCKED_DESTINATION_CODE,
  checkConnectAddress,
  createGuardedConnector,
  createGuardedLookup,
  type Resolver,
} from '../../../src/ssrf/guarded-lookup.ts';

/** A resolver answering from a script: the n-th call gets answers[n] (the
 * last answer repeats). Records every call so tests can prove re-resolution. */
function scriptedResolver(...answers: string[][]): Resolver & { calls: dns.LookupAllOptions[] } {
  const calls: dns.LookupAllOptions[] = [];
  const fn = (_host: string, options: dns.LookupAllOptions, cb: Parameters<Resolver>[2]) => {
    const list = answers[Math.min(calls.length, answers.length - 1)]!;
    calls.push(options);
    const addresses = list.map((address) => ({ address, family: net.isIP(address) }));
    setImmediate(() => (options.all ? cb(null, addresses) : cb(null, addresses[0]!.address, addresses[0]!.family)));
  };
  return Object.assign(fn, { calls });
}
const fakeResolverReturning = (...addresses: string[]) => scriptedResolver(addresses);

function lookupP(lookup: net.LookupFunction, host: string, options: dns.LookupOptions) {
  return new Promise<{ address: string | dns.LookupAddress[]; family?: number }>((resolve, reject) => {
    lookup(host, options, (err, address, family) => (err ? reject(err) : resolve({ address, family })));
  });
}

type Failure = NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };

async function failureOf(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (err) {
    return err as Failure;
  }
  throw new Error('expected the request to fail');
}

const blockedCode = (err: Failure) => err.code ?? err.cause?.code;

describe('guarded connector: real undici requests', () => {
  let server: http.Server;
  let port: number;
  let connections = 0;
  let requests = 0;
  const agents: Agent[] = [];

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      requests++;
      res.end('reached');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  beforeEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()));
    connections = 0;
    requests = 0;
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function agentWith(opts: Parameters<typeof createGuardedConnector>[0]): Agent {
    const agent = new Agent({ connect: createGuardedConnector({ timeoutMs: 2_000, ...opts }) });
    agents.push(agent);
    return agent;
  }

  async function expectBlockedWithoutContact(url: string, agent: Agent): Promise<void> {
    const err = await failureOf(request(url, { dispatcher: agent }));
    expect(blockedCode(err)).toBe(BLOCKED_DESTINATION_CODE);
    expect(err.message).not.toContain(url);
    // Give any stray connection attempt time to land before asserting none did.
    await new Promise((r) => setTimeout(r, 50));
    expect(connections).toBe(0);
    expect(requests).toBe(0);
  }

  it('blocks a host name that resolves to loopback, without connecting', async () => {
    const resolve = fakeResolverReturning('127.0.0.1');
    await expectBlockedWithoutContact(
      `http://internal.test:${port}/`,
      agentWith({ allowPrivateNetworks: false, resolve }),
    );
    expect(resolve.calls.length).toBeGreaterThan(0);
  });

  it('blocks a literal loopback host (Node skips lookup for literals)', async () => {
    const resolve = fakeResolverReturning('8.8.8.8');
    await expectBlockedWithoutContact(`http://127.0.0.1:${port}/`, agentWith({ allowPrivateNetworks: false, resolve }));
    expect(resolve.calls).toHaveLength(0);
  });

  it('blocks literal IPv6 loopback and private https hosts before any TLS handshake', async () => {
    const agent = agentWith({ allowPrivateNetworks: false });
    await expectBlockedWithoutContact(`http://[::1]:${port}/`, agent);
    await expectBlockedWithoutContact(`http://[::ffff:127.0.0.1]:${port}/`, agent);
    await expectBlockedWithoutContact('https://10.255.255.1/', agent);
  });

  it('blocks a multi-address answer if any address is private', async () => {
    await expectBlockedWithoutContact(
      `http://internal.test:${port}/`,
      agentWith({ allowPrivateNetworks: false, resolve: fakeResolverReturning('8.8.8.8', '127.0.0.1') }),
    );
  });

  it('rebinding: public at check time, loopback at connect time → blocked', async () => {
    const resolve = scriptedResolver(['93.184.215.14'], ['127.0.0.1']);
    // First resolution, e.g. a pre-flight check, sees a public address...
    const first = await lookupP(createGuardedLookup({ allowPrivateNetworks: false, resolve }), 'rebind.test', {});
    expect(first.address).toBe('93.184.215.14');
    // ...but the connection resolves again and is judged on what it gets.
    await expectBlockedWithoutContact(
      `http://rebind.test:${port}/`,
      agentWith({ allowPrivateNetworks: false, resolve }),
    );
    expect(resolve.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('with allowPrivateNetworks the same requests succeed', async () => {
    const agent = agentWith({ allowPrivateNetworks: true, resolve: fakeResolverReturning('127.0.0.1') });
    for (const url of [`http://internal.test:${port}/`, `http://127.0.0.1:${port}/`]) {
      const res = await request(url, { dispatcher: agent });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('reached');
    }
    expect(requests).toBe(2);
  });
});

describe('createGuardedLookup', () => {
  const strict = (resolve: Resolver) => createGuardedLookup({ allowPrivateNetworks: false, resolve });

  it('answers in the single-address shape when all is not set', async () => {
    expect(await lookupP(strict(fakeResolverReturning('8.8.8.8')), 'a.test', {})).toEqual({
      address: '8.8.8.8',
      family: 4,
    });
  });

  it('answers with every address when all: true', async () => {
    const r = await lookupP(strict(fakeResolverReturning('8.8.8.8', '2606:4700::1')), 'a.test', { all: true });
    expect(r.address).toEqual([
      { address: '8.8.8.8', family: 4 },
      { address: '2606:4700::1', family: 6 },
    ]);
  });

  it('always resolves with all: true so no address escapes the check', async () => {
    const resolve = fakeResolverReturning('8.8.8.8', '10.0.0.1');
    const err = await failureOf(lookupP(strict(resolve), 'a.test', { family: 4 }));
    expect(err.code).toBe(BLOCKED_DESTINATION_CODE);
    expect(resolve.calls[0]).toMatchObject({ all: true, family: 4 });
  });

  it.each([
    [['10.0.0.1'], 'private'],
    [['127.0.0.1'], 'loopback'],
    [['169.254.169.254'], 'cloud-metadata'],
    [['8.8.8.8', '192.168.1.10'], 'private'],
    [['::1'], 'loopback'],
    [['fe80::1%eth0'], 'linkLocal'],
    [['::ffff:10.0.0.1'], 'ipv4Mapped/private'],
  ])('blocks %j (%s) and names only the range', async (addresses, range) => {
    const err = await failureOf(lookupP(strict(fakeResolverReturning(...addresses)), 'secret-host.test', { all: true }));
    expect(err.code).toBe(BLOCKED_DESTINATION_CODE);
    expect(err.message).toContain(`(${range})`);
    expect(err.message).not.toContain('secret-host');
    for (const a of addresses) expect(err.message).not.toContain(a);
  });

  it('allows private answers when allowPrivateNetworks is true', async () => {
    const lookup = createGuardedLookup({ allowPrivateNetworks: true, resolve: fakeResolverReturning('10.0.0.1') });
    expect(await lookupP(lookup, 'a.test', {})).toEqual({ address: '10.0.0.1', family: 4 });
  });

  it('passes resolver errors through unchanged', async () => {
    const enotfound = Object.assign(new Error('getaddrinfo ENOTFOUND nope.test'), { code: 'ENOTFOUND' });
    const failing: Resolver = (_h, _o, cb) => setImmediate(() => cb(enotfound, []));
    expect(await failureOf(lookupP(strict(failing), 'nope.test', {}))).toBe(enotfound);
  });

  it('uses dns.lookup by default (localhost is blocked)', async () => {
    const err = await failureOf(lookupP(createGuardedLookup({ allowPrivateNetworks: false }), 'localhost', {}));
    expect(err.code).toBe(BLOCKED_DESTINATION_CODE);
  });
});

describe('checkConnectAddress', () => {
  it.each(['127.0.0.1', '10.0.0.1', '169.254.169.254', '::1', '[::1]', 'fe80::1%eth0', '::ffff:127.0.0.1', '0.0.0.0'])(
    'blocks literal %s',
    (host) => {
      const err = checkConnectAddress(host, false) as NodeJS.ErrnoException | null;
      expect(err?.code).toBe(BLOCKED_DESTINATION_CODE);
      expect(checkConnectAddress(host, true)).toBeNull();
    },
  );

  it.each(['8.8.8.8', '2606:4700:4700::1111', 'example.com', 'internal.test', 'localhost'])(
    'leaves %s to the lookup hook or lets it through',
    (host) => {
      expect(checkConnectAddress(host, false)).toBeNull();
    },
  );
});
