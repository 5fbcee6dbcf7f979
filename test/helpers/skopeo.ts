// skopeo as a real client: copies, raw manifest inspection, tag listing and
// deletion against plain-HTTP registries on 127.0.0.1.
import { execFile } from 'node:child_process';

export const SKOPEO_BIN = process.env.SKOPEO_BIN ?? 'skopeo';

export interface SkopeoRunOptions {
  /** Kill skopeo after this long. Default 5 minutes. */
  timeoutMs?: number;
  env?: Record<string, string>;
}

export class SkopeoError extends Error {
  constructor(
    readonly args: string[],
    readonly code: number | string | null,
    readonly stderr: string,
  ) {
    super(`skopeo ${args.join(' ')} failed (${code}): ${stderr.trim()}`);
    this.name = 'SkopeoError';
  }
}

function run(args: string[], opts: SkopeoRunOptions = {}): Promise<Buffer> {
  const full = ['--insecure-policy', ...args];
  return new Promise((resolve, reject) => {
    execFile(
      SKOPEO_BIN,
      full,
      {
        encoding: 'buffer',
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 300_000,
        env: { ...process.env, ...opts.env },
      },
      (err, stdout, stderr) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
          reject(new SkopeoError(full, code, stderr.toString('utf8') || err.message));
        } else resolve(stdout);
      },
    );
  });
}

/** Run `skopeo --insecure-policy ...args`; resolves with stdout, rejects with a SkopeoError carrying stderr. */
export async function skopeo(args: string[], opts?: SkopeoRunOptions): Promise<string> {
  return (await run(args, opts)).toString('utf8');
}

/** `docker://HOST/REPO:TAG` or `docker://HOST/REPO@DIGEST` for a server URL or host:port. */
export function dockerRef(server: string, repo: string, tagOrDigest?: string): string {
  const host = server.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const suffix = tagOrDigest === undefined ? '' : tagOrDigest.includes(':') ? `@${tagOrDigest}` : `:${tagOrDigest}`;
  return `docker://${host}/${repo}${suffix}`;
}

const isDocker = (ref: string) => ref.startsWith('docker://');
const tlsFlag = (ref: string) => (isDocker(ref) ? ['--tls-verify=false'] : []);

export interface CopyOptions extends SkopeoRunOptions {
  /** --all: copy every image of a list/index, not just the one for this platform. */
  all?: boolean;
  /** --format oci|v2s2|v2s1: convert the manifest. */
  format?: 'oci' | 'v2s2' | 'v2s1';
  /**
   * --preserve-digests: fail rather than recompress or rewrite anything.
   * Default: on unless a format conversion was asked for.
   */
  preserveDigests?: boolean;
  extraArgs?: string[];
}

/** `skopeo copy` with TLS verification off on whichever side is a docker:// reference. */
export async function copy(src: string, dst: string, opts: CopyOptions = {}): Promise<string> {
  const args = ['copy', '--quiet'];
  if (isDocker(src)) args.push('--src-tls-verify=false');
  if (isDocker(dst)) args.push('--dest-tls-verify=false');
  if (opts.all) args.push('--all');
  if (opts.format) args.push('--format', opts.format);
  if (opts.preserveDigests ?? opts.format === undefined) args.push('--preserve-digests');
  args.push(...(opts.extraArgs ?? []), src, dst);
  return skopeo(args, opts);
}

/** The manifest (or index) exactly as stored, via `skopeo inspect --raw`; `config: true` gives the config blob. */
export async function inspectRaw(ref: string, opts: SkopeoRunOptions & { config?: boolean } = {}): Promise<Buffer> {
  const args = ['inspect', '--raw', ...(opts.config ? ['--config'] : []), ...tlsFlag(ref), ref];
  return run(args, opts);
}

/** Tags of a repository (`docker://HOST/REPO`), in the order the registry gave them. */
export async function listTags(repoRef: string, opts?: SkopeoRunOptions): Promise<string[]> {
  const out = await skopeo(['list-tags', ...tlsFlag(repoRef), repoRef], opts);
  const parsed = JSON.parse(out) as { Tags?: string[] | null };
  return parsed.Tags ?? [];
}

/** `skopeo delete`: resolves a tag to its digest and deletes the manifest by digest. */
export async function deleteImage(ref: string, opts?: SkopeoRunOptions): Promise<void> {
  await skopeo(['delete', ...tlsFlag(ref), ref], opts);
}
