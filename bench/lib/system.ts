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
  /** Extra facts for the JSON (settings used). */
  settings: Record<string, unknown>;
};

export const systemCpuMs = (s: System) => s.procs.reduce((n, t) => n + (t.exit ? 0 : cpuMs(t.child.pid)), 0);
export const systemPeakRss = (s: System) => s.procs.reduce((n, t) => n + (t.exit ? 0 : peakRss(t.child.pid)), 0);
export const systemCrash = (s: System) => crashReport(s.procs);
