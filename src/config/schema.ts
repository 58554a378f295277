/**
 * Every setting of the service, once: its environment variable, the matching CLI flag
 * (kebab-case of the name, `--port`), its default and what it does. `load.ts` validates
 * against this table at start; `docs/config.md` mirrors it.
 */
export type Setting = {
  env: string;
  kind: 'string' | 'int' | 'bool' | 'duration' | 'list';
  default?: string;
  secret?: boolean;
  description: string;
};

export const SETTINGS = {
  port: { env: 'PORT', kind: 'int', default: '8080', description: 'TCP port of the HTTP APIs.' },
  host: { env: 'HOST', kind: 'string', default: '0.0.0.0', description: 'Address the HTTP APIs listen on.' },
  dataDir: { env: 'DATA_DIR', kind: 'string', default: './data', description: 'Folder of the SQLite database and of development secrets.' },
  databaseUrl: { env: 'DATABASE_URL', kind: 'string', secret: true, description: 'postgres://… to use PostgreSQL instead of the embedded SQLite file.' },
  adminToken: { env: 'ADMIN_TOKEN', kind: 'string', secret: true, description: 'Bearer token of the admin API (generated into DATA_DIR in development).' },
  ingestToken: { env: 'INGEST_TOKEN', kind: 'string', secret: true, description: 'Bearer token of the ingest API (generated into DATA_DIR in development).' },
  secretsKey: { env: 'SECRETS_KEY', kind: 'string', secret: true, description: 'Key (64 hex chars or base64 of 32 bytes) that encrypts webhook secrets at rest.' },
  secretsKeyPrevious: { env: 'SECRETS_KEY_PREVIOUS', kind: 'list', secret: true, description: 'Comma-separated older SECRETS_KEY values, still accepted for decryption during a rotation.' },
  allowPrivateNetworks: { env: 'WEBHOOK_ALLOW_PRIVATE_NETWORKS', kind: 'bool', default: 'false', description: 'Permit http:// and loopback/private targets (local development and tests only).' },
  retrySchedule: { env: 'RETRY_SCHEDULE', kind: 'string', default: '5s,5m,30m,2h,5h,10h,10h', description: 'Delays between attempts after a failure.' },
  deliveryTimeout: { env: 'DELIVERY_TIMEOUT', kind: 'duration', default: '15s', description: 'Total deadline of one delivery attempt.' },
  disableAfter: { env: 'DISABLE_AFTER', kind: 'duration', default: '5d', description: 'An endpoint failing every attempt for this long is disabled.' },
  leaseDuration: { env: 'LEASE_DURATION', kind: 'duration', default: '60s', description: 'How long a worker holds a claimed delivery before another may take it up.' },
  workerConcurrency: { env: 'WORKER_CONCURRENCY', kind: 'int', default: '256', description: 'Deliveries in flight per worker process.' },
  endpointConcurrency: { env: 'ENDPOINT_CONCURRENCY', kind: 'int', default: '16', description: 'Deliveries in flight to one webhook per worker process.' },
  rateLimit: { env: 'RATE_LIMIT', kind: 'int', default: '600', description: 'Customer API requests per minute per API key.' },
  bodyLimit: { env: 'BODY_LIMIT', kind: 'int', default: '5242880', description: 'Largest accepted request body in bytes.' },
  logLevel: { env: 'LOG_LEVEL', kind: 'string', default: 'info', description: 'pino log level.' },
  nodeEnv: { env: 'NODE_ENV', kind: 'string', default: 'development', description: '`production` refuses to generate missing secrets.' },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;
