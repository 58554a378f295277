import { AppError, notFound, validationFailed } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { PLAN_LIMITS, type Plan } from '../domain/plans.ts';
import { generateApiKey, hashApiKey } from '../signing/secret-box.ts';
import type { Db } from '../store/database.ts';
import type { CustomerRow, DomainRow } from '../store/tables.ts';

export type Customer = { id: string; name: string; plan: Plan; webhook_limit: number; created_at: string; updated_at: string };
export type Domain = { id: string; name: string; created_at: string };

const toCustomer = (r: CustomerRow): Customer => ({
  id: r.id,
  name: r.name,
  plan: r.plan as Plan,
  webhook_limit: r.webhook_limit,
  created_at: new Date(r.created_at).toISOString(),
  updated_at: new Date(r.updated_at).toISOString(),
});
const toDomain = (r: DomainRow): Domain => ({ id: r.id, name: r.name, created_at: new Date(r.created_at).toISOString() });

/** The limit a plan gives; `custom` takes the one the operator names and nothing else does. */
function limitFor(plan: Plan, webhookLimit: number | undefined): number {
  if (plan === 'custom') {
    if (webhookLimit === undefined) throw validationFailed('webhook_limit is required for the custom plan', { field: 'webhook_limit' });
    return webhookLimit;
  }
  if (webhookLimit !== undefined && webhookLimit !== PLAN_LIMITS[plan]) {
    throw validationFailed(`webhook_limit can only be chosen on the custom plan (${plan} allows ${PLAN_LIMITS[plan]})`, { field: 'webhook_limit' });
  }
  return PLAN_LIMITS[plan];
}

export async function createCustomer(db: Db, input: { name: string; plan: Plan; webhook_limit?: number }): Promise<Customer> {
  const now = Date.now();
  const row: CustomerRow = {
    id: newId(),
    name: input.name,
    plan: input.plan,
    webhook_limit: limitFor(input.plan, input.webhook_limit),
    created_at: now,
    updated_at: now,
  };
  await db.insertInto('customers').values(row).execute();
  return toCustomer(row);
}

async function findCustomer(db: Db, id: string): Promise<CustomerRow> {
  const row = await db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('customer');
  return row;
}

export async function getCustomer(db: Db, id: string): Promise<Customer> {
  return toCustomer(await findCustomer(db, id));
}

export async function updateCustomer(
  db: Db,
  id: string,
  input: { name?: string; plan?: Plan; webhook_limit?: number },
): Promise<Customer> {
  const current = await findCustomer(db, id);
  const plan = input.plan ?? (current.plan as Plan);
  // Moving to custom without a limit keeps the one the customer has today.
  const requested = input.webhook_limit ?? (plan === 'custom' && input.plan ? current.webhook_limit : undefined);
  const webhookLimit = plan === 'custom' ? (requested ?? current.webhook_limit) : limitFor(plan, requested);
  const updated = { name: input.name ?? current.name, plan, webhook_limit: webhookLimit, updated_at: Date.now() };
  await db.updateTable('customers').set(updated).where('id', '=', id).execute();
  return toCustomer({ ...current, ...updated });
}

export async function createDomain(db: Db, customerId: string, name: string): Promise<Domain> {
  await findCustomer(db, customerId);
  const row: DomainRow = { id: newId(), customer_id: customerId, name: name.toLowerCase(), created_at: Date.now() };
  const inserted = await db
    .insertInto('domains')
    .values(row)
    .onConflict((oc) => oc.columns(['customer_id', 'name']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) throw new AppError('conflict', `domain ${row.name} already exists for this customer`);
  return toDomain(row);
}

export async function listDomains(db: Db, customerId: string): Promise<Domain[]> {
  await findCustomer(db, customerId);
  const rows = await db.selectFrom('domains').selectAll().where('customer_id', '=', customerId).orderBy('id').execute();
  return rows.map(toDomain);
}

export async function createApiKey(db: Db, customerId: string): Promise<{ id: string; key: string; prefix: string; created_at: string }> {
  await findCustomer(db, customerId);
  const { key, prefix } = generateApiKey();
  const now = Date.now();
  const id = newId();
  await db
    .insertInto('api_keys')
    .values({ id, customer_id: customerId, prefix, key_hash: hashApiKey(key), created_at: now, revoked_at: null })
    .execute();
  return { id, key, prefix, created_at: new Date(now).toISOString() };
}

export async function listApiKeys(db: Db, customerId: string) {
  await findCustomer(db, customerId);
  const rows = await db.selectFrom('api_keys').selectAll().where('customer_id', '=', customerId).orderBy('id').execute();
  return rows.map((r) => ({
    id: r.id,
    prefix: r.prefix,
    created_at: new Date(r.created_at).toISOString(),
    revoked_at: r.revoked_at === null ? null : new Date(r.revoked_at).toISOString(),
  }));
}

export async function revokeApiKey(db: Db, customerId: string, keyId: string): Promise<void> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: Date.now() })
    .where('id', '=', keyId)
    .where('customer_id', '=', customerId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) {
    const exists = await db.selectFrom('api_keys').select('id').where('id', '=', keyId).where('customer_id', '=', customerId).executeTakeFirst();
    if (!exists) throw notFound('api key');
  }
}

/**
 * The customer an API key belongs to, or null. The lookup is by the key's SHA-256 through a
 * unique index: equality on a hash of a 256-bit random key leaks nothing useful by timing.
 */
export async function customerForApiKey(db: Db, key: string): Promise<{ customerId: string; keyId: string } | null> {
  const row = await db
    .selectFrom('api_keys')
    .select(['id', 'customer_id'])
    .where('key_hash', '=', hashApiKey(key))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row ? { customerId: row.customer_id, keyId: row.id } : null;
}
