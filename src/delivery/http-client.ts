/**
 * Outbound HTTP client for webhook attempts: one POST, one classified result, never a throw.
 *
 * - One undici Agent keeps pooled keep-alive connections per origin; delivery is a hot path
 *   (thousands of requests/s), so per-request work is kept to a URL parse, one AbortController
 *   and one timer.
 * - Redirects are never followed (undici 7 only follows them via the redirect interceptor, which
 *   we don't install): a 3xx is returned as a response and the caller classifies it. Following
 *   one would let a receiver bounce us to a destination the SSRF guard never saw on the form.
 * - timeoutMs is a TOTAL deadline (connect + headers + body). undici's headersTimeout/bodyTimeout
 *   are per phase and reset on every byte, so a drip-feeding server would evade them; the
 *   AbortSignal timer (raced against the request, see send()) cannot be evaded.
 * - The body is read only up to maxReadBytes; past that the stream is destroyed (closing that
 *   socket) and the result is still kind 'response' with `truncated: true`. The receiver's status
 *   line is its answer: a 2xx with a huge body was delivered, and turning it into an error would
 *   make us re-send an event the receiver already processed. 'response_too_large' is reserved for
 *   responses whose *headers* exceed undici's limit (there is no usable status line then).
 * - Failures are classified by error `code` (walking `cause` chains), never by message text.
 *   Messages carry at most scheme+host+port: paths and queries often hold receiver secrets.
 */
import { Agent, type Dispatcher, type buildConnector } from 'undici';

export type AttemptErrorCode =
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns_error'
  | 'tls_error'
  | 'blocked_destination'
  | 'response_too_large'
  | 'network_error';

export interface SendResponse {
  kind: 'response';
  statusCode: number;
  durationMs: number;
  /** First excerptBytes of the body as UTF-8, never ending in a split character. */
  excerpt: string;
  /** From Retry-After (delta-seconds or HTTP-date), on any status; the retry policy decides. */
  retryAfterMs?: number;
  /** Set when the body exceeded maxReadBytes and reading stopped early. */
  truncated?: true;
}

export interface SendError {
  kind: 'error';
  error: AttemptErrorCode;
  message: string;
  durationMs: number;
  /** Present when the status line arrived before the failure (e.g. the body died mid-way). */
  statusCode?: number;
}

export type SendResult = SendResponse | SendError;

export interface WebhookHttpClientOptions {
  /** Custom connector (e.g. the SSRF-guarded one), passed to the Agent as `connect`. */
  connector?: buildConnector.connector;
  /** Total deadline for connect + headers + body. Default 15000. */
  timeoutMs?: number;
  /** Stop reading the response body past this many bytes. Default 64 KiB. */
  maxReadBytes?: number;
  /** Bytes of the body kept as the excerpt. Default 1024. */
  excerptBytes?: number;
  /** Max pooled connections per origin. Default 16. */
  connectionsPerOrigin?: number;
  /** Sent as User-Agent unless the caller's headers already carry one. */
  userAgent?: string;
}

/** Code of the error the SSRF-guarded connector fails with (mirrors src/ssrf/guarded-lookup.ts). */
const BLOCKED_DESTINATION_CODE = 'ERR_BLOCKED_DESTINATION';

// Shared abort reason: the deadline check uses signal.aborted, so no per-abort allocation.
const DEADLINE_EXCEEDED = Object.assign(new Error('delivery deadline exceeded'), { code: 'ERR_DELIVERY_DEADLINE' });

const CODE_TO_ERROR: ReadonlyMap<string, AttemptErrorCode> = new Map<string, AttemptErrorCode>([
  ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
  ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
  ['UND_ERR_BODY_TIMEOUT', 'timeout'],
  ['ETIMEDOUT', 'timeout'],
  ['ECONNREFUSED', 'connection_refused'],
  ['ECONNRESET', 'connection_reset'],
  ['EPIPE', 'connection_reset'],
  ['ECONNABORTED', 'connection_reset'],
  ['UND_ERR_SOCKET', 'connection_reset'],
  // The server promised more body than it sent before closing: the connection died mid-response.
  ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'connection_reset'],
  ['ENOTFOUND', 'dns_error'],
  ['EAI_AGAIN', 'dns_error'],
  ['EAI_NODATA', 'dns_error'],
  ['EAI_NONAME', 'dns_error'],
  ...[
    'EPROTO', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_REVOKED',
    'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  ].map((code): [string, AttemptErrorCode] => [code, 'tls_error']),
  ['UND_ERR_HEADERS_OVERFLOW', 'response_too_large'],
  ['UND_ERR_RES_EXCEEDED_MAX_SIZE', 'response_too_large'],
  [BLOCKED_DESTINATION_CODE, 'blocked_destination'],
]);

type CodedError = { code?: unknown; cause?: unknown; errors?: unknown; message?: unknown };

function mapCode(code: unknown): AttemptErrorCode | undefined {
  if (typeof code !== 'string') return undefined;
  const mapped = CODE_TO_ERROR.get(code);
  if (mapped) return mapped;
  // Node's TLS layer (ERR_TLS_CERT_ALTNAME_INVALID, ...) and OpenSSL (ERR_SSL_WRONG_VERSION_NUMBER, ...).
  if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_')) return 'tls_error';
  return undefined;
}

/**
 * Walks the error, its `cause` chain and AggregateError members (Happy Eyeballs connect
 * failures). A blocked destination wins wherever it appears, since a wrapper's code (e.g. a
 * generic socket error) would hide the reason that matters most to the endpoint owner.
 */
export function classifyError(err: unknown): AttemptErrorCode {
  let first: AttemptErrorCode | undefined;
  const queue: unknown[] = [err];
  for (let i = 0; i < queue.length && i < 16; i++) {
    const e = queue[i] as CodedError | null;
    if (e === null || typeof e !== 'object') continue;
    const mapped = mapCode(e.code);
    if (mapped === 'blocked_destination') return mapped;
    if (mapped && !first) first = mapped;
    if (e.cause !== undefined) queue.push(e.cause);
    if (Array.isArray(e.errors)) queue.push(...e.errors);
  }
  return first ?? 'network_error';
}

/** Retry-After as delta-seconds or an HTTP-date; undefined when unparseable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // All three HTTP-date forms start with a day name; Date.parse alone would read '-5' as a year.
  if (!/^[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * First `n` bytes of `buf` as UTF-8. If the cut lands inside a multi-byte character, back up to
 * its lead byte (at most 3 bytes) rather than emit a U+FFFD for half a character.
 */
export function utf8Excerpt(buf: Buffer, n: number): string {
  if (buf.length <= n) return buf.toString('utf8');
  let end = n;
  // buf[end] is the first excluded byte; a continuation byte (10xxxxxx) means a straddled char.
  while (end > 0 && n - end < 3 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.toString('utf8', 0, end);
}

function onDeadline(controller: AbortController, resolve: (v: null) => void): void {
  controller.abort(DEADLINE_EXCEEDED);
  resolve(null);
}

function safeMessage(err: unknown, target: URL): string {
  let msg = err instanceof Error ? err.message : String(err);
  // Defence in depth: no error we know of echoes the path, but a secret-bearing URL must not leak.
  if (msg.includes(target.href)) msg = msg.split(target.href).join(target.origin);
  const path = target.pathname + target.search;
  if (path.length > 1 && msg.includes(path)) msg = msg.split(path).join('/…');
  if (target.pathname.length > 1 && msg.includes(target.pathname)) msg = msg.split(target.pathname).join('/…');
  const code = (err as CodedError | null)?.code;
  const prefix = typeof code === 'string' ? `${code}: ` : '';
  return (prefix + msg).slice(0, 500);
}

export class WebhookHttpClient {
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly maxReadBytes: number;
  private readonly excerptBytes: number;
  private readonly userAgent: string | undefined;

  constructor(opts: WebhookHttpClientOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.maxReadBytes = opts.maxReadBytes ?? 64 * 1024;
    this.excerptBytes = opts.excerptBytes ?? 1024;
    this.userAgent = opts.userAgent;
    this.agent = new Agent({
      connections: opts.connectionsPerOrigin ?? 16,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      // A custom connector owns its own connect timeout; the total deadline still bounds it.
      connect: opts.connector ?? { timeout: this.timeoutMs },
    });
  }

  async send(url: string, headers: Record<string, string>, body: string): Promise<SendResult> {
    const start = performance.now();
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return { kind: 'error', error: 'network_error', message: 'invalid URL', durationMs: 0 };
    }
    if (target.protocol !== 'https:' && target.protocol !== 'http:') {
      return { kind: 'error', error: 'network_error', message: `unsupported scheme ${target.protocol}`, durationMs: 0 };
    }

    const reqHeaders =
      this.userAgent !== undefined && headers['user-agent'] === undefined && headers['User-Agent'] === undefined
        ? { ...headers, 'user-agent': this.userAgent }
        : headers;

    const controller = new AbortController();
    let timer!: NodeJS.Timeout;
    // undici only honours the signal once the request is on a socket: while it waits for a
    // connection (a connector that never calls back, or one undici keeps retrying) an abort is
    // ignored. Racing the deadline keeps the total bound unconditional; the abandoned request's
    // rejection is absorbed by Promise.race's subscription.
    const deadline = new Promise<null>((resolve) => {
      timer = setTimeout(onDeadline, this.timeoutMs, controller, resolve);
    });
    let statusCode: number | undefined;
    try {
      const pending = this.agent.request({
        origin: target.origin,
        path: target.pathname + target.search,
        method: 'POST',
        headers: reqHeaders,
        body,
        signal: controller.signal,
      });
      const res = await Promise.race([pending, deadline]);
      if (res === null) throw DEADLINE_EXCEEDED;
      statusCode = res.statusCode;
      const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
      const { excerpt, truncated } = await this.readBody(res.body);
      const result: SendResponse = { kind: 'response', statusCode, durationMs: elapsed(start), excerpt };
      if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
      if (truncated) result.truncated = true;
      return result;
    } catch (err) {
      const durationMs = elapsed(start);
      const result: SendError = controller.signal.aborted
        ? { kind: 'error', error: 'timeout', message: `no complete response within ${this.timeoutMs} ms from ${target.origin}`, durationMs }
        : { kind: 'error', error: classifyError(err), message: `${safeMessage(err, target)} (${target.origin})`, durationMs };
      if (statusCode !== undefined) result.statusCode = statusCode;
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reads up to maxReadBytes, keeping only the chunks that cover the excerpt (+1 byte, to see
   * whether the cut splits a character). Draining a normal-sized body lets the keep-alive socket
   * be reused; destroying an oversized one closes it, which is the point.
   */
  private async readBody(body: Dispatcher.ResponseData['body']): Promise<{ excerpt: string; truncated: boolean }> {
    const chunks: Buffer[] = [];
    let kept = 0;
    let total = 0;
    let truncated = false;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (kept <= this.excerptBytes) {
        chunks.push(chunk);
        kept += chunk.length;
      }
      if (total > this.maxReadBytes) {
        truncated = true;
        body.destroy();
        break;
      }
    }
    if (kept === 0) return { excerpt: '', truncated };
    const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, kept);
    return { excerpt: utf8Excerpt(buf, this.excerptBytes), truncated };
  }

  /**
   * Graceful: waits for in-flight requests, which the deadline bounds. A request still queued
   * after one more deadline can only be waiting on a stuck connector, so the Agent is destroyed.
   */
  async close(): Promise<void> {
    let timer!: NodeJS.Timeout;
    const gaveUp = await Promise.race([
      this.agent.close().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(resolve, this.timeoutMs, true);
      }),
    ]);
    clearTimeout(timer);
    if (gaveUp) await this.agent.destroy();
  }
}

function elapsed(start: number): number {
  return Math.round(performance.now() - start);
}
