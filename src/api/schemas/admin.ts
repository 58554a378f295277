import { Type } from '@sinclair/typebox';
import { PLANS } from '../../domain/plans.ts';
import { Nullable, Timestamp, Uuid } from './common.ts';

const PlanName = Type.Union(PLANS.map((p) => Type.Literal(p)), { description: 'starter (1 webhook), professional (3), business (10) or custom' });
const WebhookLimit = Type.Integer({ minimum: 0, maximum: 100_000, description: 'Required for, and only for, the custom plan.' });
const CustomerName = Type.String({ minLength: 1, maxLength: 255 });

export const Customer = Type.Object(
  { id: Uuid, name: Type.String(), plan: PlanName, webhook_limit: Type.Integer(), created_at: Timestamp, updated_at: Timestamp },
  { $id: 'Customer', title: 'Customer' },
);

export const CreateCustomer = Type.Object(
  { name: CustomerName, plan: PlanName, webhook_limit: Type.Optional(WebhookLimit) },
  { additionalProperties: false },
);

export const UpdateCustomer = Type.Object(
  { name: Type.Optional(CustomerName), plan: Type.Optional(PlanName), webhook_limit: Type.Optional(WebhookLimit) },
  { additionalProperties: false },
);

export const Domain = Type.Object({ id: Uuid, name: Type.String(), created_at: Timestamp }, { $id: 'Domain', title: 'Domain' });

export const CreateDomain = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$',
      description: 'The sending domain, e.g. mail.example.com',
    }),
  },
  { additionalProperties: false },
);

export const ApiKeyCreated = Type.Object({
  id: Uuid,
  key: Type.String({ description: 'Shown only in this response; stored as a hash.' }),
  prefix: Type.String(),
  created_at: Timestamp,
});

export const ApiKey = Type.Object({ id: Uuid, prefix: Type.String(), created_at: Timestamp, revoked_at: Nullable(Timestamp) });

export const CustomerParams = Type.Object({ customerId: Type.String() });
export const ApiKeyParams = Type.Object({ customerId: Type.String(), keyId: Type.String() });
