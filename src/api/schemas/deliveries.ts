import { Type } from '@sinclair/typebox';
import { Nullable, Timestamp, Uuid } from './common.ts';

const Status = Type.Union(['pending', 'succeeded', 'failed', 'cancelled'].map((s) => Type.Literal(s)));

export const Attempt = Type.Object({
  attempt: Type.Integer({ description: '1 on the first try, 2 on the next, …' }),
  started_at: Timestamp,
  duration_ms: Type.Integer(),
  status_code: Nullable(Type.Integer()),
  error: Nullable(
    Type.String({
      description:
        'timeout, connection_refused, connection_reset, dns_error, tls_error, blocked_destination, redirect, http_status, response_too_large, network_error',
    }),
  ),
  response_excerpt: Nullable(Type.String({ description: 'First 1 KiB of the response body, or the error message.' })),
});

export const Delivery = Type.Object(
  {
    id: Uuid,
    event_id: Uuid,
    event: Type.String(),
    status: Status,
    attempt_count: Type.Integer(),
    next_attempt_at: Nullable(Timestamp),
    created_at: Timestamp,
    updated_at: Timestamp,
    attempts: Type.Array(Attempt),
  },
  { $id: 'Delivery', title: 'Delivery', description: 'One event sent to one webhook; id is its webhook-id header.' },
);

export const DeliveryList = Type.Object({ data: Type.Array(Type.Ref(Delivery)), next_cursor: Nullable(Type.String()) });

export const DeliveryQuery = Type.Object(
  {
    status: Type.Optional(Status),
    limit: Type.Optional(Type.String({ description: 'Page size, 1 to 200; default 50' })),
    cursor: Type.Optional(Type.String({ description: 'next_cursor of the previous page' })),
  },
  { additionalProperties: false },
);

export const DeliveryParams = Type.Object({ webhookId: Type.String(), deliveryId: Type.String() });

export const TestResult = Type.Object({
  id: Type.String({ description: 'The webhook-id the test was sent with.' }),
  delivered: Type.Boolean(),
  status_code: Nullable(Type.Integer()),
  duration_ms: Type.Integer(),
  error: Nullable(Type.String()),
  response_excerpt: Nullable(Type.String()),
});

export const RetryResult = Type.Object({ id: Uuid, status: Type.Literal('pending'), next_attempt_at: Nullable(Timestamp) });
