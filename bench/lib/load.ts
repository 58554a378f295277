/**
 * What the benchmark sends: the ceiling's bare POSTs, and events to a system's ingest API,
 * either as fast as it takes them (throughput) or at a fixed rate (latency). Every loop here
 * is bounded in count and in time.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import type { CaseLog } from './receiver-client.ts';

export type IngestTarget = { ingestUrl: string; ingestToken: string };

const driver = new Agent({ connections: 8, keepAliveTimeout: 30_000 });
export const closeDriver = () => driver.close();

export const RECIPIENT = 'jane@example.com';

/** One event as the sending pipeline hands it over; data.sent_at_ms is read by the receiver. */
export function makeEvent(tag: string, i: number, customerId: string, sentAt: number) {
  return { id: `${tag}-${i}`, customer_id: customerId, event: 'email.delivered', email_id: randomUUID(), data: { recipient: RECIPIENT, sent_at_ms: sentAt } };
}

/** A body of the size and shape the systems deliver (the service's documented body). */
export function sampleDeliveryBody(): string {
  return JSON.stringify({
    event: 'email.delivered',
    timestamp: new Date().toISOString(),
    email_id: randomUUID(),
    domain_id: null,
    data: { recipient: RECIPIENT, sent_at_ms: Date.now() },
  });
}

async function postEvents(target: IngestTarget, events: unknown[], deadline: number): Promise<void> {
  const res = await request(target.ingestUrl, {
    method: 'POST',
    dispatcher: driver,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${target.ingestToken}` },
    body: JSON.stringify({ events }),
    headersTimeout: Math.max(1000, deadline - Date.now()),
    bodyTimeout: Math.max(1000, deadline - Date.now()),
  });
  const text = await res.body.text();
  if (res.statusCode !== 202) throw new Error(`ingest answered ${res.statusCode}: ${text.slice(0, 300)}`);
}

/** n events, 1,000 per request, one request at a time, as fast as the API answers. */
export async function ingestBurst(target: IngestTarget, customerId: string, n: number, tag: string, timeoutMs: number) {
  const startedAt = Date.now();
  const deadline = startedAt + timeoutMs;
  for (let i = 0; i < n; i += 1000) {
    if (Date.now() > deadline) throw new Error(`ingest of ${n} events did not finish within ${timeoutMs} ms (${i} sent)`);
    const now = Date.now();
    const events = Array.from({ length: Math.min(1000, n - i) }, (_, j) => makeEvent(tag, i + j, customerId, now));
    await postEvents(target, events, deadline);
  }
  return { startedAt, ingestMs: Date.now() - startedAt };
}

/**
 * An open-loop offered load: every tick, the events due by then (rate × elapsed) go out in
 * one request stamped with the time it left, without waiting for earlier requests (at most
 * `maxInFlight` in flight; beyond that events wait and the lag is reported).
 */
export async function ingestPaced(target: IngestTarget, customerId: string, eventsPerSecond: number, durationMs: number, tag: string) {
  const total = Math.max(1, Math.round((eventsPerSecond * durationMs) / 1000));
  const tickMs = 20;
  const maxInFlight = 16;
  const startedAt = Date.now();
  const hardEnd = startedAt + durationMs * 3 + 10_000;
  let sent = 0;
  let inFlight = 0;
  let maxLagEvents = 0;
  let error: Error | undefined;
  const flights: Promise<void>[] = [];
  while (sent < total && !error && Date.now() < hardEnd) {
    const due = Math.min(total, Math.floor(((Date.now() - startedAt) * eventsPerSecond) / 1000) + 1);
    maxLagEvents = Math.max(maxLagEvents, due - sent);
    while (sent < due && inFlight < maxInFlight) {
      const n = Math.min(1000, due - sent);
      const now = Date.now();
      const events = Array.from({ length: n }, (_, j) => makeEvent(tag, sent + j, customerId, now));
      sent += n;
      inFlight++;
      flights.push(
        postEvents(target, events, hardEnd)
          .catch((err) => {
            error ??= err;
          })
          .finally(() => inFlight--),
      );
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  await Promise.all(flights);
  if (error) throw error;
  const endedAt = Date.now();
  return { startedAt, endedAt, events: sent, achievedPerSecond: (sent * 1000) / Math.max(1, endedAt - startedAt), maxLagEvents };
}

/**
 * The ceiling: `total` bare POSTs of `body` with undici, spread over the origins (16 lanes
 * and 16 pooled connections per origin), no storage, no signing; counted at the receiver.
 */
export async function ceiling(log: CaseLog, caseKey: string, origins: string[], total: number, timeoutMs: number) {
  const body = sampleDeliveryBody();
  const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 });
  const start = Date.now();
  const deadline = start + timeoutMs;
  let next = 0;
  const lane = async (o: number) => {
    while (next < total && Date.now() < deadline) {
      const n = next++;
      const res = await request(`${origins[o]}/${caseKey}/h${o}`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'webhook-id': `${caseKey}-${n}` },
        dispatcher: agent,
      });
      await res.body.dump();
    }
  };
  await Promise.all(origins.flatMap((_, o) => Array.from({ length: 16 }, () => lane(o))));
  const ok = await log.waitFor(total, Math.max(1000, deadline - Date.now()));
  await agent.close();
  if (!ok) throw new Error(`ceiling: ${log.count} of ${total} POSTs arrived within ${timeoutMs} ms`);
  const last = log.arrivals[log.arrivals.length - 1].at;
  const seconds = (last - start) / 1000;
  return { deliveries: total, seconds, perSecond: total / seconds };
}
