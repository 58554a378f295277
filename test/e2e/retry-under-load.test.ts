import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestReceiver } from '../helpers/receiver.ts';
import type { TestService } from '../helpers/service.ts';
import { STORES } from '../helpers/stores.ts';
import { createWebhook, event, ingestOk, startE2E } from './harness.ts';

/**
 * A retry falls due without any wake-up: the worker finds it by scanning the queue. New
 * events for other webhooks wake the worker all the time and must not keep it from scanning
 * (a bug report: one customer's steady traffic held back another customer's retries until
 * the traffic paused for a whole poll interval).
 */
describe.each(STORES)('retries while other webhooks get a steady stream of events (%s)', (kind) => {
  let svc: TestService;
  let receiver: TestReceiver;

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    // A first attempt to /retry fails; later ones and everything to /busy succeed.
    receiver.respond = (r) => (r.path === '/retry' && r.headers['x-webhook-attempt'] === '1' ? { status: 500 } : { status: 200 });
    // The retry is due 2-3 s later: further off than the worker's own timer for imminent
    // retries (1 s), so only a scan of the queue finds it.
    svc = await startE2E(kind, { RETRY_SCHEDULE: '2500ms', DISABLE_AFTER: '1h' });
  });
  afterAll(async () => {
    await receiver?.close();
    await svc?.close();
  });

  it('sends the retry while events for another webhook keep arriving every 100 ms', { timeout: 30_000 }, async () => {
    const quiet = await svc.newCustomer('starter');
    const busy = await svc.newCustomer('starter');
    await createWebhook(svc, quiet.key, { url: `${receiver.url}/retry`, events: ['email.delivered'] });
    await createWebhook(svc, busy.key, { url: `${receiver.url}/busy`, events: ['email.delivered'] });

    await ingestOk(svc, event(quiet.id));
    await receiver.waitFor(1, '/retry');
    // Bounded: at most 15 s of traffic, stopped as soon as the retry arrives.
    const deadline = Date.now() + 15_000;
    let sent = 0;
    while (receiver.count('/retry') < 2 && Date.now() < deadline) {
      await ingestOk(svc, event(busy.id));
      sent++;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(receiver.count('/retry'), `retry not sent during ${sent} events of other traffic`).toBe(2);
    await receiver.waitFor(sent, '/busy');
  });
});
