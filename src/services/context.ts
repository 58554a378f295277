import type { WebhookHttpClient } from '../delivery/http-client.ts';
import type { SecretBox } from '../signing/secret-box.ts';
import type { Database } from '../store/database.ts';

/** What the services need from the outside, built once in main.ts and passed down. */
export interface ServiceContext {
  readonly database: Database;
  readonly secretBox: SecretBox;
  readonly allowPrivateNetworks: boolean;
  /** Tells the delivery workers (in this process and, on PostgreSQL, elsewhere) that work is due. */
  /** New work: for these webhooks, or (without ids) anywhere in the queue. */
  readonly wake: (webhookIds?: string[]) => void;
  /** Sends test events; the same guarded client the worker uses. */
  readonly httpClient: WebhookHttpClient;
  readonly retryScheduleMs: number[];
}
