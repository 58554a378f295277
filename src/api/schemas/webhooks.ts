import { Type } from '@sinclair/typebox';
import { EVENT_TYPES } from '../../domain/event-types.ts';
import { Nullable, Timestamp, Uuid } from './common.ts';

export const EventTypeName = Type.Union(EVENT_TYPES.map((e) => Type.Literal(e)));

const Url = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'Absolute https:// URL, no credentials, at most 2,048 characters, not pointing to a private network.',
});
const Events = Type.Array(EventTypeName, { minItems: 1, maxItems: 64, description: 'Event types to receive; duplicates are folded.' });
const DomainIds = Nullable(
  Type.Array(Type.String(), {
    maxItems: 1000,
    description: 'null or [] for every domain (customer-level); [uuid] for one domain; several for a domain group.',
  }),
);
const Name = Nullable(Type.String({ maxLength: 255 }));

export const Webhook = Type.Object(
  {
    id: Uuid,
    url: Type.String(),
    name: Nullable(Type.String()),
    events: Type.Array(EventTypeName),
    domain_ids: Nullable(Type.Array(Uuid)),
    scope: Type.Union([Type.Literal('customer'), Type.Literal('domain'), Type.Literal('domain_group')]),
    is_active: Type.Boolean(),
    disabled_reason: Nullable(Type.String({ description: 'Why the service disabled this webhook, if it did.' })),
    failing_since: Nullable(Timestamp),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Webhook', title: 'Webhook' },
);

export const WebhookWithSecret = Type.Composite([
  Type.Omit(Webhook, []),
  Type.Object({ secret: Type.String({ description: 'whsec_… signing secret; shown only here.' }) }),
]);

export const WebhookList = Type.Object({
  data: Type.Array(Type.Ref(Webhook)),
  limit: Type.Integer({ description: 'Webhook endpoints the plan allows.' }),
  count: Type.Integer({ description: 'Webhook endpoints the customer has, active or not.' }),
});

export const CreateWebhook = Type.Object(
  {
    url: Url,
    events: Events,
    name: Type.Optional(Name),
    domain_ids: Type.Optional(DomainIds),
    is_active: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);

export const UpdateWebhook = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    name: Type.Optional(Name),
    domain_ids: Type.Optional(DomainIds),
    is_active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const WebhookParams = Type.Object({ webhookId: Type.String() });
