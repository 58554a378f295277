// Connect-time SSRF gate: the address we actually open a socket to is checked,
// not the one seen at registration. Resolving and checking inside the socket's
// own `lookup` hook means there is no window between "check" and "connect" in
// which a rebinding DNS server can swap in 127.0.0.1.
//
// Usage: new Agent({ connect: createGuardedConnector({ allowPrivateNetworks }) })
import dns from 'node:dns';
import net from 'node:net';
import type { LookupFunction, Socket } from 'node:net';
import { buildConnector } from 'undici';
import { classifyAddress } from './classify-ip.ts';

export const BLOCKED_DESTINATION_CODE = 'ERR_BLOCKED_DESTINATION';

export interface BlockedDestinationError extends Error {
  code: typeof BLOCKED_DESTINATION_CODE;
  range: string;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/** Anything shaped like dns.lookup (dns.lookup itself is assignable). It is
 * always called with `all: true`; a resolver that ignores that and answers
 * with a single address is tolerated. */
export type Resolver = (hostname: string, options: dns.LookupAllOptions, callback: LookupCallback) => void;

export interface GuardOptions {
  allowPrivateNetworks: boolean;
  resolve?: Resolver;
}

export interface GuardedConnectorOptions extends GuardOptions {
  /** Connect (and TLS handshake) timeout; undici's default is 10s. */
  timeoutMs?: number;
}

/** The message names the range but neither the URL nor the address: these
 * errors can end up in customer-visible delivery logs, and echoing what an
 * internal name resolved to would let customers map our network. */
export function blockedDestinationError(range: string): BlockedDestinationError {
  const err = new Error(
    `destination blocked: connecting to a non-public address (${range}) is not allowed`,
  ) as BlockedDestinationError;
  err.code = BLOCKED_DESTINATION_CODE;
  err.range = range;
  return err;
}

export function createGuardedLookup(opts: GuardOptions): LookupFunction {
  const resolve: Resolver = opts.resolve ?? (dns.lookup as Resolver);

  return function guardedLookup(hostname, options, callback) {
    // net always passes an object, but dns.lookup's public shape also allows
    // a bare family number or no options at all.
    const raw: unknown = options;
    const cb = (typeof raw === 'function' ? raw : callback) as LookupCallback;
    const given: dns.LookupOptions =
      typeof raw === 'number' ? { family: raw } : typeof raw === 'object' && raw !== null ? raw : {};

    // Always ask for every address: net may try any of them (autoSelectFamily),
    // so each one has to pass, not just the first.
    resolve(hostname, { ...given, all: true }, (err, result, family) => {
      if (err) return cb(err, given.all ? [] : '');
      const addresses: dns.LookupAddress[] =
        typeof result === 'string' ? [{ address: result, family: family ?? net.isIP(result) }] : result;
      if (!addresses || addresses.length === 0) {
        const notFound: NodeJS.ErrnoException = new Error(`no addresses found for ${hostname}`);
        notFound.code = 'ENOTFOUND';
        return cb(notFound, given.all ? [] : '');
      }
      if (!opts.allowPrivateNetworks) {
        for (const { address } of addresses) {
          const verdict = classifyAddress(address);
          if (!verdict.public) return cb(blockedDestinationError(verdict.range), given.all ? [] : '');
        }
      }
      if (given.all) return cb(null, addresses);
      const first = addresses[0]!;
      return cb(null, first.address, first.family);
    });
  } as LookupFunction;
}

/** Node skips `lookup` entirely when the host is already an IP literal, so
 * the connector must judge literals itself. Returns null for host names
 * (the lookup hook handles those) and for public literals. */
export function checkConnectAddress(host: string, allowPrivateNetworks: boolean): Error | null {
  if (allowPrivateNetworks) return null;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const zoneless = bare.includes('%') ? bare.slice(0, bare.indexOf('%')) : bare;
  if (net.isIP(zoneless) === 0) return null;
  const verdict = classifyAddress(bare);
  return verdict.public ? null : blockedDestinationError(verdict.range);
}

export function createGuardedConnector(opts: GuardedConnectorOptions): buildConnector.connector {
  const lookup = createGuardedLookup(opts);
  const connect = buildConnector({
    lookup,
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
  });

  return function guardedConnect(options, callback) {
    const literalBlocked = checkConnectAddress(options.hostname, opts.allowPrivateNetworks);
    if (literalBlocked) {
      callback(literalBlocked, null);
      return;
    }
    connect(options, (err, socket) => {
      if (err || !socket) {
        callback(err ?? new Error('connect failed'), null);
        return;
      }
      // Defence in depth for any path that bypassed both checks above (e.g.
      // a future Node change in when lookup is consulted): never hand undici
      // a socket whose peer is not public, so not one request byte is sent.
      const peer = (socket as Socket).remoteAddress;
      const blocked = peer ? checkConnectAddress(peer, opts.allowPrivateNetworks) : null;
      if (blocked) {
        socket.destroy();
        callback(blocked, null);
        return;
      }
      callback(null, socket);
    });
  };
}
