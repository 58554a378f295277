/**
 * @mailerlogic/webhooks-verify — verify MailerLogic webhooks (Standard Webhooks v1).
 *
 * Zero dependencies on purpose: receivers should not pull a tree of packages
 * to check one HMAC. The signing code duplicates src/signing in the service;
 * both are tested against the same vectors so they cannot drift.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type WebhookVerificationErrorCode =
  | 'missing_headers'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'no_matching_signature'
  | 'invalid_secret';

export class WebhookVerificationError extends Error {
  readonly code: WebhookVerificationErrorCode;

  constructor(code: WebhookVerificationErrorCode, message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.code = code;
  }
}

export type WebhookHeaders = Record<string, string | string[] | undefined> | Headers;

export interface VerifyOptions {
  /** Allowed clock skew in seconds, in both directions. Default 300 (5 minutes). */
  toleranceSec?: number;
  /** Current time in unix SECONDS (not milliseconds). For tests. */
  now?: () => number;
}

export const DEFAULT_TOLERANCE_SEC = 300;
const SECRET_PREFIX = 'whsec_';
// Strict padded base64: Buffer.from() skips junk characters, which would let a
// mangled secret "decode" to the wrong key and fail confusingly later.
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function keyBytes(secret: string): Buffer {
  const b64 = typeof secret === 'string' && secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (typeof b64 !== 'string' || b64.length === 0 || !BASE64_RE.test(b64)) {
    throw new WebhookVerificationError('invalid_secret', 'webhook secret must be "whsec_" followed by base64');
  }
  return Buffer.from(b64, 'base64');
}

function hmacB64(key: Buffer, msgId: string, timestampSec: number | string, body: string | Uint8Array): string {
  return createHmac('sha256', key)
    .update(`${msgId}.${timestampSec}.`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest('base64');
}

/**
 * Produce a "v1,<base64>" signature, e.g. to build fixtures in a receiver's tests.
 * `body` must be exactly the bytes sent.
 */
export function sign(secret: string, msgId: string, timestampSec: number, body: string | Uint8Array): string {
  if (!Number.isSafeInteger(timestampSec) || timestampSec < 0) {
    throw new TypeError('timestampSec must be a non-negative integer (unix seconds)');
  }
  return `v1,${hmacB64(keyBytes(secret), msgId, timestampSec, body)}`;
}

/** All values for one header, case-insensitively, trying each alias in order. */
function headerValues(headers: WebhookHeaders, names: string[]): string[] {
  const isFetchHeaders = typeof Headers !== 'undefined' && headers instanceof Headers;
  for (const name of names) {
    if (isFetchHeaders) {
      const v = (headers as Headers).get(name);
      if (v !== null && v !== '') return [v];
      continue;
    }
    // Gather across keys differing only in case, so {'Webhook-Id': a, 'webhook-id': b}
    // is seen as two values (ambiguous) rather than silently picking one.
    const vals: string[] = [];
    for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
      if (k.toLowerCase() !== name || v === undefined) continue;
      for (const s of Array.isArray(v) ? v : [v]) if (typeof s === 'string' && s !== '') vals.push(s);
    }
    if (vals.length > 0) return vals;
  }
  return [];
}

/**
 * Verify a webhook. Returns nothing on success; throws WebhookVerificationError
 * (see `.code`) otherwise.
 *
 * `body` MUST be the raw request body. Re-serialising parsed JSON changes the
 * bytes (whitespace, key order, unicode escapes) and the signature won't match.
 */
export function verifyWebhook(
  secret: string,
  body: string | Buffer,
  headers: WebhookHeaders,
  opts: VerifyOptions = {},
): void {
  const key = keyBytes(secret);
  if (headers === null || typeof headers !== 'object') {
    throw new WebhookVerificationError('missing_headers', 'no headers given');
  }

  const ids = headerValues(headers, ['webhook-id', 'x-webhook-id']);
  const stamps = headerValues(headers, ['webhook-timestamp', 'x-webhook-timestamp']);
  // Repeated signature headers are equivalent to one space-separated list.
  const sigHeader = headerValues(headers, ['webhook-signature', 'x-webhook-signature']).join(' ');
  // A repeated id/timestamp is ambiguous (which one was signed?), so refuse it.
  if (ids.length !== 1 || stamps.length !== 1 || sigHeader === '') {
    throw new WebhookVerificationError(
      'missing_headers',
      'expected exactly one webhook-id, one webhook-timestamp and a webhook-signature header',
    );
  }
  const msgId = ids[0];
  const stampRaw = stamps[0].trim();

  // Strict digits: parseInt("123abc") is 123, which is not what was signed.
  if (!/^\d{1,15}$/.test(stampRaw)) {
    throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp must be integer unix seconds');
  }
  const timestamp = Number(stampRaw);
  const tolerance = opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new TypeError('toleranceSec must be a non-negative number');
  const now = opts.now ? opts.now() : Math.floor(Date.now() / 1000);
  // Both directions: a stale message may be a replay; one from the future
  // could be replayed for a long time once its time comes.
  if (now - timestamp > tolerance) {
    throw new WebhookVerificationError('timestamp_too_old', 'webhook timestamp is too old');
  }
  if (timestamp - now > tolerance) {
    throw new WebhookVerificationError('timestamp_too_new', 'webhook timestamp is too far in the future');
  }

  const expected = Buffer.from(hmacB64(key, msgId, timestamp, body), 'utf8');
  // Compare the base64 text, not decoded bytes: Node's lenient base64 decoder
  // would accept non-canonical spellings of the same bytes.
  for (const candidate of sigHeader.split(' ')) {
    const comma = candidate.indexOf(',');
    if (comma < 0 || candidate.slice(0, comma) !== 'v1') continue; // other versions/schemes are not ours to judge
    const given = Buffer.from(candidate.slice(comma + 1), 'utf8');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return;
  }
  throw new WebhookVerificationError('no_matching_signature', 'no matching v1 signature');
}
