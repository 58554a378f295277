import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

// Every secret the service handles (API key, admin and ingest tokens, webhook secret, the
// signature made with it) passes through a whole flow; none may appear in any log line.
describe('logs', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  let svc: TestService;
  let receiver: TestReceiver;
  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    svc = await startTestService('sqlite', { role: 'all', logStream: sink, env: { RETRY_SCHEDULE: '50ms' } });
  });
  afterAll(async () => {
    await svc?.close();
    await receiver?.close();
  });

  it('never contain a key, token, webhook secret or signature', async () => {
    const c = await svc.newCustomer('starter');
    const created = await svc.customer(c.key, 'POST', '/api/v1/customer/webhooks', { url: `${receiver.url}/hook?token=s3cr3t-query`, events: ['email.sent'] });
    expect(created.status).toBe(201);
    let first = true;
    receiver.respond = () => (first ? ((first = false), { status: 500, body: 'boom' }) : { status: 200 });
    await svc.ingest({ customer_id: c.id, event: 'email.sent', email_id: '0b7c4a1e-3c2f-4a57-9f0e-2a3b4c5d6e7f' });
    await receiver.waitFor(2);
    const regenerated = await svc.customer(c.key, 'POST', `/api/v1/customer/webhooks/${created.body.id}/regenerate-secret`);
    await svc.customer('mlk_wrong', 'GET', '/api/v1/customer/webhooks');
    await svc.app.inject({ method: 'GET', url: '/admin/v1/customers/x', headers: { authorization: 'Bearer wrong-token-value' } });
    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(3);
    const secrets = [
      c.key,
      svc.adminToken,
      svc.ingestToken,
      svc.config.secretsKey,
      created.body.secret,
      regenerated.body.secret,
      'wrong-token-value',
      ...receiver.received.map((r) => String(r.headers['webhook-signature']).slice(3)),
    ];
    for (const s of secrets) expect(log).not.toContain(s);
  });
});
