import { Type, type TSchema } from '@sinclair/typebox';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, see docs/errors.md' }),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
      limit: Type.Optional(Type.Integer({ description: 'webhook_limit_reached: webhook endpoints the plan allows' })),
      plan: Type.Optional(Type.String({ description: "webhook_limit_reached: the customer's plan" })),
    }),
  },
  { $id: 'Error', title: 'Error' },
);

/** The error answers a route may give, for its OpenAPI entry. */
export const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, Type.Ref(ErrorBody)])) as Record<number, TSchema>;

export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
