/** Row types as stored (snake_case, unix-ms times); services map them to API shapes. */

export interface CustomerRow {
  id: string;
  name: string;
  plan: string;
  webhook_limit: number;
  created_at: number;
  updated_at: number;
}

export interface DomainRow {
  id: string;
  customer_id: string;
  name: string;
  created_at: number;
}

export interface ApiKeyRow {
  id: string;
  customer_id: string;
  prefix: string;
  key_hash: string;
  created_at: number;
  revoked_at: number | null;
}

export interface WebhookRow {
  id: string;
  customer_id: string;
  url: string;
  name: string | null;
  /** JSON array of event types. */
  events: string;
  /** JSON array of domain ids, or null for customer-level. */
  domain_ids: string | null;
  /** 0 or 1: the same integer on both stores. */
  is_active: number;
  secret_enc: string;
  disabled_reason: string | null;
  failing_since: number | null;
  created_at: number;
  updated_at: number;
}

export interface EventRow {
  id: string;
  customer_id: string;
  domain_id: string | null;
  external_id: string | null;
  event_type: string;
  /** The exact JSON body every delivery of this event sends. */
  payload: string;
  created_at: number;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'cancelled';

export interface DeliveryRow {
  id: string;
  event_id: string;
  webhook_id: string;
  customer_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  locked_by: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_excerpt: string | null;
}

export interface Tables {
  customers: CustomerRow;
  domains: DomainRow;
  api_keys: ApiKeyRow;
  webhooks: WebhookRow;
  events: EventRow;
  deliveries: DeliveryRow;
  attempts: AttemptRow;
  schema_migrations: { id: string; applied_at: number };
}
