import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig } from './config/load.ts';
import { parseCli, USAGE } from './cli/args.ts';
import { isOperatorCommand, runOperatorCommand } from './cli/operator.ts';
import { createLogger } from './observability/logger.ts';
import { createService, secretBoxFor } from './service.ts';
import { openDatabase } from './store/database.ts';
import { migrate } from './store/migrate.ts';
import { rotateSecretsKey } from './store/rotate-secrets.ts';

function logGeneratedSecrets(logger: ReturnType<typeof createLogger>, config: ReturnType<typeof loadConfig>) {
  if (!config.generatedSecretsFile) return;
  logger.warn(
    { file: config.generatedSecretsFile, from_file: config.secretsFromFile },
    `development mode: ${config.secretsFromFile.join(', ')} not set, so taken from ${config.generatedSecretsFile} (created on first start); set them yourself in production`,
  );
}

/** Composition root: the only place that reads the environment and picks the store. */
async function main(argv: string[]): Promise<number | undefined> {
  const { positionals, values } = parseCli(argv);
  const command = positionals[0] ?? 'serve';
  if (values.help || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (!['serve', 'worker', 'migrate', 'rotate-secrets-key'].includes(command) && !isOperatorCommand(command)) {
    console.error(`mailerlogic-webhooks: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  const flags = Object.fromEntries(Object.entries(values).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
  const config = loadConfig(process.env, flags);
  const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });

  if (command !== 'serve' && command !== 'worker') {
    try {
      const applied = await migrate(database);
      if (command === 'migrate') console.log(JSON.stringify({ applied, store: database.dialect }));
      else if (command === 'rotate-secrets-key') console.log(JSON.stringify(await rotateSecretsKey(database.db, secretBoxFor(config))));
      else console.log(JSON.stringify(await runOperatorCommand(database.db, positionals, values), null, 2));
      return 0;
    } finally {
      await database.close();
    }
  }

  const logger = createLogger(config.logLevel);
  await migrate(database);
  const role = command === 'worker' ? 'worker' : values['no-worker'] ? 'api' : 'all';
  const service = await createService(config, database, logger, role, { deferWorker: true });
  logGeneratedSecrets(logger, config);
  if (config.allowPrivateNetworks) logger.warn('WEBHOOK_ALLOW_PRIVATE_NETWORKS=true: webhooks may target http:// and private addresses');
  try {
    await service.app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await service.close();
    throw err;
  }
  // Only once the port is ours: a process that cannot serve must not deliver either.
  service.startWorker();
  logger.info({ role, store: database.dialect, port: config.port }, 'MailerLogic Webhooks started');

  // SIGTERM/SIGINT: stop taking requests and claims, let in-flight deliveries finish
  // (bounded by the delivery timeout), then close the database.
  closeWithGrace({ delay: config.deliveryTimeoutMs + 5000 }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error');
    else logger.info({ signal }, 'shutting down');
    await service.close();
  });
  return undefined;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err) => {
    // 2: the command or its settings are wrong; 1: it was right but failed (e.g. not found).
    const usage = err instanceof ConfigError || String(err?.code).startsWith('ERR_PARSE_ARGS') || ['bad_request', 'validation_failed'].includes(err?.code);
    if (usage || err?.name === 'AppError') {
      console.error(`mailerlogic-webhooks: ${err.message}`);
      process.exitCode = usage ? 2 : 1;
    } else if (err?.code === 'EADDRINUSE' || err?.code === 'EACCES') {
      console.error(`mailerlogic-webhooks: cannot listen on ${err.address ?? ''}:${err.port ?? ''} (${err.code}); set PORT to a free port`);
      process.exitCode = 1;
    } else if (err?.code === 'ECONNREFUSED' || err?.code === '28P01' || err?.code === '3D000' || err?.code === 'ENOTFOUND') {
      console.error(`mailerlogic-webhooks: cannot reach the database: ${err.message}`);
      process.exitCode = 1;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  },
);
