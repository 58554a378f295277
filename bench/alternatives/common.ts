/**
 * What every "built instead" alternative shares, so that only the queue differs from one to
 * the next: the ingest API (fastify, like the service: bearer token, {"events": [...]} up to
 * 1,000, 202 once the jobs are written), the delivery body (the service's documented shape),
 * Standard Webhooks signing with node:crypto, and one undici POST per attempt.
 *
 * A child process reads its configuration from BENCH_ALT_CONFIG (JSON, see AltConfig), says
 * { ready: true, port? } over IPC when it can work, stops on SIGTERM and exits when the
 * parent goes away.
 */
import { createHmac } from 'node:crypto';
import Fastify from 'fastify';
import { Agent, request } from 'undici';

export type AltConfig = {
  ingestToken: string;
  queue: string;
  /** customer id → the ids of its webhooks (fan-out happens at ingest: one job per event × webhook). */
  customers: Record<string, string[]>;
  /** webhook id → where and with what it is signed. */
  webhooks: Record<string, { url: string; secret: string }>;
  redis?: { host: string; port: number; prefix: string };
  pg?: { url: string; schema: string };
  tuning: Record<string, number>;
};

export function readConfig(): AltConfig {
  const raw = process.env.BENCH_ALT_CONFIG;
  if (!raw) throw new Error('BENCH_ALT_CONFIG is not set');
  return JSON.parse(raw) as AltConfig;
}

export const USER_AGENT = 'bench-alternative/1.0';
const EVENT_TYPES = new Set(['email.sent', 'email.delivered', 'email.delivery_delayed', 'email.bounced', 'email.complained', 'email.opened', 'email.clicked', 'email.unsubscribed']);

/** A delivery to make: which webhook, the event type and the exact body to sign and send. */
export type Delivery = { w: string; e: string; b: string };

type IngestEvent = { customer_id?: unknown; event?: unknown; email_id?: unknown; timestamp?: unknown; domain_id?: unknown; data?: unknown; tag?: unknown; metadata?: unknown };

/** Body in the service's documented field order. */
function bodyOf(e: IngestEvent, now: string): string {
  const body: Record<string, unknown> = { event: e.event, timestamp: typeof e.timestamp === 'string' ? e.timestamp : now };
  if (e.event !== 'email.unsubscribed') body.email_id = e.email_id;
  if (e.tag !== undefined) body.tag = e.tag;
  if (e.metadata !== undefined) body.metadata = e.metadata;
  body.domain_id = typeof e.domain_id === 'string' ? e.domain_id : null;
  body.data = e.data ?? {};
  return JSON.stringify(body);
}

/**
 * POST /internal/v1/events → fan-out → `enqueue(deliveries)` → 202. A bad event refuses the
 * batch (422) as the service does; it is a minimal check, not the service's full validation.
 */
export async function serveIngest(cfg: AltConfig, enqueue: (ds: Delivery[]) => Promise<void>): Promise<{ port: number; close: () => Promise<void> }> {
  const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 });
  const expected = `Bearer ${cfg.ingestToken}`;
  app.post('/internal/v1/events', async (req, reply) => {
    if (req.headers.authorization !== expected) return reply.status(401).send({ error: { code: 'unauthorized' } });
    const payload = req.body as { events?: unknown } | null;
    const list = payload && typeof payload === 'object' && Array.isArray(payload.events) ? (payload.events as IngestEvent[]) : [payload as IngestEvent];
    if (list.length === 0 || list.length > 1000) return reply.status(422).send({ error: { code: 'validation_failed', message: '1 to 1,000 events' } });
    const now = new Date().toISOString();
    const deliveries: Delivery[] = [];
    const errors: { index: number; message: string }[] = [];
    list.forEach((e, index) => {
      const hooks = typeof e?.customer_id === 'string' ? cfg.customers[e.customer_id] : undefined;
      if (!hooks) return errors.push({ index, message: 'unknown customer' });
      if (typeof e.event !== 'string' || !EVENT_TYPES.has(e.event)) return errors.push({ index, message: 'unknown event type' });
      const b = bodyOf(e, now);
      for (const w of hooks) deliveries.push({ w, e: e.event, b });
    });
    if (errors.length) return reply.status(422).send({ error: { code: 'validation_failed', details: errors } });
    await enqueue(deliveries);
    return reply.status(202).send({ accepted: list.length, deliveries: deliveries.length });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { port, close: () => app.close() };
}

const keys = new Map<string, Buffer>();
/** Standard Webhooks v1: base64 HMAC-SHA256 over "{id}.{timestamp}.{body}" keyed by the decoded secret. */
export function signatureHeaders(secret: string, msgId: string, body: string, nowMs: number): Record<string, string> {
  let key = keys.get(secret);
  if (!key) keys.set(secret, (key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')));
  const ts = String(Math.floor(nowMs / 1000));
  const sig = createHmac('sha256', key).update(`${msgId}.${ts}.${body}`).digest('base64');
  return { 'webhook-id': msgId, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` };
}

const http = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 15_000, bodyTimeout: 15_000 });

export type Outcome = { status: number | null; error?: string; ms: number };

/** One signed attempt; never throws (a network error is an outcome). */
export async function deliver(cfg: AltConfig, d: Delivery, msgId: string): Promise<Outcome> {
  const hook = cfg.webhooks[d.w];
  const started = Date.now();
  if (!hook) return { status: null, error: 'unknown_webhook', ms: 0 };
  try {
    const res = await request(hook.url, {
      method: 'POST',
      dispatcher: http,
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...signatureHeaders(hook.secret, msgId, d.b, started) },
      body: d.b,
      signal: AbortSignal.timeout(15_000),
    });
    await res.body.dump({ limit: 1024 });
    return { status: res.statusCode, ms: Date.now() - started };
  } catch (err) {
    return { status: null, error: (err as { code?: string }).code ?? 'network_error', ms: Date.now() - started };
  }
}

export const ok = (o: Outcome) => o.status !== null && o.status >= 200 && o.status < 300;

/** Tells the parent it is ready; stops on SIGTERM (via `close`) or when the parent goes away. */
export function lifecycle(close: () => Promise<void>, ready: Record<string, unknown>) {
  let closing = false;
  const shut = async () => {
    if (closing) return;
    closing = true;
    const force = setTimeout(() => process.exit(0), 5000);
    force.unref();
    await close().catch((err) => console.error(err));
    process.exit(0);
  };
  process.on('SIGTERM', () => void shut());
  process.on('SIGINT', () => void shut());
  process.on('disconnect', () => void shut());
  process.send?.({ ready: true, ...ready });
}
