import { AppError } from '../domain/errors.ts';
import { PLANS, type Plan } from '../domain/plans.ts';
import * as customers from '../services/customers.ts';
import type { Db } from '../store/database.ts';

const COMMANDS = ['customers', 'domains', 'api-keys'];
export const isOperatorCommand = (command: string) => COMMANDS.includes(command);

/** The admin API's operations from a shell; each prints the same JSON the API answers. */
export async function runOperatorCommand(db: Db, positionals: string[], values: Record<string, string | boolean | undefined>): Promise<unknown> {
  const [resource, action, id, second] = positionals;
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new AppError('bad_request', `${resource} ${action ?? ''} needs ${what}`);
    return value;
  };
  const plan = (): Plan | undefined => {
    const p = values.plan as string | undefined;
    if (p !== undefined && !(PLANS as readonly string[]).includes(p)) throw new AppError('validation_failed', `--plan must be one of ${PLANS.join(', ')}`);
    return p as Plan | undefined;
  };
  const limit = (): number | undefined => {
    const l = values['webhook-limit'] as string | undefined;
    if (l === undefined) return undefined;
    if (!/^\d+$/.test(l)) throw new AppError('validation_failed', '--webhook-limit must be a whole number');
    return Number(l);
  };
  const name = () => values.name as string | undefined;

  switch (`${resource} ${action}`) {
    case 'customers create':
      return customers.createCustomer(db, { name: need(name(), '--name'), plan: need(plan(), '--plan') as Plan, webhook_limit: limit() });
    case 'customers get':
      return customers.getCustomer(db, need(id, 'a customer id'));
    case 'customers update':
      return customers.updateCustomer(db, need(id, 'a customer id'), { name: name(), plan: plan(), webhook_limit: limit() });
    case 'domains create':
      return customers.createDomain(db, need(id, 'a customer id'), need(name(), '--name'));
    case 'domains list':
      return { data: await customers.listDomains(db, need(id, 'a customer id')) };
    case 'api-keys create':
      return customers.createApiKey(db, need(id, 'a customer id'));
    case 'api-keys list':
      return { data: await customers.listApiKeys(db, need(id, 'a customer id')) };
    case 'api-keys revoke':
      await customers.revokeApiKey(db, need(id, 'a customer id'), need(second, 'a key id'));
      return { revoked: second };
    default:
      throw new AppError('bad_request', `unknown command "${positionals.join(' ')}"; see --help`);
  }
}
