/**
 * A worker whose lane for one webhook has room again claims that webhook's next due
 * deliveries directly: a seek in this index, instead of a scan of the queue's head past the
 * backlogs of every other webhook.
 */
const statement = `CREATE INDEX deliveries_webhook_due ON deliveries (webhook_id, next_attempt_at, id) WHERE status = 'pending'`;

export const webhookDueIndex = {
  id: '0002_webhook_due_index',
  sqlite: statement,
  postgres: statement,
};
