import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';
import { parseDuration, parseRetrySchedule } from '../delivery/retry-policy.ts';
import { parseSecretsKey } from '../signing/secret-box.ts';
import { SETTINGS, type SettingName } from './schema.ts';

export type Config = Readonly<{
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  adminToken: string;
  ingestToken: string;
  secretsKey: string;
  secretsKeyPrevious: string[];
  allowPrivateNetworks: boolean;
  retryScheduleMs: number[];
  deliveryTimeoutMs: number;
  disableAfterMs: number;
  leaseDurationMs: number;
  workerConcurrency: number;
  endpointConcurrency: number;
  rateLimit: number;
  bodyLimit: number;
  logLevel: string;
  production: boolean;
  /** Development only: the file that supplied the secrets not set, and which ones it supplied. */
  generatedSecretsFile?: string;
  secretsFromFile: string[];
}>;

export class ConfigError extends Error {}

const flagName = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const SETTING_FLAGS = Object.keys(SETTINGS).map(flagName);

type Raw = Partial<Record<SettingName, string>>;

/** Flags win over the environment; both are strings until validated here. */
function collect(env: NodeJS.ProcessEnv, flags: Record<string, string | undefined>): Raw {
  const raw: Raw = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
    const value = flags[flagName(name)] ?? env[setting.env];
    const fallback = 'default' in setting ? setting.default : undefined;
    const chosen = value === undefined || value === '' ? fallback : value;
    if (chosen !== undefined) raw[name] = chosen;
  }
  return raw;
}

function int(name: SettingName, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim())) throw new ConfigError(`${SETTINGS[name].env} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(`${SETTINGS[name].env} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(name: SettingName, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw new ConfigError(`${SETTINGS[name].env} must be true or false, got "${value}"`);
}

function duration(name: SettingName, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new ConfigError(`${SETTINGS[name].env}: ${(err as Error).message}`);
  }
}

const SECRET_NAMES = ['adminToken', 'ingestToken', 'secretsKey'] as const;

/**
 * In development a missing token or key is generated once into DATA_DIR/secrets.json
 * (mode 0600) so `npm start` works with no setup; production refuses to start instead.
 */
function fillDevelopmentSecrets(raw: Raw, dataDir: string, production: boolean): string | undefined {
  const missing = SECRET_NAMES.filter((n) => !raw[n]);
  if (missing.length === 0) return undefined;
  if (production) {
    throw new ConfigError(`${missing.map((n) => SETTINGS[n].env).join(', ')} must be set when NODE_ENV=production`);
  }
  const file = join(dataDir, 'secrets.json');
  let stored: Partial<Record<(typeof SECRET_NAMES)[number], string>> = {};
  if (existsSync(file)) stored = JSON.parse(readFileSync(file, 'utf8'));
  let changed = false;
  for (const n of missing) {
    if (!stored[n]) {
      stored[n] = n === 'secretsKey' ? randomBytes(32).toString('hex') : randomBytes(24).toString('base64url');
      changed = true;
    }
    raw[n] = stored[n];
  }
  if (changed) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return file;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: Record<string, string | undefined> = {}): Config {
  const raw = collect(env, flags);
  const production = raw.nodeEnv === 'production';
  const dataDir = resolve(raw.dataDir!);
  const databaseUrl = raw.databaseUrl;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must start with postgres:// or postgresql://');
  }
  const fromFile = SECRET_NAMES.filter((n) => !raw[n]).map((n) => SETTINGS[n].env);
  const generatedSecretsFile = fillDevelopmentSecrets(raw, dataDir, production);
  for (const [name, value] of [['SECRETS_KEY', raw.secretsKey!], ...(raw.secretsKeyPrevious ?? '').split(',').filter((v) => v.trim()).map((v) => ['SECRETS_KEY_PREVIOUS', v.trim()])]) {
    try {
      parseSecretsKey(value);
    } catch (err) {
      throw new ConfigError(`${name}: ${(err as Error).message}`);
    }
  }
  let retryScheduleMs: number[];
  try {
    retryScheduleMs = parseRetrySchedule(raw.retrySchedule!);
  } catch (err) {
    throw new ConfigError(`RETRY_SCHEDULE: ${(err as Error).message}`);
  }
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(raw.logLevel!)) throw new ConfigError(`LOG_LEVEL must be one of ${levels.join(', ')}`);
  const config: Config = {
    port: int('port', raw.port!, 0, 65535),
    host: raw.host!,
    dataDir,
    databaseUrl,
    adminToken: raw.adminToken!,
    ingestToken: raw.ingestToken!,
    secretsKey: raw.secretsKey!,
    secretsKeyPrevious: (raw.secretsKeyPrevious ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    allowPrivateNetworks: bool('allowPrivateNetworks', raw.allowPrivateNetworks!),
    retryScheduleMs,
    deliveryTimeoutMs: duration('deliveryTimeout', raw.deliveryTimeout!),
    disableAfterMs: duration('disableAfter', raw.disableAfter!),
    leaseDurationMs: duration('leaseDuration', raw.leaseDuration!),
    workerConcurrency: int('workerConcurrency', raw.workerConcurrency!, 1, 10_000),
    endpointConcurrency: int('endpointConcurrency', raw.endpointConcurrency!, 1, 1_000),
    rateLimit: int('rateLimit', raw.rateLimit!, 1, 1_000_000),
    bodyLimit: int('bodyLimit', raw.bodyLimit!, 1024, 100 * 1024 * 1024),
    logLevel: raw.logLevel!,
    production,
    generatedSecretsFile,
    secretsFromFile: generatedSecretsFile ? fromFile : [],
  };
  if (config.leaseDurationMs <= config.deliveryTimeoutMs) {
    throw new ConfigError('LEASE_DURATION must be longer than DELIVERY_TIMEOUT, or two workers could send the same delivery');
  }
  if (config.adminToken.length < 16) throw new ConfigError('ADMIN_TOKEN must be at least 16 characters');
  if (config.ingestToken.length < 16) throw new ConfigError('INGEST_TOKEN must be at least 16 characters');
  return redacted(config);
}

/** Secrets never reach a log line or a console.log of the config. */
function redacted(config: Config): Config {
  const hidden = new Set(Object.entries(SETTINGS).filter(([, s]) => 'secret' in s && s.secret).map(([n]) => n));
  const safe = () => Object.fromEntries(Object.entries(config).map(([k, v]) => [k, hidden.has(k) && v ? '[redacted]' : v]));
  Object.defineProperty(config, 'toJSON', { value: safe, enumerable: false });
  Object.defineProperty(config, inspect.custom, { value: () => safe(), enumerable: false });
  return Object.freeze(config);
}
