/**
 * MailerLogic Webhooks against a bare-undici ceiling and against what a Node team would build
 * instead (BullMQ, pg-boss), all on loopback, each system in its own child processes, one
 * receiver process answering 200 at once (2 s under /slow/).
 *
 * For every system:
 *   throughput  N events × 3 webhooks ingested as fast as the API takes them (1,000 per
 *               request); deliveries/s from the first request to the last arrival
 *   latency     ingest→receipt p50/p99 at a fixed offered load of half that system's rate
 *   fan-out     N×3/10 events × 10 webhooks, deliveries/s
 *   degraded    the latency load again with one webhook of three answering in 2 s: the healthy
 *               endpoints' p50/p99 next to the all-healthy figure
 *   memory      peak RSS (VmHWM) summed over the system's processes
 *   CPU         CPU time of its processes (and of the database server) per 1,000 deliveries
 *               during the throughput case
 *
 * Usage: npm run bench [-- --quick] [-- --systems sqlite,pg,pg3,bullmq,pgboss] [-- --events N]
 *   --quick: 3 × 2,000 deliveries and shorter load windows (under 2 minutes on 2 cores).
 * Prints one table and writes the same figures as JSON under bench/results/.
 *
 *        npm run bench -- --soak [--deliveries N]
 *   the memory soak instead (lib/soak.ts): N deliveries (1,000,000) on SQLite, RSS sampled.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { dropStaleRedisPrefixes, REDIS, redisUsedMemory, startAlternative, type AlternativeKind } from './lib/alternative.ts';
import { dropStaleSchemas, runCleanups, withPg } from './lib/cleanup.ts';
import { ceiling, closeDriver, ingestBurst, ingestPaced } from './lib/load.ts';
import { startMailerLogic, type MailerLogicVariant } from './lib/mailerlogic.ts';
import { cpuMs, cpuMsByName, isAlive, killAll, machineBusyMs, sleep } from './lib/proc.ts';
import { startReceiver, type Arrival, type CaseLog, type Receiver } from './lib/receiver-client.ts';
import { fmtMs, summarize, type LatencySummary } from './lib/stats.ts';
import { systemCpuMs, systemCrash, systemPeakRss, tableStats, type CaseHooks, type System } from './lib/system.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    systems: { type: 'string', default: 'sqlite,pg,pg3,bullmq,pgboss' },
    events: { type: 'string' },
    soak: { type: 'boolean', default: false },
    deliveries: { type: 'string', default: '1000000' },
  },
});
const SOAK = values.soak!;
const QUICK = values.quick!;
const EVENTS = Number(values.events ?? (QUICK ? 2000 : 10_000));
const WEBHOOKS = 3;
const FANOUT = 10;
const FAN_EVENTS = Math.round((EVENTS * WEBHOOKS) / FANOUT);
const LOAD_MS = QUICK ? 3000 : 10_000;
const SLOW_MS = 2000;
const HOSTS = Array.from({ length: FANOUT }, (_, i) => `127.0.0.${i + 1}`);
// Every wait is bounded: a stalled system is reported, not waited for.
const DRAIN_MS = QUICK ? 45_000 : 180_000;
const SETTLE_MS = QUICK ? 8000 : 30_000;
const WARM = QUICK ? 150 : 300;
const WATCHDOG_MS = SOAK ? 90 * 60_000 : QUICK ? 6 * 60_000 : 40 * 60_000;

const ALL = ['sqlite', 'pg', 'pg3', 'bullmq', 'pgboss'] as const;
type SystemKey = (typeof ALL)[number];
const LABELS: Record<SystemKey, string> = {
  sqlite: 'MailerLogic SQLite, 1 process',
  pg: 'MailerLogic PostgreSQL, 1 process',
  pg3: 'MailerLogic PostgreSQL, api + 2 workers',
  bullmq: 'BullMQ (Redis), api + worker',
  pgboss: 'pg-boss (PostgreSQL), api + worker',
};
const ALT_TUNING: Record<AlternativeKind, Record<string, number>> = {
  bullmq: { concurrency: Number(process.env.BENCH_BULLMQ_CONCURRENCY ?? 100) },
  pgboss: { batchSize: Number(process.env.BENCH_PGBOSS_BATCH ?? 200), loops: Number(process.env.BENCH_PGBOSS_LOOPS ?? 4) },
};
const selected = values.systems!.split(',').map((s) => s.trim()) as SystemKey[];
for (const s of selected) if (!ALL.includes(s)) throw new Error(`unknown system ${s}; choose from ${ALL.join(',')}`);

const runTag = `${process.pid}_${randomBytes(3).toString('hex')}`;
const log = (msg: string) => console.error(`[bench ${((performance.now() / 1000) | 0).toString().padStart(4)}s] ${msg}`);

// ---- every way out cleans up -------------------------------------------------------------
let exiting = false;
async function bail(code: number, why: string) {
  if (exiting) return;
  exiting = true;
  console.error(`bench: ${why}; stopping children and cleaning up`);
  killAll();
  const failures = await runCleanups();
  for (const f of failures) console.error(`bench: cleanup failed: ${f}`);
  process.exit(code);
}
process.on('SIGINT', () => void bail(130, 'interrupted'));
process.on('SIGTERM', () => void bail(143, 'terminated'));
process.on('uncaughtException', (err) => void bail(1, `uncaught ${err?.stack ?? err}`));
process.on('unhandledRejection', (err) => void bail(1, `unhandled rejection ${(err as Error)?.stack ?? err}`));
process.on('exit', () => killAll());
setTimeout(() => void bail(2, `watchdog: the run took longer than ${WATCHDOG_MS / 60_000} minutes`), WATCHDOG_MS).unref();

if (SOAK) {
  const { soak } = await import('./lib/soak.ts');
  const code = await soak(Number(values.deliveries), runTag, log);
  const failures = await runCleanups();
  for (const f of failures) console.error(`bench: cleanup failed: ${f}`);
  process.exit(code);
}

// ---- measurements --------------------------------------------------------------------------
type Throughput = {
  deliveries: number;
  arrived: number;
  seconds: number;
  perSecond: number;
  ingestSeconds: number;
  complete: boolean;
  duplicates: number;
  /** Deliveries that arrived in each second from the first ingest request: shows a rate that sags as tables grow. */
  perSecondTimeline: number[];
};
type Latency = LatencySummary & { offeredEventsPerSecond: number; offeredDeliveriesPerSecond: number; duplicates: number; ingestMaxLagEvents: number };
type SystemResult = {
  system: SystemKey;
  label: string;
  settings?: Record<string, unknown>;
  throughput?: Throughput & { ratioToCeiling: number; cpuMsPer1k: number; dbCpuMsPer1k: number | null };
  latency?: Latency;
  fanout?: Throughput & { ratioToCeiling: number };
  degraded?: Latency & { slowArrivedDuringWindow: number };
  peakRssBytes?: number;
  redisUsedMemoryDeltaBytes?: number;
  /** Share of the machine's CPU that processes not of this run used while this system was measured. */
  otherCpuShare?: number;
  /** PostgreSQL's per-table counters for the system's schema over the whole run of that system. */
  pgTableStats?: Record<string, unknown>[];
  errors: string[];
};

function throughputOf(log: CaseLog, expected: number, startedAt: number, ingestMs: number, complete: boolean): Throughput {
  const last = log.arrivals.length ? log.arrivals[log.arrivals.length - 1].at : startedAt;
  const seconds = Math.max(0.001, (last - startedAt) / 1000);
  const perSecondTimeline: number[] = [];
  for (const a of log.arrivals) {
    const s = Math.max(0, Math.floor((a.at - startedAt) / 1000));
    while (perSecondTimeline.length <= s) perSecondTimeline.push(0);
    perSecondTimeline[s]++;
  }
  return { deliveries: expected, arrived: log.count, seconds, perSecond: log.count / seconds, ingestSeconds: ingestMs / 1000, complete, duplicates: log.duplicates, perSecondTimeline };
}

/** Offered load for LOAD_MS, then waits (bounded) for the deliveries `counted` selects. */
async function latencyCase(sys: System, receiver: Receiver, caseKey: string, eventsPerSecond: number, hooksCounted: number, counted: (a: Arrival) => boolean) {
  const caseLog = receiver.open(caseKey);
  const load = await ingestPaced(sys.target, sys.customers[caseKey], eventsPerSecond, LOAD_MS, caseKey);
  const expected = load.events * hooksCounted;
  await caseLog.waitFor(expected, SETTLE_MS, counted);
  const waitedUntil = Date.now();
  const arrivals = caseLog.arrivals.filter(counted);
  const latencies = arrivals.filter((a) => a.sentAt !== null).map((a) => a.at - a.sentAt!);
  const summary = summarize(latencies, expected, waitedUntil - load.endedAt);
  receiver.close(caseKey);
  return { load, summary, caseLog, arrivals };
}

/** CPU used by the processes this run started (read just before each is stopped), in ms. */
let ownChildrenCpuMs = 0;

async function measure(key: SystemKey, receiver: Receiver, cases: CaseHooks, ceilings: { c3: number; c10: number }): Promise<SystemResult> {
  const result: SystemResult = { system: key, label: LABELS[key], errors: [] };
  const dbName = key === 'sqlite' ? undefined : key === 'bullmq' ? 'redis-server' : 'postgres';
  const redisBefore = key === 'bullmq' ? await redisUsedMemory().catch(() => 0) : 0;
  log(`${LABELS[key]}: starting`);
  let sys: System;
  try {
    sys =
      key === 'bullmq' || key === 'pgboss'
        ? await startAlternative(key, cases, runTag, ALT_TUNING[key])
        : await startMailerLogic(key as MailerLogicVariant, cases, runTag);
  } catch (err) {
    result.errors.push(`start: ${(err as Error).message}`);
    return result;
  }
  result.settings = sys.settings;
  let othersShare: (() => number) | undefined;
  const fail = (what: string, err: unknown) => {
    const crash = systemCrash(sys);
    result.errors.push(`${what}: ${(err as Error)?.message ?? err}${crash ? `\n${crash}` : ''}`);
  };
  try {
    // Warm-up: connections, JIT, worker start-up; not measured.
    const warm = receiver.open('warm');
    await ingestBurst(sys.target, sys.customers.warm, WARM, 'warm', 30_000);
    if (!(await warm.waitFor(WARM, 30_000))) throw new Error(`warm-up: ${warm.count} of ${WARM} deliveries arrived within 30 s`);
    receiver.close('warm');

    // From here on, count what other processes take from the machine while this system is measured.
    const ownCpu = () => systemCpuMs(sys) + cpuMs(receiver.proc.child.pid) + cpuMsByName('postgres') + cpuMsByName('redis-server') + (process.cpuUsage().user + process.cpuUsage().system) / 1000;
    const busy0 = machineBusyMs();
    const own0 = ownCpu();
    const wall0 = Date.now();
    othersShare = () => Math.max(0, (machineBusyMs() - busy0 - (ownCpu() - own0)) / ((Date.now() - wall0) * cpus().length));

    // Throughput.
    log(`${LABELS[key]}: throughput, ${EVENTS} events × ${WEBHOOKS} webhooks`);
    const tp = receiver.open('tp');
    const cpu0 = systemCpuMs(sys);
    const db0 = dbName ? cpuMsByName(dbName) : 0;
    const burst = await ingestBurst(sys.target, sys.customers.tp, EVENTS, 'tp', DRAIN_MS);
    const complete = await tp.waitFor(EVENTS * WEBHOOKS, DRAIN_MS);
    const t = throughputOf(tp, EVENTS * WEBHOOKS, burst.startedAt, burst.ingestMs, complete);
    const cpuMsPer1k = ((systemCpuMs(sys) - cpu0) / Math.max(1, t.arrived)) * 1000;
    const dbCpuMsPer1k = dbName ? ((cpuMsByName(dbName) - db0) / Math.max(1, t.arrived)) * 1000 : null;
    result.throughput = { ...t, ratioToCeiling: t.perSecond / ceilings.c3, cpuMsPer1k, dbCpuMsPer1k };
    receiver.close('tp');
    if (!complete) throw new Error(`throughput: only ${t.arrived} of ${t.deliveries} deliveries arrived within ${DRAIN_MS / 1000} s (stalled?)`);

    // Latency at half the sustained rate.
    const eventsPerSecond = (t.perSecond / 2 / WEBHOOKS);
    log(`${LABELS[key]}: latency at ${Math.round(eventsPerSecond * WEBHOOKS)} deliveries/s offered`);
    const lat = await latencyCase(sys, receiver, 'lat', eventsPerSecond, WEBHOOKS, () => true);
    result.latency = {
      ...lat.summary,
      offeredEventsPerSecond: lat.load.achievedPerSecond,
      offeredDeliveriesPerSecond: lat.load.achievedPerSecond * WEBHOOKS,
      duplicates: lat.caseLog.duplicates,
      ingestMaxLagEvents: lat.load.maxLagEvents,
    };

    // Fan-out to 10 webhooks.
    log(`${LABELS[key]}: fan-out, ${FAN_EVENTS} events × ${FANOUT} webhooks`);
    const fan = receiver.open('fan');
    const fb = await ingestBurst(sys.target, sys.customers.fan, FAN_EVENTS, 'fan', DRAIN_MS);
    const fanComplete = await fan.waitFor(FAN_EVENTS * FANOUT, DRAIN_MS);
    const f = throughputOf(fan, FAN_EVENTS * FANOUT, fb.startedAt, fb.ingestMs, fanComplete);
    result.fanout = { ...f, ratioToCeiling: f.perSecond / ceilings.c10 };
    receiver.close('fan');
    if (!fanComplete) result.errors.push(`fan-out: only ${f.arrived} of ${f.deliveries} deliveries arrived within ${DRAIN_MS / 1000} s`);

    // Degraded: the same offered load, one webhook in three answering in 2 s. Last, because
    // the slow endpoint's backlog is left behind when the system is stopped.
    log(`${LABELS[key]}: degraded, 1 of 3 webhooks answering in ${SLOW_MS / 1000} s`);
    const healthy = (a: Arrival) => !a.path.startsWith('/slow/');
    const deg = await latencyCase(sys, receiver, 'deg', eventsPerSecond, WEBHOOKS - 1, healthy);
    result.degraded = {
      ...deg.summary,
      offeredEventsPerSecond: deg.load.achievedPerSecond,
      offeredDeliveriesPerSecond: deg.load.achievedPerSecond * WEBHOOKS,
      duplicates: deg.caseLog.duplicates,
      ingestMaxLagEvents: deg.load.maxLagEvents,
      slowArrivedDuringWindow: deg.caseLog.arrivals.filter((a) => !healthy(a)).length,
    };
  } catch (err) {
    fail('run', err);
  } finally {
    if (othersShare) result.otherCpuShare = +othersShare().toFixed(3);
    result.peakRssBytes = systemPeakRss(sys);
    ownChildrenCpuMs += systemCpuMs(sys);
    // PostgreSQL publishes table counters with a delay of up to a second.
    if (sys.pgSchema) result.pgTableStats = await sleep(1000).then(() => tableStats(sys.pgSchema!)).catch(() => undefined);
    const crash = systemCrash(sys);
    if (crash && !result.errors.some((e) => e.includes(crash))) result.errors.push(`a process died:\n${crash}`);
    log(`${LABELS[key]}: stopping`);
    await sys.stop().catch((err) => result.errors.push(`stop: ${err.message}`));
    if (key === 'bullmq') result.redisUsedMemoryDeltaBytes = (await redisUsedMemory().catch(() => 0)) - redisBefore;
  }
  return result;
}

// ---- the run ---------------------------------------------------------------------------------
const machine = {
  cpus: cpus().length,
  model: cpus()[0]?.model ?? 'unknown',
  memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
  node: process.version,
  loadavgAtStart: loadavg().map((l) => +l.toFixed(2)),
  postgres: await withPg(async (c) => (await c.query('SHOW server_version')).rows[0].server_version as string).catch(() => 'unreachable'),
  redis: `${REDIS.host}:${REDIS.port}`,
};
// What was measured: the service's code is whatever the work tree holds, committed or not.
const git = (args: string[]) => {
  try {
    return execFileSync('git', args, { cwd: new URL('..', import.meta.url), encoding: 'utf8' }).trimEnd();
  } catch {
    return 'unknown';
  }
};
const code = { commit: git(['rev-parse', '--short', 'HEAD']), uncommittedInSrc: git(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean) };
log(
  `run: ${EVENTS.toLocaleString('en')} events × ${WEBHOOKS} webhooks (${(EVENTS * WEBHOOKS).toLocaleString('en')} deliveries), fan-out ${FAN_EVENTS.toLocaleString('en')} × ${FANOUT}, ` +
    `latency windows ${LOAD_MS / 1000} s${QUICK ? ' (--quick)' : ''}`,
);

// How busy the machine was with work that is not this run's: it is shared, and other
// processes' CPU use lowers every figure (the ceiling too).
const busyAtStart = machineBusyMs();
const dbCpuAtStart = cpuMsByName('postgres') + cpuMsByName('redis-server');
const wallAtStart = Date.now();
const stale = await dropStaleSchemas(isAlive).catch((err) => {
  log(`could not look for stale schemas: ${err.message}`);
  return [] as string[];
});
if (stale.length) log(`dropped schemas left by earlier runs: ${stale.join(', ')}`);
const staleKeys = await dropStaleRedisPrefixes(isAlive).catch((err) => {
  log(`could not look for stale Redis keys: ${err.message}`);
  return [] as string[];
});
if (staleKeys.length) log(`deleted Redis keys left by earlier runs under ${staleKeys.join(', ')}`);

const receiver = await startReceiver(HOSTS, SLOW_MS);
const origin = (i: number) => receiver.origin(i);
const hooks = (caseKey: string, n: number) => Array.from({ length: n }, (_, i) => `${origin(i)}/${caseKey}/h${i}`);
const cases: CaseHooks = {
  warm: hooks('warm', 1),
  tp: hooks('tp', WEBHOOKS),
  lat: hooks('lat', WEBHOOKS),
  fan: hooks('fan', FANOUT),
  deg: [`${origin(0)}/deg/h0`, `${origin(1)}/deg/h1`, `${origin(2)}/slow/deg/h2`],
};

// Ceilings: best of two, for 3 origins (the 3-webhook cases) and 10 (fan-out).
const ceilingRuns: Record<string, number[]> = { c3: [], c10: [] };
for (const [key, n] of [['c3', WEBHOOKS], ['c10', FANOUT]] as const) {
  for (let r = 0; r < 2; r++) {
    const caseKey = `ceil${n}x${r}`;
    const c = await ceiling(receiver.open(caseKey), caseKey, Array.from({ length: n }, (_, i) => origin(i)), EVENTS * WEBHOOKS, 60_000);
    receiver.close(caseKey);
    ceilingRuns[key].push(c.perSecond);
  }
}
const ceilings = { c3: Math.max(...ceilingRuns.c3), c10: Math.max(...ceilingRuns.c10) };
log(`ceiling: ${Math.round(ceilings.c3)}/s over 3 origins, ${Math.round(ceilings.c10)}/s over 10`);

const results: SystemResult[] = [];
for (const key of selected) {
  results.push(await measure(key, receiver, cases, ceilings));
  await sleep(500);
}
// The ceiling once more at the end: the machine is shared, and the ratio should not depend on
// which end of the run was the quieter one.
{
  const caseKey = 'ceil3end';
  const c = await ceiling(receiver.open(caseKey), caseKey, Array.from({ length: WEBHOOKS }, (_, i) => origin(i)), EVENTS * WEBHOOKS, 60_000).catch(() => undefined);
  receiver.close(caseKey);
  if (c) ceilingRuns.c3.push(c.perSecond);
}
ownChildrenCpuMs += cpuMs(receiver.proc.child.pid);
await receiver.stop();
await closeDriver();
const selfCpu = process.cpuUsage();
const ownCpuMs = ownChildrenCpuMs + (selfCpu.user + selfCpu.system) / 1000 + (cpuMsByName('postgres') + cpuMsByName('redis-server') - dbCpuAtStart);
const machineCpuMs = (Date.now() - wallAtStart) * cpus().length;
const otherCpuShare = Math.max(0, (machineBusyMs() - busyAtStart - ownCpuMs) / machineCpuMs);
ceilings.c3 = Math.max(...ceilingRuns.c3);
for (const r of results) if (r.throughput) r.throughput.ratioToCeiling = r.throughput.perSecond / ceilings.c3;
const loadavgAtEnd = loadavg().map((l) => +l.toFixed(2));

// ---- report ------------------------------------------------------------------------------------
const int = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en'));
const ratio = (n: number | undefined) => (n === undefined ? '–' : `${n.toFixed(2)}×`);
const pair = (s: LatencySummary | undefined) => (s ? `${fmtMs(s.p50, s)} / ${fmtMs(s.p99, s)}` : '–');
const header = ['system', 'deliveries/s', '÷ceiling', 'p50/p99 ms @½ load', '(offered/s)', 'fan-out 10/s', '÷ceiling', 'degraded p50/p99 ms', 'peak RSS MB', 'CPU ms/1k (procs+db)', 'others\' CPU'];
const rows: string[][] = [
  ['ceiling: bare undici, no storage/signing', int(ceilings.c3), '1.00×', '–', '–', int(ceilings.c10), '1.00×', '–', '–', '–', '–'],
  ...results.map((r) => [
    r.label + (r.errors.length ? ' (!)' : ''),
    int(r.throughput?.perSecond) + (r.throughput && !r.throughput.complete ? '*' : ''),
    ratio(r.throughput?.ratioToCeiling),
    pair(r.latency),
    int(r.latency?.offeredDeliveriesPerSecond),
    int(r.fanout?.perSecond) + (r.fanout && !r.fanout.complete ? '*' : ''),
    ratio(r.fanout?.ratioToCeiling),
    pair(r.degraded),
    r.peakRssBytes ? int(r.peakRssBytes / 2 ** 20) : '–',
    r.throughput ? `${int(r.throughput.cpuMsPer1k)} + ${r.throughput.dbCpuMsPer1k === null ? '0' : int(r.throughput.dbCpuMsPer1k)}` : '–',
    r.otherCpuShare === undefined ? '–' : `${Math.round(r.otherCpuShare * 100)}%`,
  ]),
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
console.log('');
console.log(
  `machine: ${machine.cpus} CPUs × ${machine.model}, ${machine.memoryGiB} GiB memory, node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}; ` +
    `load average ${machine.loadavgAtStart.join(' ')} at start, ${loadavgAtEnd.join(' ')} at end; ` +
    `other processes used ${(otherCpuShare * 100).toFixed(0)}% of the machine's CPU during the run`,
);
console.log(`code: ${code.commit}${code.uncommittedInSrc.length ? ` + uncommitted changes in ${code.uncommittedInSrc.map((l) => l.slice(3)).join(', ')}` : ''}`);
console.log(
  `run: ${(EVENTS * WEBHOOKS).toLocaleString('en')} deliveries (${EVENTS.toLocaleString('en')} events × ${WEBHOOKS} webhooks), fan-out ${FAN_EVENTS.toLocaleString('en')} × ${FANOUT}, latency windows ${LOAD_MS / 1000} s${QUICK ? ' (--quick)' : ''}`,
);
console.log(line(header));
console.log('|' + widths.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + (i === 0 ? 1 : 1)) + (i === 0 ? '' : ':')).join('|') + '|');
for (const r of rows) console.log(line(r));
console.log('');
console.log(
  `deliveries/s: ${(EVENTS * WEBHOOKS).toLocaleString('en')} deliveries from the first ingest request to the last arrival; ÷ceiling: against the bare-undici ceiling of this run ` +
    `(3 origins; fan-out against 10). p50/p99: ingest request → receipt, at half the system's own rate; degraded: the healthy two of three webhooks while the third answers in ${SLOW_MS / 1000} s, ` +
    `same offered load. Peak RSS: sum of the system's own processes' peaks (the shared PostgreSQL/Redis servers not included). CPU: the processes' CPU time per 1,000 deliveries in the throughput case, + the database server's (all of its processes). Others' CPU: share of the machine's CPU used by processes not of this run while the system was measured (the machine is shared). ` +
    `* = not every delivery arrived in time; >Ns = some had not arrived N s after the load stopped.`,
);
for (const r of results) {
  const dups = (r.throughput?.duplicates ?? 0) + (r.latency?.duplicates ?? 0) + (r.fanout?.duplicates ?? 0) + (r.degraded?.duplicates ?? 0);
  if (dups) console.log(`${r.label}: ${dups} duplicate deliveries (same webhook-id twice)`);
  if (r.degraded) console.log(`${r.label}: degraded case, ${r.degraded.slowArrivedDuringWindow} deliveries reached the slow endpoint; healthy ones: ${r.degraded.count} of ${r.degraded.count + r.degraded.missing}`);
  for (const e of r.errors) console.log(`${r.label}: ERROR ${e}`);
}

const out = new URL(`./results/bench-${QUICK ? 'quick-' : ''}${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
const json = {
  machine: { ...machine, loadavgAtEnd, otherProcessesCpuShare: +otherCpuShare.toFixed(3) },
  code,
  run: { quick: QUICK, events: EVENTS, webhooks: WEBHOOKS, fanoutWebhooks: FANOUT, fanoutEvents: FAN_EVENTS, loadWindowMs: LOAD_MS, slowMs: SLOW_MS, receiverHosts: HOSTS },
  ceiling: { threeOrigins: ceilings.c3, tenOrigins: ceilings.c10, runs: ceilingRuns },
  systems: results,
};
writeFileSync(out, JSON.stringify(json, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2));
console.log(`\nwritten: ${out.pathname}`);
const failures = await runCleanups();
for (const f of failures) console.error(`bench: cleanup failed: ${f}`);
process.exit(results.some((r) => r.errors.length) ? 1 : 0);
