import { parseArgs } from 'node:util';
import { SETTING_FLAGS } from '../config/load.ts';

/**
 * `mailerlogic-webhooks <command> [sub-command] [--flag value]`. Every setting of
 * config/schema.ts is also a flag (PORT → --port); command options join them.
 */
export function parseCli(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      ...Object.fromEntries(SETTING_FLAGS.map((f) => [f, { type: 'string' as const }])),
      'no-worker': { type: 'boolean' },
      name: { type: 'string' },
      plan: { type: 'string' },
      'webhook-limit': { type: 'string' },
      customer: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  return { positionals, values: values as Record<string, string | boolean | undefined> };
}

export const USAGE = `Usage: mailerlogic-webhooks <command> [options]

Service:
  serve [--no-worker]          API (and, unless --no-worker, the delivery worker); the default
  worker                       delivery worker only (PostgreSQL: run as many as you like)
  migrate                      apply database migrations and exit
  rotate-secrets-key           re-encrypt every webhook secret under the current SECRETS_KEY

Operators (print JSON):
  customers create --name N --plan starter|professional|business|custom [--webhook-limit N]
  customers get <customerId>
  customers update <customerId> [--name N] [--plan P] [--webhook-limit N]
  domains create <customerId> --name mail.example.com
  domains list <customerId>
  api-keys create <customerId>
  api-keys list <customerId>
  api-keys revoke <customerId> <keyId>

Every setting is an environment variable or the matching flag: PORT or --port, DATA_DIR or
--data-dir, DATABASE_URL or --database-url, … (see Configuration in README.md).`;
