/**
 * The memory soak: MailerLogic on SQLite in one process, fed until N deliveries (default
 * 1,000,000: N/3 events × 3 webhooks) have arrived, with the service's resident memory
 * sampled every 100,000. Ingest keeps at most BACKLOG deliveries outstanding, so the figure is
 * the service's own memory over a long steady run, not that of a queue held in memory.
 * Passes when the RSS at the end is within 20 % of the RSS after the first 100,000.
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { ingestBurst } from './load.ts';
import { startMailerLogic } from './mailerlogic.ts';
import { currentRss, peakRss, sleep } from './proc.ts';
import { startReceiver } from './receiver-client.ts';
import { systemCrash } from './system.ts';

const WEBHOOKS = 3;
const BATCH = 1000;
const BACKLOG = 30_000;
const STEP = 100_000;

export async function soak(total: number, runTag: string, log: (msg: string) => void): Promise<number> {
  const events = Math.ceil(total / WEBHOOKS);
  const deliveries = events * WEBHOOKS;
  const hosts = Array.from({ length: WEBHOOKS }, (_, i) => `127.0.0.${i + 1}`);
  const receiver = await startReceiver(hosts, 2000);
  const sys = await startMailerLogic('sqlite', { warm: [`${receiver.origin(0)}/warm/h0`], soak: hosts.map((_, i) => `${receiver.origin(i)}/soak/h${i}`) }, runTag);
  const pid = sys.procs[0].child.pid;
  const arrivals = receiver.open('soak', { lean: true });
  const samples: { delivered: number; seconds: number; rssBytes: number }[] = [];
  const started = Date.now();
  let sent = 0;
  let nextSample = STEP;
  const sample = () => {
    samples.push({ delivered: arrivals.count, seconds: (Date.now() - started) / 1000, rssBytes: currentRss(pid) });
    const s = samples[samples.length - 1];
    log(`soak: ${s.delivered.toLocaleString('en')} delivered in ${s.seconds.toFixed(0)} s, RSS ${(s.rssBytes / 2 ** 20).toFixed(0)} MB`);
  };
  let error: string | undefined;
  try {
    const deadline = started + Math.max(600_000, (deliveries / 500) * 1000);
    while (arrivals.count < deliveries) {
      if (Date.now() > deadline) throw new Error(`only ${arrivals.count} of ${deliveries} deliveries arrived before the deadline`);
      const crash = systemCrash(sys);
      if (crash) throw new Error(crash);
      if (arrivals.count >= nextSample) {
        sample();
        nextSample += STEP;
      }
      if (sent < events && sent * WEBHOOKS - arrivals.count < BACKLOG) {
        const n = Math.min(BATCH, events - sent);
        // Event ids are unique across the run: the tag is the batch's first index.
        await ingestBurst(sys.target, sys.customers.soak, n, `soak${sent}`, 60_000);
        sent += n;
      } else await sleep(20);
    }
    sample();
  } catch (err) {
    error = (err as Error).message;
  }
  const peak = peakRss(pid);
  await sys.stop().catch(() => {});
  await receiver.stop();

  const first = samples[0];
  const last = samples[samples.length - 1];
  const ratio = first && last ? last.rssBytes / first.rssBytes : NaN;
  const ok = !error && Number.isFinite(ratio) && ratio <= 1.2;
  const result = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version },
    deliveries,
    delivered: arrivals.count,
    duplicates: arrivals.duplicates,
    seconds: (Date.now() - started) / 1000,
    samples,
    rssRatioEndToFirst100k: ratio,
    peakRssBytes: peak,
    ok,
    error,
  };
  const out = new URL(`../results/soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
  writeFileSync(out, JSON.stringify(result, null, 2));
  console.log('');
  console.log(`soak: ${arrivals.count.toLocaleString('en')} of ${deliveries.toLocaleString('en')} deliveries (SQLite, 1 process, ${WEBHOOKS} webhooks, at most ${BACKLOG.toLocaleString('en')} outstanding) in ${result.seconds.toFixed(0)} s, ${arrivals.duplicates} duplicates`);
  console.log('| delivered | seconds | RSS MB |');
  console.log('|---:|---:|---:|');
  for (const s of samples) console.log(`| ${s.delivered.toLocaleString('en')} | ${s.seconds.toFixed(0)} | ${(s.rssBytes / 2 ** 20).toFixed(0)} |`);
  console.log(`RSS at the end ÷ RSS after the first ${STEP.toLocaleString('en')}: ${ratio.toFixed(2)} (limit 1.20); peak ${(peak / 2 ** 20).toFixed(0)} MB — ${ok ? 'flat' : 'NOT flat'}`);
  if (error) console.log(`soak: ERROR ${error}`);
  console.log(`\nwritten: ${out.pathname}`);
  return ok ? 0 : 1;
}
