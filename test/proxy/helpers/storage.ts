// Looking at a cache's storage directory from the outside, in the reference layout.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const V2 = join('docker', 'registry', 'v2');

function hexOf(digest: string): [string, string] {
  const [alg, hex] = digest.split(':') as [string, string];
  return [alg, hex];
}

export function blobDataPath(root: string, digest: string): string {
  const [alg, hex] = hexOf(digest);
  return join(root, V2, 'blobs', alg, hex.slice(0, 2), hex, 'data');
}

export function hasBlobData(root: string, digest: string): boolean {
  return existsSync(blobDataPath(root, digest));
}

export function hasLayerLink(root: string, repo: string, digest: string): boolean {
  const [alg, hex] = hexOf(digest);
  return existsSync(join(root, V2, 'repositories', repo, '_layers', alg, hex, 'link'));
}

export function hasManifestLink(root: string, repo: string, digest: string): boolean {
  const [alg, hex] = hexOf(digest);
  return existsSync(join(root, V2, 'repositories', repo, '_manifests', 'revisions', alg, hex, 'link'));
}

export function tagLink(root: string, repo: string, tag: string): string | undefined {
  const p = join(root, V2, 'repositories', repo, '_manifests', 'tags', tag, 'current', 'link');
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}

/** Upload sessions left in a repository (a failed pull-through must leave none). */
export function uploadsLeft(root: string, repo: string): string[] {
  const dir = join(root, V2, 'repositories', repo, '_uploads');
  return existsSync(dir) ? readdirSync(dir) : [];
}

export interface SchedulerEntry {
  Key: string;
  ExpiryData: string;
  EntryType: number;
}

export function schedulerState(root: string): Record<string, SchedulerEntry> | undefined {
  const p = join(root, 'scheduler-state.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as Record<string, SchedulerEntry>) : undefined;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `check` holds (or fail with `what` after `timeoutMs`). */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(100);
  }
}
