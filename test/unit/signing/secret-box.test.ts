import { describe, it, expect } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { SecretBox, parseSecretsKey, hashApiKey, generateApiKey, safeEqual } from '../../../src/signing/secret-box.ts';

const key = () => randomBytes(32);
const keyId = (k: Buffer) => createHash('sha256').update(k).digest('hex').slice(0, 8);
const SECRET = 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';

/** Replace one dot-separated part of a stored value, flipping one bit of its bytes. */
function flipPart(stored: string, index: number): string {
  const parts = stored.split('.');
  const buf = Buffer.from(parts[index], 'base64url');
  buf[0] ^= 0x01;
  parts[index] = buf.toString('base64url');
  return parts.join('.');
}

describe('SecretBox', () => {
  it('round-trips, with the documented format and a fresh IV each time', () => {
    const k = key();
    const box = new SecretBox(k);
    const a = box.encrypt(SECRET);
    const b = box.encrypt(SECRET);
    expect(a).toMatch(/^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(a.split('.')[1]).toBe(keyId(k));
    expect(box.currentKeyId).toBe(keyId(k));
    expect(a).not.toBe(b);
    expect(box.decrypt(a)).toBe(SECRET);
    expect(box.decrypt(b)).toBe(SECRET);
    expect(box.decrypt(box.encrypt(''))).toBe('');
    expect(box.decrypt(box.encrypt('ünïcødé ✅'))).toBe('ünïcødé ✅');
    expect(a).not.toContain(SECRET.slice(6));
  });

  it('throws on tampered ciphertext, tag or iv', () => {
    const box = new SecretBox(key());
    const stored = box.encrypt(SECRET);
    expect(() => box.decrypt(flipPart(stored, 3))).toThrow(/authentication/);
    expect(() => box.decrypt(flipPart(stored, 4))).toThrow(/authentication/);
    expect(() => box.decrypt(flipPart(stored, 2))).toThrow(/authentication/);
  });

  it('throws on malformed values (truncated tag, wrong parts, bad version)', () => {
    const box = new SecretBox(key());
    const stored = box.encrypt(SECRET);
    const parts = stored.split('.');
    expect(() => box.decrypt(parts.slice(0, 4).join('.'))).toThrow(/format/);
    expect(() => box.decrypt(['v2', ...parts.slice(1)].join('.'))).toThrow(/format/);
    expect(() => box.decrypt([...parts.slice(0, 4), parts[4].slice(0, 8)].join('.'))).toThrow(/tag/);
    expect(() => box.decrypt([...parts.slice(0, 2), parts[2].slice(0, 8), ...parts.slice(3)].join('.'))).toThrow(/iv/);
    expect(() => box.decrypt([...parts.slice(0, 3), 'not+base64url', parts[4]].join('.'))).toThrow(/base64url/);
    expect(() => box.decrypt('')).toThrow(/format/);
  });

  it('binds the key id: moving a value to another key id fails', () => {
    const k1 = key();
    const k2 = key();
    const box = new SecretBox(k1, [k2]);
    const parts = box.encrypt(SECRET).split('.');
    parts[1] = keyId(k2);
    expect(() => box.decrypt(parts.join('.'))).toThrow(/authentication/);
  });

  it('decrypts values under an old key only while that key is in previous', () => {
    const oldKey = key();
    const newKey = key();
    const stored = new SecretBox(oldKey).encrypt(SECRET);

    const rotated = new SecretBox(newKey, [oldKey]);
    expect(rotated.decrypt(stored)).toBe(SECRET);

    const dropped = new SecretBox(newKey);
    expect(() => dropped.decrypt(stored)).toThrow(new RegExp(`unknown key ${keyId(oldKey)}`));
  });

  it('needsReencrypt is true only for values under a non-current key', () => {
    const oldKey = key();
    const newKey = key();
    const oldStored = new SecretBox(oldKey).encrypt(SECRET);
    const box = new SecretBox(newKey, [oldKey]);
    expect(box.needsReencrypt(oldStored)).toBe(true);
    const fresh = box.encrypt(box.decrypt(oldStored));
    expect(box.needsReencrypt(fresh)).toBe(false);
    expect(() => box.needsReencrypt('garbage')).toThrow(/format/);
  });

  it('validates keys and tolerates the current key repeated in previous', () => {
    const k = key();
    expect(() => new SecretBox(Buffer.alloc(16))).toThrow(/32-byte/);
    expect(() => new SecretBox(k, [Buffer.alloc(31)])).toThrow(/32-byte/);
    expect(new SecretBox(k, [Buffer.from(k)]).toJSON()).toBe('SecretBox(keys=1)');
  });

  it('never prints key material via JSON or inspect', () => {
    const k1 = key();
    const k2 = key();
    const box = new SecretBox(k1, [k2]);
    const json = JSON.stringify(box);
    const inspected = inspect(box, { showHidden: true, depth: 10 });
    expect(json).toBe('"SecretBox(keys=2)"');
    expect(inspected).toBe('SecretBox(keys=2)');
    expect(String(box)).toBe('SecretBox(keys=2)');
    expect(JSON.stringify({ box })).toBe('{"box":"SecretBox(keys=2)"}');
    expect(Object.keys(box)).toEqual([]);
    for (const out of [json, inspected, `${box}`]) {
      for (const k of [k1, k2]) {
        for (const enc of ['hex', 'base64', 'base64url'] as const) {
          expect(out).not.toContain(k.toString(enc));
        }
      }
    }
  });
});

describe('parseSecretsKey', () => {
  const k = key();

  it('accepts 64 hex chars (either case) and base64/base64url of 32 bytes', () => {
    expect(parseSecretsKey(k.toString('hex')).equals(k)).toBe(true);
    expect(parseSecretsKey(k.toString('hex').toUpperCase()).equals(k)).toBe(true);
    expect(parseSecretsKey(k.toString('base64')).equals(k)).toBe(true);
    expect(parseSecretsKey(k.toString('base64url')).equals(k)).toBe(true);
    expect(parseSecretsKey(`  ${k.toString('hex')}\n`).equals(k)).toBe(true);
  });

  it('rejects wrong lengths and junk with a clear message that does not echo the value', () => {
    const bad = [
      randomBytes(31).toString('hex'),
      randomBytes(16).toString('base64'),
      randomBytes(33).toString('base64'),
      '',
      'not a key!',
    ];
    for (const v of bad) {
      let err: Error | undefined;
      try {
        parseSecretsKey(v);
      } catch (e) {
        err = e as Error;
      }
      expect(err, `should reject ${JSON.stringify(v)}`).toBeInstanceOf(Error);
      expect(err!.message).toMatch(/secrets key must be 32 bytes/);
      if (v.length > 0) expect(err!.message).not.toContain(v);
    }
  });
});

describe('API key helpers', () => {
  it('hashApiKey is stable sha256 hex', () => {
    expect(hashApiKey('mlk_abc')).toBe(hashApiKey('mlk_abc'));
    expect(hashApiKey('mlk_abc')).toBe(createHash('sha256').update('mlk_abc').digest('hex'));
    expect(hashApiKey('mlk_abc')).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey('mlk_abd')).not.toBe(hashApiKey('mlk_abc'));
  });

  it('generateApiKey gives mlk_ + base64url(32 bytes) and a 12-char prefix', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.key).toMatch(/^mlk_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.key.slice(4), 'base64url').length).toBe(32);
    expect(a.prefix).toBe(a.key.slice(0, 12));
    expect(a.prefix).toHaveLength(12);
    expect(a.key).not.toBe(b.key);
  });

  it('safeEqual compares in constant time, including different lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('', '')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', 'a')).toBe(false);
    const { key: k } = generateApiKey();
    expect(safeEqual(hashApiKey(k), hashApiKey(k))).toBe(true);
  });
});
