import { init } from './0001_init.ts';
import { webhookDueIndex } from './0002_webhook_due_index.ts';

/** Append-only: never edit a migration that has shipped, add the next one. */
export const MIGRATIONS: ReadonlyArray<{ id: string; sqlite: string; postgres: string }> = [init, webhookDueIndex];
