import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { verifyWebhook, sign, WebhookVerificationError, type WebhookVerificationErrorCode } from '../src/index.ts';

interface Vector {
  secret: string;
  id: string;
  timestamp: number;
  body: string;
  signature: string;
}

// The same vectors the service's signer is tested against (test/vectors).
const vectors: Vector[] = JSON.parse(
  readFileSync(new URL('../../test/vectors/standard-webhooks.json', import.meta.url), 'utf8'),
).vectors;

const SECRET = 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
const OTHER_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const TS = 1768739700;
const BODY = '{"event":"email.delivered","subject":"Zoë ✅"}';
const at = (t: number) => ({ now: () => t });

function headersFor(secret = SECRET, ts = TS, body = BODY, id = 'msg_1') {
  return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(secret, id, ts, body) };
}

function codeOf(fn: () => void): WebhookVerificationErrorCode | 'no_error' {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WebhookVerificationError);
    expect(e).toBeInstanceOf(Error);
    return (e as WebhookVerificationError).code;
  }
  return 'no_error';
}

describe('verifyWebhook: shared vectors', () => {
  for (const v of vectors) {
    it(`verifies ${v.id}`, () => {
      const headers = { 'webhook-id': v.id, 'webhook-timestamp': String(v.timestamp), 'webhook-signature': v.signature };
      expect(() => verifyWebhook(v.secret, v.body, headers, at(v.timestamp))).not.toThrow();
      expect(() => verifyWebhook(v.secret, Buffer.from(v.body, 'utf8'), headers, at(v.timestamp))).not.toThrow();
      expect(sign(v.secret, v.id, v.timestamp, v.body)).toBe(v.signature);
    });
  }
});

describe('verifyWebhook: rejections', () => {
  const h = headersFor();
  const sig = h['webhook-signature'];

  it('rejects a truncated signature', () => {
    expect(codeOf(() => verifyWebhook(SECRET, BODY, { ...h, 'webhook-signature': sig.slice(0, -4) }, at(TS)))).toBe(
      'no_matching_signature',
    );
  });

  it('rejects an empty signature (value or after the comma)', () => {
    expect(codeOf(() => verifyWebhook(SECRET, BODY, { ...h, 'webhook-signature': 'v1,' }, at(TS)))).toBe(
      'no_matching_signature',
    );
    expect(codeOf(() => verifyWebhook(SECRET, BODY, { ...h, 'webhook-signature': '' }, at(TS)))).toBe('missing_headers');
  });

  it('ignores other versions: only v2 with the right bytes fails', () => {
    const v2 = sig.replace(/^v1,/, 'v2,');
    expect(codeOf(() => verifyWebhook(SECRET, BODY, { ...h, 'webhook-signature': v2 }, at(TS)))).toBe(
      'no_matching_signature',
    );
  });

  it('rejects the wrong secret and a tampered body', () => {
    expect(codeOf(() => verifyWebhook(OTHER_SECRET, BODY, h, at(TS)))).toBe('no_matching_signature');
    expect(codeOf(() => verifyWebhook(SECRET, BODY.replace('Zoë', 'Zoe'), h, at(TS)))).toBe('no_matching_signature');
    expect(codeOf(() => verifyWebhook(SECRET, BODY + '\n', h, at(TS)))).toBe('no_matching_signature');
  });

  it('rejects a changed id (id is part of the signed content)', () => {
    expect(codeOf(() => verifyWebhook(SECRET, BODY, { ...h, 'webhook-id': 'msg_2' }, at(TS)))).toBe(
      'no_matching_signature',
    );
  });

  it('enforces ±300 s by default, inclusive at the edge', () => {
    expect(codeOf(() => verifyWebhook(SECRET, BODY, h, at(TS + 301)))).toBe('timestamp_too_old');
    expect(codeOf(() => verifyWebhook(SECRET, BODY, h, at(TS - 301)))).toBe('timestamp_too_new');
    expect(codeOf(() => verifyWebhook(SECRET, BODY, h, at(TS + 300)))).toBe('no_error');
    expect(codeOf(() => verifyWebhook(SECRET, BODY, h, at(TS - 300)))).toBe('no_error');
  });

  it('honours toleranceSec', () => {
    expect(codeOf(() => verifyWebhook(SECRET, BODY, h, { ...at(TS + 301), toleranceSec: 600 }))).toBe('no_error');
    expect(codeOf(() => verifyWebhook(SECRET, BODY, h, { ...at(TS + 11), toleranceSec: 10 }))).toBe('timestamp_too_old');
  });

  it('uses the real clock by default (old vector timestamp is rejected now)', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(codeOf(() => verifyWebhook(SECRET, BODY, headersFor(SECRET, now)))).toBe('no_error');
    expect(codeOf(() => verifyWebhook(SECRET, BODY, headersFor(SECRET, now - 3600)))).toBe('timestamp_too_old');
  });

  it('rejects missing headers', () => {
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
      const partial: Record<string, string> = { ...h };
      delete partial[name];
      expect(codeOf(() => verifyWebhook(SECRET, BODY, partial, at(TS)))).toBe('missing_headers');
    }
    expect(codeOf(() => verifyWebhook(SECRET, BODY, {}, at(TS)))).toBe('missing_headers');
    expect(codeOf(() => verifyWebhook(SECRET, BODY, { ...h, 'webhook-id': undefined }, at(TS)))).toBe('missing_headers');
  });

  it('rejects ambiguous repeated id / timestamp headers', () => {
    expect(codeOf(() => verifyWebhook(SECRET, BODY, { ...h, 'webhook-id': ['msg_1', 'msg_2'] }, at(TS)))).toBe(
      'missing_headers',
    );
    expect(codeOf(() => verifyWebhook(SECRET, BODY, { ...h, 'Webhook-Id': 'msg_2' }, at(TS)))).toBe('missing_headers');
  });

  it('rejects non-numeric timestamps', () => {
    for (const bad of ['abc', `${TS}abc`, `${TS}.5`, `-${TS}`, '1e9', ' ']) {
      const code = codeOf(() => verifyWebhook(SECRET, BODY, { ...h, 'webhook-timestamp': bad }, at(TS)));
      expect(code === 'invalid_timestamp' || (bad.trim() === '' && code === 'missing_headers')).toBe(true);
    }
  });

  it('rejects invalid secrets with invalid_secret', () => {
    for (const bad of ['', 'whsec_', 'whsec_***', 'whsec_abc']) {
      expect(codeOf(() => verifyWebhook(bad, BODY, h, at(TS)))).toBe('invalid_secret');
    }
  });
});

describe('verifyWebhook: accepted header shapes', () => {
  const h = headersFor();
  const sig = h['webhook-signature'];

  it('accepts the right signature 2nd of several space-separated', () => {
    const wrong = headersFor(OTHER_SECRET)['webhook-signature'];
    const list = `${wrong} ${sig} v2,${sig.slice(3)}`;
    expect(codeOf(() => verifyWebhook(SECRET, BODY, { ...h, 'webhook-signature': list }, at(TS)))).toBe('no_error');
    // Also as a repeated header (node:http gives string[] for some setups).
    expect(codeOf(() => verifyWebhook(SECRET, BODY, { ...h, 'webhook-signature': [wrong, sig] }, at(TS)))).toBe('no_error');
  });

  it('accepts upper/mixed-case header names', () => {
    const upper = { 'WEBHOOK-ID': h['webhook-id'], 'Webhook-Timestamp': h['webhook-timestamp'], 'WEBHOOK-SIGNATURE': sig };
    expect(codeOf(() => verifyWebhook(SECRET, BODY, upper, at(TS)))).toBe('no_error');
  });

  it('accepts X-Webhook-* names', () => {
    const x = { 'X-Webhook-Id': h['webhook-id'], 'X-Webhook-Timestamp': h['webhook-timestamp'], 'x-webhook-signature': sig };
    expect(codeOf(() => verifyWebhook(SECRET, BODY, x, at(TS)))).toBe('no_error');
  });

  it('accepts a fetch Headers object', () => {
    expect(codeOf(() => verifyWebhook(SECRET, BODY, new Headers(h), at(TS)))).toBe('no_error');
    const x = new Headers({ 'X-Webhook-Id': 'msg_1', 'X-Webhook-Timestamp': String(TS), 'X-Webhook-Signature': sig });
    expect(codeOf(() => verifyWebhook(SECRET, BODY, x, at(TS)))).toBe('no_error');
    expect(codeOf(() => verifyWebhook(SECRET, BODY, new Headers(), at(TS)))).toBe('missing_headers');
  });
});

describe('cross-check with the public standardwebhooks package', () => {
  it('its signatures verify with our SDK', () => {
    const wh = new StandardWebhook(SECRET);
    const ts = Math.floor(Date.now() / 1000);
    const signature = wh.sign('msg_x1', new Date(ts * 1000), BODY);
    const headers = { 'webhook-id': 'msg_x1', 'webhook-timestamp': String(ts), 'webhook-signature': signature };
    expect(codeOf(() => verifyWebhook(SECRET, BODY, headers))).toBe('no_error');
    expect(codeOf(() => verifyWebhook(SECRET, Buffer.from(BODY), headers))).toBe('no_error');
  });

  it('our signatures verify with it', () => {
    const wh = new StandardWebhook(OTHER_SECRET);
    const ts = Math.floor(Date.now() / 1000);
    const headers = headersFor(OTHER_SECRET, ts, BODY, 'msg_x2');
    expect(wh.verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(wh.sign('msg_x2', new Date(ts * 1000), BODY)).toBe(headers['webhook-signature']);
  });
});
