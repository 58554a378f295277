import { AppError, notFound, validationFailed } from '../domain/errors.ts';
import type { EventType } from '../domain/event-types.ts';
import { isUuid, newId } from '../domain/ids.ts';
import { generateSecret } from '../signing/index.ts';
import { validateWebhookUrl } from '../ssrf/validate-url.ts';
import type { Db } from '../store/database.ts';
import type { WebhookRow } from '../store/tables.ts';
import type { ServiceContext } from './context.ts';

export type Scope = 'customer' | 'domain' | 'domain_group';

export type Webhook = {
  id: string;
  url: string;
  name: string | null;
  events: EventType[];
  domain_ids: string[] | null;
  scope: Scope;
  is_active: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
  created_at: string;
  updated_at: string;
};

export type WebhookInput = {
  url?: string;
  events?: EventType[];
  name?: string | null;
  domain_ids?: string[] | null;
  is_active?: boolean;
};

export const scopeOf = (domainIds: string[] | null): Scope =>
  !domainIds || domainIds.length === 0 ? 'customer' : domainIds.length === 1 ? 'domain' : 'domain_group';

export function toWebhook(r: WebhookRow): Webhook {
  const domainIds: string[] | null = r.domain_ids ? JSON.parse(r.domain_ids) : null;
  return {
    id: r.id,
    url: r.url,
    name: r.name,
    events: JSON.parse(r.events),
    domain_ids: domainIds,
    scope: scopeOf(domainIds),
    is_active: r.is_active === 1,
    disabled_reason: r.disabled_reason,
    failing_since: r.failing_since === null ? null : new Date(r.failing_since).toISOString(),
    created_at: new Date(r.created_at).toISOString(),
    updated_at: new Date(r.updated_at).toISOString(),
  };
}

function checkUrl(ctx: ServiceContext, url: string): string {
  const verdict = validateWebhookUrl(url, { allowPrivateNetworks: ctx.allowPrivateNetworks });
  if (!verdict.ok) throw validationFailed(verdict.reason, { field: 'url' });
  return verdict.url;
}

/** `null` and `[]` both mean customer-level; ids must be the caller's own domains. */
async function checkDomainIds(db: Db, customerId: string, ids: string[] | null | undefined): Promise<string[] | null> {
  if (!ids || ids.length === 0) return null;
  const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
  const malformed = unique.filter((id) => !isUuid(id));
  if (malformed.length) throw validationFailed(`domain_ids must be UUIDs: ${malformed.join(', ')}`, { field: 'domain_ids', invalid: malformed });
  const owned = await db.selectFrom('domains').select('id').where('customer_id', '=', customerId).where('id', 'in', unique).execute();
  const known = new Set(owned.map((d) => d.id));
  const unknown = unique.filter((id) => !known.has(id));
  if (unknown.length) throw validationFailed(`unknown domain_ids: ${unknown.join(', ')}`, { field: 'domain_ids', unknown });
  return unique;
}

export async function listWebhooks(ctx: ServiceContext, customerId: string) {
  const { db } = ctx.database;
  const [rows, customer] = await Promise.all([
    db.selectFrom('webhooks').selectAll().where('customer_id', '=', customerId).orderBy('id').execute(),
    db.selectFrom('customers').select('webhook_limit').where('id', '=', customerId).executeTakeFirstOrThrow(),
  ]);
  return { data: rows.map(toWebhook), limit: customer.webhook_limit, count: rows.length };
}

async function findWebhook(db: Db, customerId: string, id: string): Promise<WebhookRow> {
  // Another customer's webhook is answered exactly like a missing one.
  const row = isUuid(id)
    ? await db.selectFrom('webhooks').selectAll().where('id', '=', id).where('customer_id', '=', customerId).executeTakeFirst()
    : undefined;
  if (!row) throw notFound('webhook');
  return row;
}

export async function getWebhook(ctx: ServiceContext, customerId: string, id: string): Promise<Webhook> {
  return toWebhook(await findWebhook(ctx.database.db, customerId, id));
}

export async function createWebhook(ctx: ServiceContext, customerId: string, input: Required<Pick<WebhookInput, 'url' | 'events'>> & WebhookInput) {
  const url = checkUrl(ctx, input.url);
  const secret = generateSecret();
  const { db, capabilities } = ctx.database;
  // A bad body is answered as such (422) before the plan limit (403) is looked at.
  const domainIds = await checkDomainIds(db, customerId, input.domain_ids);
  const row = await db.transaction().execute(async (trx) => {
    // Lock the customer so two concurrent creates cannot both pass the limit check.
    let q = trx.selectFrom('customers').select(['webhook_limit', 'plan']).where('id', '=', customerId);
    if (capabilities.skipLocked) q = q.forUpdate();
    const customer = await q.executeTakeFirstOrThrow();
    const { count } = await trx
      .selectFrom('webhooks')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('customer_id', '=', customerId)
      .executeTakeFirstOrThrow();
    if (Number(count) >= customer.webhook_limit) {
      // limit and plan also stand beside the code (domain/errors.ts promotes them).
      throw new AppError('webhook_limit_reached', `your ${customer.plan} plan allows ${customer.webhook_limit} webhook endpoint(s)`, {
        limit: customer.webhook_limit,
        plan: customer.plan,
      });
    }
    const now = Date.now();
    const row: WebhookRow = {
      id: newId(),
      customer_id: customerId,
      url,
      name: input.name ?? null,
      events: JSON.stringify([...new Set(input.events)]),
      domain_ids: domainIds ? JSON.stringify(domainIds) : null,
      is_active: input.is_active === false ? 0 : 1,
      secret_enc: ctx.secretBox.encrypt(secret),
      disabled_reason: null,
      failing_since: null,
      created_at: now,
      updated_at: now,
    };
    await trx.insertInto('webhooks').values(row).execute();
    return row;
  });
  return { ...toWebhook(row), secret };
}

export async function updateWebhook(ctx: ServiceContext, customerId: string, id: string, input: WebhookInput): Promise<Webhook> {
  const { db } = ctx.database;
  const current = await findWebhook(db, customerId, id);
  const changes: Partial<WebhookRow> = { updated_at: Date.now() };
  if (input.url !== undefined) changes.url = checkUrl(ctx, input.url);
  if (input.events !== undefined) changes.events = JSON.stringify([...new Set(input.events)]);
  if (input.name !== undefined) changes.name = input.name;
  if (input.domain_ids !== undefined) {
    const ids = await checkDomainIds(db, customerId, input.domain_ids);
    changes.domain_ids = ids ? JSON.stringify(ids) : null;
  }
  if (input.is_active !== undefined) {
    changes.is_active = input.is_active ? 1 : 0;
    // Re-enabling forgives the past: the disable window starts again from the next failure.
    if (input.is_active) Object.assign(changes, { disabled_reason: null, failing_since: null });
  }
  await db.transaction().execute(async (trx) => {
    await trx.updateTable('webhooks').set(changes).where('id', '=', id).execute();
    if (input.is_active === false) await cancelPending(trx, id);
  });
  return toWebhook({ ...current, ...changes });
}

export async function deleteWebhook(ctx: ServiceContext, customerId: string, id: string): Promise<void> {
  const { db } = ctx.database;
  await findWebhook(db, customerId, id);
  await db.transaction().execute(async (trx) => {
    await cancelPending(trx, id);
    await trx.deleteFrom('webhooks').where('id', '=', id).execute();
  });
}

export async function regenerateSecret(ctx: ServiceContext, customerId: string, id: string) {
  const { db } = ctx.database;
  const current = await findWebhook(db, customerId, id);
  const secret = generateSecret();
  const changes = { secret_enc: ctx.secretBox.encrypt(secret), updated_at: Date.now() };
  await db.updateTable('webhooks').set(changes).where('id', '=', id).execute();
  return { ...toWebhook({ ...current, ...changes }), secret };
}

/** Pending deliveries of a webhook that is gone or switched off are never sent. */
export async function cancelPending(db: Db, webhookId: string): Promise<void> {
  await db
    .updateTable('deliveries')
    .set({ status: 'cancelled', locked_by: null, updated_at: Date.now() })
    .where('webhook_id', '=', webhookId)
    .where('status', '=', 'pending')
    .execute();
}
