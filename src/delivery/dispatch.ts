import { sign } from '../signing/index.ts';
import { validateWebhookUrl } from '../ssrf/validate-url.ts';
import type { SendResult, WebhookHttpClient } from './http-client.ts';
import { nextRetryDelay } from './retry-policy.ts';

/**
 * One delivery attempt in three typed steps: prepare (sign, headers) → send → classify.
 * The worker and the test route share them, so a test event is signed and judged exactly
 * like a real one.
 */

export const USER_AGENT = 'MailerLogic-Webhooks/1.0 (+https://mailerlogic.net/docs/webhooks)';

export type PreparedRequest = { url: string; headers: Record<string, string>; body: string };

export function prepare(input: { url: string; secret: string; messageId: string; eventType: string; attempt: number; body: string; now: number }): PreparedRequest {
  const timestamp = Math.floor(input.now / 1000);
  const signature = sign(input.secret, input.messageId, timestamp, input.body);
  const ts = String(timestamp);
  return {
    url: input.url,
    body: input.body,
    headers: {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'webhook-id': input.messageId,
      'webhook-timestamp': ts,
      'webhook-signature': signature,
      'x-webhook-id': input.messageId,
      'x-webhook-timestamp': ts,
      'x-webhook-signature': signature,
      'x-webhook-event': input.eventType,
      'x-webhook-attempt': String(input.attempt),
    },
  };
}

/** Sends, after checking the stored URL again: rules may have tightened since it was saved. */
export async function send(client: WebhookHttpClient, req: PreparedRequest, allowPrivateNetworks: boolean): Promise<SendResult> {
  const verdict = validateWebhookUrl(req.url, { allowPrivateNetworks });
  if (!verdict.ok) return { kind: 'error', error: 'blocked_destination', message: verdict.reason, durationMs: 0 };
  return client.send(req.url, req.headers, req.body);
}

export type AttemptRecord = {
  statusCode: number | null;
  /** A stable code: the client's error codes, plus `http_status` and `redirect`. */
  error: string | null;
  excerpt: string | null;
  durationMs: number;
};

export type Verdict =
  | { kind: 'delivered'; record: AttemptRecord }
  | { kind: 'retry'; record: AttemptRecord; delayMs: number }
  | { kind: 'give_up'; record: AttemptRecord; gone: boolean };

/**
 * The excerpt is the receiver's text and is stored: NUL characters are dropped, because
 * PostgreSQL text cannot hold them and one refused row would fail the whole batch of outcomes.
 */
const storable = (text: string): string => (text.includes('\u0000') ? text.replaceAll('\u0000', '') : text);

export function recordOf(result: SendResult): AttemptRecord {
  if (result.kind === 'error') {
    return { statusCode: result.statusCode ?? null, error: result.error, excerpt: storable(result.message), durationMs: Math.round(result.durationMs) };
  }
  const s = result.statusCode;
  const error = s >= 200 && s < 300 ? null : s >= 300 && s < 400 ? 'redirect' : 'http_status';
  return { statusCode: s, error, excerpt: storable(result.excerpt), durationMs: Math.round(result.durationMs) };
}

/** Any 2xx delivers; 410 gives up and disables; anything else retries while the schedule lasts. */
export function classify(result: SendResult, attempt: number, schedule: number[], random?: () => number): Verdict {
  const record = recordOf(result);
  if (result.kind === 'response' && record.error === null) return { kind: 'delivered', record };
  if (result.kind === 'response' && result.statusCode === 410) return { kind: 'give_up', record, gone: true };
  const delayMs = nextRetryDelay({
    attempt,
    schedule,
    statusCode: result.statusCode,
    retryAfterMs: result.kind === 'response' ? result.retryAfterMs : undefined,
    random,
  });
  return delayMs === null ? { kind: 'give_up', record, gone: false } : { kind: 'retry', record, delayMs };
}
