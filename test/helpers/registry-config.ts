// The configuration file shared by the reference registry and berth (both read
// distribution's YAML format), and the plumbing to launch either one over it.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './ports.js';
import { spawnServer } from './processes.js';

export interface RegistryOptions {
  /** Filesystem driver root. Default: a fresh directory inside the server's temp dir. */
  rootdirectory?: string;
  /** Use the inmemory driver instead of the filesystem one. */
  inmemory?: boolean;
  /**
   * Merged into the generated config: objects merge key by key, anything else
   * replaces, and `null` removes a key (e.g. `{ storage: { delete: null } }`).
   */
  extraConfig?: object;
  /** Extra environment variables for the server process. */
  env?: Record<string, string>;
  /** Keep the temp dir (config, log, default root) after stop(). Also BERTH_KEEP_TMP=1. */
  keep?: boolean;
  /**
   * Run the server inside this network namespace (with `ip netns exec`, so as root), listening on
   * `address` there, which must be reachable from here (bench/netns-link.ts makes such a namespace).
   */
  netns?: { name: string; address: string };
}

export interface RegistryServer {
  /** http://127.0.0.1:PORT (another address with RegistryOptions.netns) */
  url: string;
  /** host:port, the form skopeo's docker:// references want. */
  host: string;
  port: number;
  pid: number;
  /** Undefined with the inmemory driver. */
  rootdirectory: string | undefined;
  /** The server's temp dir: config.yml, server.log and (by default) root/. */
  dir: string;
  configFile: string;
  logFile: string;
  stop(): Promise<void>;
}

type Plain = Record<string, unknown>;

const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Recursive merge as described on RegistryOptions.extraConfig; returns a new object. */
export function mergeConfig(base: Plain, extra: object): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    if (value === null) delete out[key];
    else if (isPlain(value) && isPlain(out[key])) out[key] = mergeConfig(out[key] as Plain, value);
    else out[key] = value;
  }
  return out;
}

/** version 0.1, filesystem (or inmemory) storage with delete enabled, HOST:PORT (127.0.0.1), log level warn. */
export function buildConfig(port: number, rootdirectory: string | undefined, extra: object = {}, host = '127.0.0.1'): Plain {
  const base: Plain = {
    version: 0.1,
    log: { level: 'warn' },
    storage: {
      ...(rootdirectory === undefined ? { inmemory: {} } : { filesystem: { rootdirectory } }),
      delete: { enabled: true },
    },
    http: { addr: `${host}:${port}` },
  };
  return mergeConfig(base, extra);
}

/** The YAML text of a config object (`version: 0.1` comes out unquoted, as in distribution's samples). */
export function configYaml(config: Plain): string {
  return stringify(config, { lineWidth: 0 });
}

export interface LaunchSpec {
  /** Prefix for the temp dir name. */
  name: string;
  command: string;
  /** Arguments given the path of the written config file. */
  args: (configFile: string) => string[];
  cwd?: string;
  readyTimeoutMs?: number;
}

/** Write the config into a new temp dir, start the process, wait for /v2/. */
export async function launchRegistry(spec: LaunchSpec, opts: RegistryOptions = {}): Promise<RegistryServer> {
  const dir = mkdtempSync(join(tmpdir(), `${spec.name}-`));
  const keep = opts.keep === true || process.env.BERTH_KEEP_TMP === '1';
  const cleanup = () => {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  let rootdirectory: string | undefined;
  if (!opts.inmemory) {
    rootdirectory = opts.rootdirectory ?? join(dir, 'root');
    mkdirSync(rootdirectory, { recursive: true });
  }
  const port = await freePort();
  const configFile = join(dir, 'config.yml');
  const logFile = join(dir, 'server.log');
  const host = opts.netns?.address ?? '127.0.0.1';
  writeFileSync(configFile, configYaml(buildConfig(port, rootdirectory, opts.extraConfig, host)));
  // `ip netns exec` execs the server in place, so the pid is still the server's.
  const inNetns = opts.netns ? ['netns', 'exec', opts.netns.name, spec.command] : [];
  try {
    const proc = await spawnServer({
      command: opts.netns ? 'ip' : spec.command,
      args: [...inNetns, ...spec.args(configFile)],
      port,
      host,
      logFile,
      cwd: spec.cwd,
      env: { ...process.env, ...opts.env },
      readyTimeoutMs: spec.readyTimeoutMs,
    });
    return {
      url: proc.url,
      host: `${host}:${port}`,
      port,
      pid: proc.pid,
      rootdirectory,
      dir,
      configFile,
      logFile,
      stop: async () => {
        await proc.stop();
        cleanup();
      },
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}
