import { describe, it, expect } from 'vitest';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import {
  generateSecret,
  secretKeyBytes,
  sign,
  signWithKey,
  signatureHeaders,
  clearSigningKeyCache,
} from '../../../src/signing/index.ts';

interface Vector {
  secret: string;
  id: string;
  timestamp: number;
  body: string;
  signature: string;
}

// Read (not import) so the JSON stays byte-exact and no import attributes are needed.
const vectors: Vector[] = JSON.parse(
  readFileSync(new URL('../../vectors/standard-webhooks.json', import.meta.url), 'utf8'),
).vectors;

const nowSec = () => Math.floor(Date.now() / 1000);
const jsonBody = JSON.stringify({ event: 'email.delivered', subject: 'Paiement reçu ✅ 😊', n: 1 });

describe('sign: shared vectors', () => {
  it('has vectors to check', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(10);
  });

  for (const v of vectors) {
    it(`reproduces ${v.id}`, () => {
      expect(sign(v.secret, v.id, v.timestamp, v.body)).toBe(v.signature);
      // Same result from bytes and from a pre-decoded key.
      expect(sign(v.secret, v.id, v.timestamp, Buffer.from(v.body, 'utf8'))).toBe(v.signature);
      expect(signWithKey(secretKeyBytes(v.secret), v.id, v.timestamp, v.body)).toBe(v.signature);
    });

    it(`agrees with a direct node:crypto HMAC for ${v.id}`, () => {
      const key = Buffer.from(v.secret.slice('whsec_'.length), 'base64');
      const mac = createHmac('sha256', key).update(`${v.id}.${v.timestamp}.${v.body}`).digest('base64');
      expect(`v1,${mac}`).toBe(v.signature);
      expect(sign(v.secret, v.id, v.timestamp, v.body)).toBe(`v1,${mac}`);
    });
  }

  it('is stable across the key cache being cleared', () => {
    const v = vectors[0];
    const first = sign(v.secret, v.id, v.timestamp, v.body);
    clearSigningKeyCache();
    expect(sign(v.secret, v.id, v.timestamp, v.body)).toBe(first);
  });
});

describe('signatureHeaders interop', () => {
  it('is verified by the public standardwebhooks package', () => {
    const secret = generateSecret();
    const ts = nowSec();
    const headers = signatureHeaders(secret, 'msg_interop_1', ts, jsonBody);
    expect(headers['webhook-id']).toBe('msg_interop_1');
    expect(headers['webhook-timestamp']).toBe(String(ts));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);

    const wh = new StandardWebhook(secret);
    expect(wh.verify(jsonBody, { ...headers })).toEqual(JSON.parse(jsonBody));
    // And the library signs identically.
    expect(wh.sign('msg_interop_1', new Date(ts * 1000), jsonBody)).toBe(headers['webhook-signature']);
    // Sanity: it would reject a tampered body, so the pass above is meaningful.
    expect(() => wh.verify(jsonBody + ' ', { ...headers })).toThrow();
  });

  it('is verified by svix with webhook-* headers as-is (no svix-* mapping needed)', () => {
    // svix 1.x's Webhook.verify lower-cases header names and reads svix-id/
    // svix-timestamp/svix-signature, falling back to webhook-*, then delegates
    // to standardwebhooks. So unbranded headers work unmapped. Note it always
    // JSON.parses the payload, so the body must be JSON.
    const secret = generateSecret();
    const ts = nowSec();
    const headers = signatureHeaders(secret, 'msg_interop_2', ts, jsonBody);
    const wh = new SvixWebhook(secret);
    expect(wh.verify(jsonBody, { ...headers })).toEqual(JSON.parse(jsonBody));
    // Branded names are accepted too.
    expect(
      wh.verify(jsonBody, {
        'svix-id': headers['webhook-id'],
        'svix-timestamp': headers['webhook-timestamp'],
        'svix-signature': headers['webhook-signature'],
      }),
    ).toEqual(JSON.parse(jsonBody));
    expect(() => new SvixWebhook(generateSecret()).verify(jsonBody, { ...headers })).toThrow();
  });
});

describe('generateSecret / secretKeyBytes', () => {
  it('gives whsec_ + 44 base64 chars decoding to 32 bytes, different each call', () => {
    const a = generateSecret();
    const b = generateSecret();
    for (const s of [a, b]) {
      expect(s).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(s.length).toBe(6 + 44);
      expect(Buffer.from(s.slice(6), 'base64').length).toBe(32);
      expect(secretKeyBytes(s).length).toBe(32);
    }
    expect(a).not.toBe(b);
  });

  it('accepts a secret without the prefix', () => {
    const s = generateSecret();
    expect(secretKeyBytes(s.slice(6)).equals(secretKeyBytes(s))).toBe(true);
  });

  it('rejects empty and invalid secrets without echoing them', () => {
    expect(() => secretKeyBytes('')).toThrow(/empty/);
    expect(() => secretKeyBytes('whsec_')).toThrow(/empty/);
    expect(() => secretKeyBytes('whsec_not*base64!')).toThrow(/base64/);
    expect(() => secretKeyBytes('whsec_abc')).toThrow(/base64/); // bad length / missing padding
    try {
      secretKeyBytes('whsec_SUPERSECRET!!');
    } catch (e) {
      expect((e as Error).message).not.toContain('SUPERSECRET');
    }
    expect(() => sign('whsec_%%%', 'msg', nowSec(), '{}')).toThrow();
  });

  it('rejects inputs receivers could never verify', () => {
    const s = generateSecret();
    expect(() => sign(s, '', nowSec(), '{}')).toThrow(/id/);
    expect(() => sign(s, 'msg', 1.5, '{}')).toThrow(/timestamp/);
    expect(() => sign(s, 'msg', Date.now() * 1e6, '{}')).toThrow(/timestamp/);
    expect(() => sign(s, 'msg', -1, '{}')).toThrow(/timestamp/);
    expect(() => signWithKey(Buffer.alloc(0), 'msg', nowSec(), '{}')).toThrow(/empty/);
  });
});
