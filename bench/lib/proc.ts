/**
 * Child processes of the benchmark: started, watched, measured (/proc) and always stopped.
 * Every child is registered here; on exit, a signal or a crash of the benchmark they are all
 * sent SIGKILL, so no run leaves a service or a worker behind.
 */
import { type ChildProcess, fork, spawn, type ForkOptions, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export type Tracked = {
  label: string;
  child: ChildProcess;
  /** Last lines of stdout/stderr, for error reports. */
  tail: () => string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set once it has exited, with how. */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** True once the benchmark itself asked it to stop. */
  stopping: boolean;
};

const live = new Set<Tracked>();

function track(label: string, child: ChildProcess, onLine?: (line: string) => void): Tracked {
  const lines: string[] = [];
  const keep = (prefix: string) => (buf: Buffer) => {
    for (const line of buf.toString('utf8').split('\n')) {
      if (!line) continue;
      onLine?.(line);
      lines.push(`${prefix}${line.length > 400 ? line.slice(0, 400) + '…' : line}`);
      if (lines.length > 40) lines.shift();
    }
  };
  child.stdout?.on('data', keep(''));
  child.stderr?.on('data', keep('! '));
  const t: Tracked = {
    label,
    child,
    tail: () => lines.join('\n'),
    stopping: false,
    exited: new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        t.exit = { code, signal };
        live.delete(t);
        resolve({ code, signal });
      }),
    ),
  };
  live.add(t);
  return t;
}

/** With `ipc`, the child gets an IPC channel (see tether.ts: it stops when the benchmark goes away). */
export function spawnTracked(label: string, command: string, args: string[], opts: SpawnOptions & { ipc?: boolean }, onLine?: (line: string) => void): Tracked {
  const { ipc, ...rest } = opts;
  return track(label, spawn(command, args, { ...rest, stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'] }), onLine);
}

export function forkTracked(label: string, module: string | URL, args: string[], opts: ForkOptions): Tracked {
  return track(label, fork(module, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }));
}

/** SIGTERM, then SIGKILL after graceMs. */
export async function stop(t: Tracked, graceMs = 5000): Promise<void> {
  if (t.exit) return;
  t.stopping = true;
  t.child.kill('SIGTERM');
  const timer = setTimeout(() => t.child.kill('SIGKILL'), graceMs);
  await t.exited;
  clearTimeout(timer);
}

export function killAll(): void {
  for (const t of live) {
    t.stopping = true;
    try {
      t.child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** A process that died before the benchmark asked it to stop, with its last output. */
export function crashReport(ts: Tracked[]): string | undefined {
  const dead = ts.filter((t) => t.exit && !t.stopping);
  if (!dead.length) return undefined;
  return dead.map((t) => `${t.label} exited (code ${t.exit!.code}, signal ${t.exit!.signal}):\n${t.tail()}`).join('\n');
}

/** A size field of /proc/<pid>/status (kB there), in bytes; 0 if unreadable. */
function statusBytes(pid: number | undefined, field: 'VmHWM' | 'VmRSS'): number {
  if (!pid) return 0;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Peak resident set size (VmHWM) of a live process, in bytes; 0 if unreadable. */
export const peakRss = (pid: number | undefined): number => statusBytes(pid, 'VmHWM');

/** Resident set size (VmRSS) of a live process now, in bytes; 0 if unreadable. */
export const currentRss = (pid: number | undefined): number => statusBytes(pid, 'VmRSS');

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (user + system) a process has used so far, in ms; 0 if unreadable. */
export function cpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ", field 3 (state) is index 0: utime is field 14, stime field 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU time used so far by every process whose command name is `comm` (e.g. postgres), in ms. */
export function cpuMsByName(comm: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) total += cpuMs(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return total;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passed; returns whether it became true. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return check();
}

/** CPU time the whole machine has spent busy (everything but idle and iowait) since boot, in ms. */
export function machineBusyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return ((user + nice + system + irq + softirq + (steal ?? 0)) * 1000) / TICKS_PER_SECOND;
}
