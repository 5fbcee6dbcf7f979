// A network link inside this machine, for benchmarks: a namespace joined to this one by a veth
// pair, whose far end can be paced by the kernel (a tbf qdisc) at a link speed such as 1gbit. A
// server started in the namespace (RegistryOptions.netns) is then reached across the link, and
// the pacing costs no CPU in any process being measured. Needs root and iproute2 (`ip`, `tc`).
// close() (also run at exit) removes it; a benchmark killed by a signal leaves it behind, to be
// removed with `ip netns del berth-bench-<pid>`.
import { execFileSync } from 'node:child_process';

export interface NetnsLink {
  /** Give to RegistryOptions.netns to start a server at the far end. */
  netns: { name: string; address: string };
  /** Pace what flows out of the namespace (`tc` rate syntax: 1gbit, 2500mbit, ...), or undefined for no limit. */
  setRate(rate: string | undefined): void;
  close(): void;
}

const run = (...args: string[]): string => execFileSync(args[0] as string, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Why a link cannot be made here, or undefined when it can. */
export function netnsLinkUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  try {
    run('ip', '-V');
    run('tc', '-V');
  } catch {
    return 'needs iproute2 (ip, tc)';
  }
  return undefined;
}

export function createNetnsLink(): NetnsLink {
  const id = process.pid % 10_000;
  const name = `berth-bench-${process.pid}`;
  const [here, there] = [`bbh${id}`, `bbn${id}`];
  // A /30 out of 10.213.0.0/16 chosen by pid, so two benchmarks at once do not collide.
  const net = `10.213.${Math.floor(id / 64) % 256}.${(id % 64) * 4}`.split('.').map(Number);
  const addr = (last: number) => `${net[0]}.${net[1]}.${net[2]}.${(net[3] as number) + last}`;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    // Deleting the namespace deletes its end of the pair, and with it ours.
    try {
      run('ip', 'netns', 'del', name);
    } catch {
      // already gone
    }
  };
  try {
    run('ip', 'netns', 'add', name);
    run('ip', 'link', 'add', here, 'type', 'veth', 'peer', 'name', there);
    run('ip', 'link', 'set', there, 'netns', name);
    run('ip', 'addr', 'add', `${addr(1)}/30`, 'dev', here);
    run('ip', 'link', 'set', here, 'up');
    run('ip', '-n', name, 'addr', 'add', `${addr(2)}/30`, 'dev', there);
    run('ip', '-n', name, 'link', 'set', there, 'up');
    run('ip', '-n', name, 'link', 'set', 'lo', 'up');
  } catch (err) {
    close();
    try {
      run('ip', 'link', 'del', here);
    } catch {
      // never made, or gone with the namespace
    }
    throw err;
  }
  process.once('exit', close);
  return {
    netns: { name, address: addr(2) },
    setRate(rate) {
      if (rate === undefined) {
        try {
          run('ip', 'netns', 'exec', name, 'tc', 'qdisc', 'del', 'dev', there, 'root');
        } catch {
          // no qdisc to remove
        }
        return;
      }
      // A token bucket: `rate` sustained, bursts of 1 MB, at most 50 ms of queue.
      run('ip', 'netns', 'exec', name, 'tc', 'qdisc', 'replace', 'dev', there, 'root', 'tbf', 'rate', rate, 'burst', '1mb', 'latency', '50ms');
    },
    close,
  };
}
