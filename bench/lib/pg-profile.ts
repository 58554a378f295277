/**
 * Diagnostic preload (`--import`) for MailerLogic processes, enabled by BENCH_PG_PROFILE=<dir>:
 * counts every SQL statement the process sends through `pg` and the time until its answer
 * (round trip as the client sees it: PostgreSQL's work plus waiting), grouped by statement
 * shape, and writes them as JSON to <dir>/pg-<pid>.json when the process exits.
 * Not used for the table's figures (it adds a little work per query).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

const dir = process.env.BENCH_PG_PROFILE;
if (dir) {
  const stats = new Map<string, { calls: number; ms: number; rows: number }>();
  const shape = (text: string) =>
    text
      .replace(/\s+/g, ' ')
      .replace(/\(\$\d+(, \$\d+)*\)/g, '(…)')
      .replace(/\$\d+/g, '$')
      .replace(/(\(…\), )+\(…\)/g, '(…), …')
      .trim()
      .slice(0, 160);
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0];
    const text = typeof q === 'string' ? q : q && typeof q === 'object' && 'text' in q ? String((q as { text: unknown }).text) : '';
    const result = original.apply(this, args);
    if (!text || !(result instanceof Promise)) return result;
    const started = performance.now();
    const key = shape(text);
    return result.then((r: { rowCount?: number | null }) => {
      const s = stats.get(key) ?? { calls: 0, ms: 0, rows: 0 };
      s.calls++;
      s.ms += performance.now() - started;
      s.rows += r?.rowCount ?? 0;
      stats.set(key, s);
      return r;
    });
  };
  process.on('exit', () => {
    const rows = [...stats.entries()].map(([statement, s]) => ({ statement, ...s })).sort((a, b) => b.ms - a.ms);
    writeFileSync(join(dir, `pg-${process.pid}.json`), JSON.stringify(rows, null, 2));
  });
}
export {};
