import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Every path where a secret could sit in a log line is censored here, once: request headers
 * (API keys, bearer tokens), webhook secrets, and signatures of outgoing requests.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["webhook-signature"]',
  'headers["x-webhook-signature"]',
  '*.secret',
  'secret',
  '*.key',
  'key',
  'config.adminToken',
  'config.ingestToken',
  'config.secretsKey',
  'config.databaseUrl',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'mailerlogic-webhooks' } }, destination);
}
