import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per process (tests build several apps in one process: each gets its own). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    eventsIngested: new Counter({ name: 'mailerlogic_events_ingested_total', help: 'Events accepted by the ingest API (repeats not counted)', registers: [registry] }),
    deliveriesCreated: new Counter({ name: 'mailerlogic_deliveries_created_total', help: 'Deliveries created by fan-out', registers: [registry] }),
    attempts: new Counter({
      name: 'mailerlogic_delivery_attempts_total',
      help: 'Delivery attempts by outcome (succeeded, retrying, failed) and error code',
      labelNames: ['outcome', 'error'] as const,
      registers: [registry],
    }),
    deliveriesFinished: new Counter({
      name: 'mailerlogic_deliveries_finished_total',
      help: 'Deliveries this worker finished, by outcome: succeeded, failed (retries used up or 410), cancelled (webhook deleted or inactive)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    attemptDuration: new Histogram({
      name: 'mailerlogic_delivery_attempt_duration_seconds',
      help: 'Time from the start of a POST to its outcome',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
      registers: [registry],
    }),
    queueDepth: new Gauge({ name: 'mailerlogic_queue_pending_deliveries', help: 'Deliveries waiting to be sent (pending)', registers: [registry] }),
    oldestDueAge: new Gauge({ name: 'mailerlogic_queue_oldest_due_age_seconds', help: 'Age of the oldest delivery that is due and not yet sent', registers: [registry] }),
    inFlight: new Gauge({ name: 'mailerlogic_deliveries_in_flight', help: 'Deliveries being sent by this process', registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
