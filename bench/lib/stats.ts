/** Nearest-rank percentile of values (Infinity stands for a delivery that had not arrived). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export type LatencySummary = {
  count: number;
  missing: number;
  /** Missing deliveries had waited at least this long when the case stopped watching. */
  missingAtLeastMs: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
};

export function summarize(latencies: number[], expected: number, missingAtLeastMs: number): LatencySummary {
  const missing = Math.max(0, expected - latencies.length);
  const all = latencies.concat(Array.from({ length: missing }, () => Infinity)).sort((a, b) => a - b);
  return {
    count: latencies.length,
    missing,
    missingAtLeastMs,
    p50: percentile(all, 50),
    p90: percentile(all, 90),
    p99: percentile(all, 99),
    max: all.length ? all[all.length - 1] : NaN,
  };
}

export function fmtMs(v: number, s?: LatencySummary): string {
  if (Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return s ? `>${(s.missingAtLeastMs / 1000).toFixed(0)}s` : '∞';
  return v >= 10_000 ? `${(v / 1000).toFixed(1)}s` : `${Math.round(v)}`;
}
