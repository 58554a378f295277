/**
 * At-rest protection for webhook endpoint secrets, plus API-key helpers.
 *
 * Endpoint secrets must be recoverable (we sign with them), so they are
 * encrypted, not hashed: AES-256-GCM under a key ring. Stored format:
 *
 *   v1.<keyId>.<b64url iv>.<b64url ciphertext>.<b64url tag>
 *
 * keyId = first 8 hex chars of sha256(key). It lets decrypt pick the right key
 * from the ring and lets a rotation command find rows still under an old key
 * (needsReencrypt) without trying every key. It reveals nothing useful about a
 * 256-bit random key.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const FORMAT_VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12; // GCM's native nonce size; random is safe far beyond our row counts
const TAG_BYTES = 16;
const B64URL_RE = /^[A-Za-z0-9_-]*$/;
const KEY_ID_RE = /^[0-9a-f]{8}$/;

/**
 * Parse the secrets-encryption key from config: 64 hex chars, or base64 /
 * base64url of exactly 32 bytes. The error never echoes the value.
 */
export function parseSecretsKey(value: string): Buffer {
  const v = typeof value === 'string' ? value.trim() : '';
  if (/^[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(v)) {
    const buf = Buffer.from(v, 'base64'); // Node's base64 decoder also accepts the url alphabet
    if (buf.length === KEY_BYTES) return buf;
    throw new Error(
      `secrets key must be 32 bytes (64 hex chars or 44-char base64); got base64 decoding to ${buf.length} bytes`,
    );
  }
  throw new Error(
    `secrets key must be 32 bytes encoded as 64 hex chars or base64 (44 chars); got ${v.length} chars that are neither`,
  );
}

function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

function b64urlDecode(part: string, what: string): Buffer {
  if (!B64URL_RE.test(part)) throw new Error(`encrypted secret: ${what} is not base64url`);
  return Buffer.from(part, 'base64url');
}

interface Parsed {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

function parseStored(stored: string): Parsed {
  const parts = typeof stored === 'string' ? stored.split('.') : [];
  if (parts.length !== 5 || parts[0] !== FORMAT_VERSION) {
    throw new Error(`encrypted secret: unrecognised format (expected ${FORMAT_VERSION}.<keyId>.<iv>.<ct>.<tag>)`);
  }
  const [, keyId, ivPart, ctPart, tagPart] = parts;
  if (!KEY_ID_RE.test(keyId)) throw new Error('encrypted secret: malformed key id');
  const iv = b64urlDecode(ivPart, 'iv');
  const ciphertext = b64urlDecode(ctPart, 'ciphertext');
  const tag = b64urlDecode(tagPart, 'tag');
  if (iv.length !== IV_BYTES) throw new Error('encrypted secret: iv must be 12 bytes');
  // A short tag would silently weaken GCM's authentication, so insist on 16.
  if (tag.length !== TAG_BYTES) throw new Error('encrypted secret: tag must be 16 bytes');
  return { keyId, iv, ciphertext, tag };
}

// The version and key id are bound in as AAD so the header cannot be edited
// to point at a different key or format without failing authentication.
function aadFor(keyId: string): Buffer {
  return Buffer.from(`${FORMAT_VERSION}.${keyId}`, 'utf8');
}

export class SecretBox {
  // True private fields: not enumerable, not reachable by JSON/inspect/spread.
  readonly #keys = new Map<string, Buffer>();
  readonly #currentId: string;

  constructor(current: Buffer, previous: Buffer[] = []) {
    for (const [i, key] of [current, ...previous].entries()) {
      if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
        throw new Error(`SecretBox: key #${i} must be a 32-byte Buffer (use parseSecretsKey)`);
      }
      const id = keyIdOf(key);
      const existing = this.#keys.get(id);
      if (existing) {
        // Same key listed twice (e.g. current also in previous) is harmless;
        // two different keys with one id would make decrypt ambiguous.
        if (!timingSafeEqual(existing, key)) throw new Error(`SecretBox: key id collision on ${id}`);
        continue;
      }
      this.#keys.set(id, Buffer.from(key)); // own copy: caller may reuse/zero theirs
    }
    this.#currentId = keyIdOf(current);
  }

  /** Id of the key new values are encrypted under. Not secret. */
  get currentKeyId(): string {
    return this.#currentId;
  }

  encrypt(plaintext: string): string {
    if (typeof plaintext !== 'string') throw new TypeError('SecretBox.encrypt expects a string');
    const keyId = this.#currentId;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(keyId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aadFor(keyId));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [FORMAT_VERSION, keyId, iv.toString('base64url'), ciphertext.toString('base64url'), tag.toString('base64url')].join('.');
  }

  decrypt(stored: string): string {
    const { keyId, iv, ciphertext, tag } = parseStored(stored);
    const key = this.#keys.get(keyId);
    if (!key) {
      throw new Error(`encrypted secret uses unknown key ${keyId}; add that key to the previous keys to read it`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aadFor(keyId));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      // Node's message ("Unsupported state or unable to authenticate data") is unhelpful.
      throw new Error('encrypted secret failed authentication (tampered, truncated or wrong key)');
    }
  }

  /** True when `stored` is under a key other than the current one. Throws if malformed. */
  needsReencrypt(stored: string): boolean {
    return parseStored(stored).keyId !== this.#currentId;
  }

  toJSON(): string {
    return `SecretBox(keys=${this.#keys.size})`;
  }

  toString(): string {
    return this.toJSON();
  }

  // Same symbol util.inspect looks up; Symbol.for avoids importing node:util.
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toJSON();
  }
}

/**
 * API keys are stored as sha256 hex. A slow password hash (scrypt/argon2) is
 * for low-entropy human passwords; our keys are 32 random bytes, so brute force
 * is infeasible and a fast hash keeps every authenticated request cheap.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** New API key: "mlk_" + base64url(32 random bytes); prefix (first 12 chars) is for display/lookup. */
export function generateApiKey(): { key: string; prefix: string } {
  const key = `mlk_${randomBytes(32).toString('base64url')}`;
  return { key, prefix: key.slice(0, 12) };
}

/**
 * Constant-time string comparison. Hashing both sides first gives equal-length
 * inputs for timingSafeEqual, so neither content nor length leaks via timing.
 */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(String(a), 'utf8').digest();
  const db = createHash('sha256').update(String(b), 'utf8').digest();
  return timingSafeEqual(da, db);
}
