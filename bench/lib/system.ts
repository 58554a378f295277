import { withPg } from './cleanup.ts';
import type { IngestTarget } from './load.ts';
import { cpuMs, crashReport, peakRss, type Tracked } from './proc.ts';

/** The webhooks of each case: caseKey → one URL per webhook. */
export type CaseHooks = Record<string, string[]>;

/** A running system under test: an ingest API over HTTP, a customer per case, its processes. */
export type System = {
  target: IngestTarget;
  /** caseKey → customer id (whose webhooks are that case's URLs). */
  customers: Record<string, string>;
  procs: Tracked[];
  /** Stops its processes and removes what it stored (schemas, keys, folders). */
  stop(): Promise<void>;
  /** Its PostgreSQL schema, if it has one (for table statistics). */
  pgSchema?: string;
  /** Extra facts for the JSON (settings used). */
  settings: Record<string, unknown>;
};

export const systemCpuMs = (s: System) => s.procs.reduce((n, t) => n + (t.exit ? 0 : cpuMs(t.child.pid)), 0);
export const systemPeakRss = (s: System) => s.procs.reduce((n, t) => n + (t.exit ? 0 : peakRss(t.child.pid)), 0);
export const systemCrash = (s: System) => crashReport(s.procs);

/** Rows written and scans made per table of a schema, as PostgreSQL counted them (pg_stat_user_tables). */
export async function tableStats(schema: string) {
  return withPg(async (c) => {
    await c.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await c.query(
      `SELECT relname AS table, n_tup_ins AS inserted, n_tup_upd AS updated, n_tup_hot_upd AS hot_updated, n_tup_del AS deleted,
              seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_live_tup AS live, n_dead_tup AS dead
       FROM pg_stat_user_tables WHERE schemaname = $1 ORDER BY n_tup_ins + n_tup_upd DESC`,
      [schema],
    );
    return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'table' ? v : Number(v)])));
  });
}
