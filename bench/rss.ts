// Memory of a server process from /proc/PID/status: VmRSS sampled on a timer
// (overall and per workload window) and the kernel's own high-water mark VmHWM; and the CPU time
// it has used, from /proc/PID/stat.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** A field of /proc/PID/status in MB (10^6 bytes), or undefined when unreadable. */
export function procStatusMB(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m?.[1] ? (Number(m[1]) * 1024) / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  /** Highest VmRSS seen since start. */
  peak = 0;
  private windowPeak = 0;

  constructor(
    readonly pid: number,
    private readonly intervalMs = 100,
  ) {}

  private sample(): void {
    const rss = procStatusMB(this.pid, 'VmRSS');
    if (rss === undefined) return;
    if (rss > this.peak) this.peak = rss;
    if (rss > this.windowPeak) this.windowPeak = rss;
  }

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Highest VmRSS since the previous call (or start); begins a new window. */
  window(): number {
    this.sample();
    const w = this.windowPeak;
    this.windowPeak = 0;
    return w;
  }

  /** Stop sampling; returns the kernel's VmHWM (falls back to the sampled peak). */
  stop(): number {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    return procStatusMB(this.pid, 'VmHWM') ?? this.peak;
  }
}
