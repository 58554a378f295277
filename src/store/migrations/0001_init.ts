/**
 * The first schema. Times are unix milliseconds in a 64-bit integer on both stores, so
 * rows compare and sort the same way everywhere; JSON columns are text.
 *
 * deliveries is the queue: a row is due when status = 'pending' and next_attempt_at has
 * passed. A worker claims a row by pushing next_attempt_at to the end of its lease and
 * setting locked_by; if the worker dies, the lease simply runs out and the row is due again.
 */
const tables = (t: { bigint: string; text: string }) => `
CREATE TABLE customers (
  id ${t.text} PRIMARY KEY,
  name ${t.text} NOT NULL,
  plan ${t.text} NOT NULL,
  webhook_limit INTEGER NOT NULL,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);
CREATE TABLE domains (
  id ${t.text} PRIMARY KEY,
  customer_id ${t.text} NOT NULL REFERENCES customers(id),
  name ${t.text} NOT NULL,
  created_at ${t.bigint} NOT NULL,
  UNIQUE (customer_id, name)
);
CREATE TABLE api_keys (
  id ${t.text} PRIMARY KEY,
  customer_id ${t.text} NOT NULL REFERENCES customers(id),
  prefix ${t.text} NOT NULL,
  key_hash ${t.text} NOT NULL UNIQUE,
  created_at ${t.bigint} NOT NULL,
  revoked_at ${t.bigint}
);
CREATE INDEX api_keys_customer ON api_keys (customer_id);
CREATE TABLE webhooks (
  id ${t.text} PRIMARY KEY,
  customer_id ${t.text} NOT NULL REFERENCES customers(id),
  url ${t.text} NOT NULL,
  name ${t.text},
  events ${t.text} NOT NULL,
  domain_ids ${t.text},
  is_active INTEGER NOT NULL,
  secret_enc ${t.text} NOT NULL,
  disabled_reason ${t.text},
  failing_since ${t.bigint},
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);
CREATE INDEX webhooks_customer ON webhooks (customer_id);
CREATE TABLE events (
  id ${t.text} PRIMARY KEY,
  customer_id ${t.text} NOT NULL,
  domain_id ${t.text},
  external_id ${t.text},
  event_type ${t.text} NOT NULL,
  payload ${t.text} NOT NULL,
  created_at ${t.bigint} NOT NULL,
  UNIQUE (customer_id, external_id)
);
CREATE TABLE deliveries (
  id ${t.text} PRIMARY KEY,
  event_id ${t.text} NOT NULL,
  webhook_id ${t.text} NOT NULL,
  customer_id ${t.text} NOT NULL,
  event_type ${t.text} NOT NULL,
  status ${t.text} NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at ${t.bigint} NOT NULL,
  locked_by ${t.text},
  last_status_code INTEGER,
  last_error ${t.text},
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
CREATE TABLE attempts (
  delivery_id ${t.text} NOT NULL,
  attempt INTEGER NOT NULL,
  started_at ${t.bigint} NOT NULL,
  duration_ms INTEGER NOT NULL,
  status_code INTEGER,
  error ${t.text},
  response_excerpt ${t.text},
  PRIMARY KEY (delivery_id, attempt)
);
`;

export const init = {
  id: '0001_init',
  sqlite: tables({ bigint: 'INTEGER', text: 'TEXT' }),
  postgres: tables({ bigint: 'BIGINT', text: 'TEXT' }),
};
