// Registration-time check of a customer's webhook URL.
//
// This is the first of two SSRF gates. It can only judge what is written in
// the URL; a host *name* may resolve to anything (and may change answer later,
// i.e. DNS rebinding), so the authoritative check happens again at connect
// time in guarded-lookup.ts. Both gates must stay.
import net from 'node:net';
import { classifyAddress } from './classify-ip.ts';

export const MAX_WEBHOOK_URL_LENGTH = 2048;

export interface ValidateWebhookUrlOptions {
  /** Self-hosted / development installs only: permits http: and private,
   * loopback and link-local destinations. */
  allowPrivateNetworks: boolean;
}

export type WebhookUrlValidation = { ok: true; url: string } | { ok: false; reason: string };

export function validateWebhookUrl(
  input: string,
  opts: ValidateWebhookUrlOptions,
): WebhookUrlValidation {
  if (typeof input !== 'string' || input.trim() === '') {
    return refuse('url is required');
  }
  // Refuse rather than truncate: a truncated URL is a different URL.
  if (input.length > MAX_WEBHOOK_URL_LENGTH) {
    return refuse(`url must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
  }

  let u: URL;
  try {
    u = new URL(input);
  } catch {
    return refuse('url is not a valid absolute URL');
  }

  if (u.protocol !== 'https:') {
    if (!(opts.allowPrivateNetworks && u.protocol === 'http:')) {
      return refuse(opts.allowPrivateNetworks ? 'url must use http or https' : 'url must use https');
    }
  }
  // Credentials would be stored and logged with the URL, and sent to whoever
  // the host turns out to be.
  if (u.username !== '' || u.password !== '') {
    return refuse('url must not contain credentials');
  }
  // The parser rejects ports above 65535 but keeps an explicit ':0' (or
  // ':00'), which is never a valid destination port.
  if (u.port === '0') {
    return refuse('url port must be between 1 and 65535');
  }
  if (u.hostname === '') {
    return refuse('url must have a host');
  }

  if (!opts.allowPrivateNetworks) {
    const hostProblem = checkHost(u.hostname);
    if (hostProblem) return refuse(hostProblem);
  }

  // The fragment is never sent over the wire; dropping it keeps stored URLs
  // canonical so duplicates compare equal.
  u.hash = '';
  const url = u.href;
  // Punycode and percent-encoding can make the normalised form longer than
  // what was typed; the stored value must respect the same limit.
  if (url.length > MAX_WEBHOOK_URL_LENGTH) {
    return refuse(`url must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
  }
  return { ok: true, url };
}

/** Returns a refusal reason for a non-public host, or null. `hostname` is
 * WHATWG-normalised: lower-case, IDN in punycode, every numeric IPv4 spelling
 * (2130706433, 0x7f.1, 0177.0.0.1, 127.1) already rewritten to dotted-quad,
 * IPv6 in brackets. */
function checkHost(hostname: string): string | null {
  const unbracketed =
    hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (net.isIP(unbracketed) !== 0) {
    const { public: isPublic, range } = classifyAddress(unbracketed);
    return isPublic ? null : `url points to a non-public address (${range})`;
  }
  // RFC 6761: every *.localhost name is loopback, whatever DNS says; some
  // resolvers answer it locally without asking DNS at all.
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) {
    return 'url points to localhost';
  }
  return null;
}

function refuse(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
