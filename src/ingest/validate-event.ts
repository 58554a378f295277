import { EVENT_TYPES, isEventType } from '../domain/event-types.ts';
import { isUuid } from '../domain/ids.ts';

/** Limits at ingest, so one event can never be a memory or storage problem downstream. */
export const MAX_BATCH = 1000;
export const MAX_METADATA_BYTES = 16 * 1024;
export const MAX_DATA_BYTES = 64 * 1024;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

export type IncomingEvent = {
  id?: string;
  customer_id: string;
  domain_id?: string;
  event: string;
  timestamp?: string;
  email_id?: string;
  tag?: string;
  metadata?: Record<string, unknown>;
  data?: Record<string, unknown>;
};

export type ValidEvent = {
  externalId: string | null;
  customerId: string;
  domainId: string | null;
  type: string;
  /** The exact body every delivery of the event will send. */
  payload: string;
};

export type EventError = { index: number; id?: string; field: string; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ALLOWED = new Set(['id', 'customer_id', 'domain_id', 'event', 'timestamp', 'email_id', 'tag', 'metadata', 'data']);

/** Checks one event; returns it ready to store, or the first problem with it. */
export function validateEvent(raw: unknown, index: number, now: Date): ValidEvent | EventError {
  const fail = (field: string, message: string): EventError => ({
    index,
    ...(isObject(raw) && typeof raw.id === 'string' ? { id: raw.id } : {}),
    field,
    message,
  });
  if (!isObject(raw)) return fail('event', 'each event must be a JSON object');
  const unknown = Object.keys(raw).find((k) => !ALLOWED.has(k));
  if (unknown) return fail(unknown, `unknown field "${unknown}"`);
  const e = raw as IncomingEvent;
  if (e.id !== undefined && (typeof e.id !== 'string' || e.id.length === 0 || e.id.length > 255)) return fail('id', 'must be a string of 1 to 255 characters');
  // Stored in a text column, which cannot hold NUL on PostgreSQL.
  if (e.id !== undefined && e.id.includes('\u0000')) return fail('id', 'must not contain NUL characters');
  if (e.customer_id === undefined || e.customer_id === null) return fail('customer_id', 'is required');
  if (typeof e.customer_id !== 'string' || !isUuid(e.customer_id)) return fail('customer_id', 'must be a UUID');
  if (e.domain_id !== undefined && e.domain_id !== null && (typeof e.domain_id !== 'string' || !isUuid(e.domain_id))) return fail('domain_id', 'must be a UUID');
  if (e.event === undefined || e.event === null) return fail('event', `is required (one of ${EVENT_TYPES.join(', ')})`);
  if (typeof e.event !== 'string' || !isEventType(e.event)) return fail('event', `must be one of ${EVENT_TYPES.join(', ')}`);
  if (e.timestamp !== undefined && (typeof e.timestamp !== 'string' || !ISO_8601.test(e.timestamp) || Number.isNaN(Date.parse(e.timestamp)))) {
    return fail('timestamp', 'must be an ISO 8601 date-time with a time zone, e.g. 2026-01-18T12:34:56Z');
  }
  const unsubscribe = e.event === 'email.unsubscribed';
  if (e.email_id !== undefined && e.email_id !== null && (typeof e.email_id !== 'string' || !isUuid(e.email_id))) return fail('email_id', 'must be a UUID');
  if (!unsubscribe && !e.email_id) return fail('email_id', `is required for ${e.event}`);
  if (e.tag !== undefined && e.tag !== null && (typeof e.tag !== 'string' || e.tag.length > 255)) return fail('tag', 'must be a string of at most 255 characters');
  if (e.metadata !== undefined && e.metadata !== null && !isObject(e.metadata)) return fail('metadata', 'must be an object');
  if (e.data !== undefined && e.data !== null && !isObject(e.data)) return fail('data', 'must be an object');
  const metadata = e.metadata ? JSON.stringify(e.metadata) : undefined;
  if (metadata && Buffer.byteLength(metadata) > MAX_METADATA_BYTES) return fail('metadata', `must be at most ${MAX_METADATA_BYTES} bytes as JSON`);
  const data = e.data ? JSON.stringify(e.data) : undefined;
  if (data && Buffer.byteLength(data) > MAX_DATA_BYTES) return fail('data', `must be at most ${MAX_DATA_BYTES} bytes as JSON`);

  // Field order is the documented body order; tag and metadata only when given at send time,
  // email_id never for unsubscribes.
  const body: Record<string, unknown> = { event: e.event, timestamp: e.timestamp ?? now.toISOString() };
  if (!unsubscribe) body.email_id = e.email_id!.toLowerCase();
  if (e.tag !== undefined && e.tag !== null) body.tag = e.tag;
  if (e.metadata !== undefined && e.metadata !== null) body.metadata = e.metadata;
  body.domain_id = e.domain_id ? e.domain_id.toLowerCase() : null;
  body.data = e.data ?? {};
  return {
    externalId: e.id ?? null,
    customerId: e.customer_id.toLowerCase(),
    domainId: e.domain_id ? e.domain_id.toLowerCase() : null,
    type: e.event,
    payload: JSON.stringify(body),
  };
}
