/**
 * Standard Webhooks (standardwebhooks.com) v1 signing for outbound deliveries.
 *
 *   webhook-signature = "v1," + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`))
 *   key               = base64decode(secret without the "whsec_" prefix)
 *
 * The receiver-side twin lives in sdk/src/index.ts (it must stay standalone);
 * both are pinned to test/vectors/standard-webhooks.json so they cannot drift.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';

/** Raw key length for newly generated secrets (spec recommends 24..64 bytes). */
const SECRET_BYTES = 32;

// Canonical, padded, standard-alphabet base64. Buffer.from(x, 'base64') silently
// skips characters it does not understand, so a typo'd secret would otherwise
// "work" here and fail everywhere else (the reference libraries are strict).
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface SignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** New endpoint secret: "whsec_" + base64 of 32 random bytes (44 chars). */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/**
 * Decode a "whsec_..." secret (prefix optional) into HMAC key bytes.
 * Throws on empty or non-base64 input. Messages never echo the secret.
 */
export function secretKeyBytes(secret: string): Buffer {
  if (typeof secret !== 'string') throw new TypeError('webhook secret must be a string');
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (b64.length === 0) throw new Error('webhook secret is empty');
  if (!BASE64_RE.test(b64)) {
    throw new Error('webhook secret is not valid base64 (expected "whsec_" + padded standard base64)');
  }
  const key = Buffer.from(b64, 'base64');
  if (key.length === 0) throw new Error('webhook secret decodes to zero bytes');
  return key;
}

// Hot path cache: a delivery worker signs many messages with few secrets, and
// decoding + validating the base64 each time is wasted work. Bounded so a
// process that sees many distinct secrets cannot grow it without limit; a full
// clear is crude but O(1) and the refill cost is tiny.
const KEY_CACHE_MAX = 10_000;
const keyCache = new Map<string, Buffer>();

function cachedKey(secret: string): Buffer {
  let key = keyCache.get(secret);
  if (key === undefined) {
    key = secretKeyBytes(secret);
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(secret, key);
  }
  return key;
}

/** Test hook / rotation hook: drop cached key bytes (e.g. after secret rotation). */
export function clearSigningKeyCache(): void {
  keyCache.clear();
}

function checkInputs(msgId: string, timestampSec: number): void {
  if (typeof msgId !== 'string' || msgId.length === 0) {
    throw new Error('webhook message id must be a non-empty string');
  }
  // Receivers parse the header as an integer; a float or 1e21-style number
  // would be formatted differently from what they parse and never verify.
  if (!Number.isSafeInteger(timestampSec) || timestampSec < 0) {
    throw new Error('webhook timestamp must be a non-negative integer number of seconds');
  }
}

/**
 * Sign with already-decoded key bytes (see secretKeyBytes). Returns "v1,<base64>".
 * The body must be the exact bytes that will be sent; a string is UTF-8 encoded.
 */
export function signWithKey(
  key: Buffer,
  msgId: string,
  timestampSec: number,
  body: string | Uint8Array,
): string {
  if (key.length === 0) throw new Error('webhook signing key is empty');
  checkInputs(msgId, timestampSec);
  const mac = createHmac('sha256', key)
    .update(`${msgId}.${timestampSec}.`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest('base64');
  return `v1,${mac}`;
}

/** Sign a message with a "whsec_..." secret. Returns "v1,<base64>". */
export function sign(
  secret: string,
  msgId: string,
  timestampSec: number,
  body: string | Uint8Array,
): string {
  return signWithKey(cachedKey(secret), msgId, timestampSec, body);
}

/** The three Standard Webhooks headers for one delivery attempt. */
export function signatureHeaders(
  secret: string,
  msgId: string,
  timestampSec: number,
  body: string | Uint8Array,
): SignatureHeaders {
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': sign(secret, msgId, timestampSec, body),
  };
}
