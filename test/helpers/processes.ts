// Start a registry server as a child process, wait until it serves /v2/, and
// make sure it never outlives the test or benchmark process that started it.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { request } from 'node:http';

export interface SpawnServerOptions {
  command: string;
  args: string[];
  /** Port the server was configured to listen on. */
  port: number;
  /** Address it listens on (default 127.0.0.1). */
  host?: string;
  /** stdout and stderr both go here, appended, for reading after a failure. */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for GET /v2/ to answer at all. Default 30 s. */
  readyTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL in stop(). Default 5 s. */
  stopTimeoutMs?: number;
}

export interface ServerProcess {
  pid: number;
  port: number;
  /** http://HOST:PORT, no trailing slash. */
  url: string;
  logFile: string;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after the grace period. Safe to call twice. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooksInstalled = false;

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

// On a normal exit the children are killed synchronously. For SIGINT/SIGTERM
// we kill them and then let the signal do what it would have done.
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAll();
      process.removeListener(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/** The last `bytes` of a log file, for error messages. */
export function tailOf(file: string, bytes = 4000): string {
  if (!existsSync(file)) return '(no log file)';
  const text = readFileSync(file, 'utf8');
  return text.length > bytes ? '...' + text.slice(-bytes) : text;
}

/** One GET /v2/ with a fresh connection; resolves with the status or undefined on any error. */
function probe(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(
      { host, port, path: '/v2/', method: 'GET', agent: false, timeout: 1000 },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function spawnServer(opts: SpawnServerOptions): Promise<ServerProcess> {
  installHooks();
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  live.add(child);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      resolve();
    });
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });

  const stop = async (): Promise<void> => {
    if (exited || child.pid === undefined) return;
    child.kill('SIGTERM');
    const grace = opts.stopTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exitPromise.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), grace))),
    ]);
    clearTimeout(timer);
    if (timedOut && !exited) {
      child.kill('SIGKILL');
      await exitPromise;
    }
  };

  const host = opts.host ?? '127.0.0.1';
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  const describe = `${opts.command} ${opts.args.join(' ')}`;
  while (true) {
    if (spawnError) throw new Error(`could not start ${describe}: ${spawnError.message}`);
    if (exited) {
      throw new Error(
        `${describe} exited (code ${exited.code}, signal ${exited.signal}) before serving /v2/; log ${opts.logFile}:\n${tailOf(opts.logFile)}`,
      );
    }
    if ((await probe(host, opts.port)) !== undefined) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${describe} did not answer GET /v2/ on port ${opts.port} in time; log ${opts.logFile}:\n${tailOf(opts.logFile)}`);
    }
    await sleep(50);
  }

  return {
    pid: child.pid as number,
    port: opts.port,
    url: `http://${host}:${opts.port}`,
    logFile: opts.logFile,
    child,
    stop,
  };
}
