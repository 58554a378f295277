import type { LookupAddress } from 'node:dns';
import net from 'node:net';
import type { Resolver } from '../../src/ssrf/guarded-lookup.ts';

/**
 * Shared pieces of the security tests: a listener that only counts who connects to it, and a
 * stand-in DNS resolver answering from a table and counting its calls.
 */

/** A real TCP listener on loopback (both families when IPv6 is up) that records every connection. */
export type Tripwire = { port: number; connections: number; close(): Promise<void> };

export async function tripwire(): Promise<Tripwire> {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0 };
  const server = net.createServer((s) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.destroy();
  });
  // '::' (dual stack) catches 127.0.0.1, ::1 and ::ffff:127.0.0.1 alike; fall back to IPv4 only.
  await new Promise<void>((resolve, reject) => {
    server.once('error', () => {
      server.removeAllListeners('error');
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    server.listen({ port: 0, host: '::', ipv6Only: false }, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    get connections() {
      return state.connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

export type Answer = LookupAddress[] | ((call: number) => LookupAddress[]);

/** Answers host names from `table` (ENOTFOUND otherwise) and counts calls per name. */
export function tableResolver(table: Map<string, Answer>): { resolve: Resolver; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const resolve: Resolver = (hostname, _options, callback) => {
    const n = (calls.get(hostname) ?? 0) + 1;
    calls.set(hostname, n);
    const answer = table.get(hostname);
    setImmediate(() => {
      if (!answer) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
      callback(null, typeof answer === 'function' ? answer(n) : answer);
    });
  };
  return { resolve, calls };
}

export const v4 = (address: string): LookupAddress => ({ address, family: 4 });
export const v6 = (address: string): LookupAddress => ({ address, family: 6 });
