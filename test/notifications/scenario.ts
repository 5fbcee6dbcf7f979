// One registry session that produces every kind of event: a skopeo push and pull, HEAD and
// conditional requests, a cross-repository mount, and deletes of a blob, a manifest and its tag.
// Run against berth and against the reference so their events can be compared.
import assert from 'node:assert/strict';
import { MANIFEST_ACCEPT, req } from '../helpers/registry-client.js';
import type { BuiltImage } from '../helpers/fixtures.js';
import { copy, deleteImage, dockerRef } from '../helpers/skopeo.js';

export const REPO = 'team/app';
export const OTHER = 'other/app';
export const TAG = 'v1';

/** Run the session against `url`; `pullDir` receives the pulled image. */
export async function runScenario(url: string, image: BuiltImage, pullDir: string): Promise<void> {
  await copy(image.ref, dockerRef(url, REPO, TAG));
  await copy(dockerRef(url, REPO, TAG), `oci:${pullDir}:${TAG}`);

  const manifestURL = `${url}/v2/${REPO}/manifests/${TAG}`;
  const layer = image.layers[0]!.digest;
  assert.equal((await req('HEAD', manifestURL, { headers: { accept: MANIFEST_ACCEPT } })).status, 200);
  const notModified = await req('GET', manifestURL, { headers: { accept: MANIFEST_ACCEPT, 'if-none-match': `"${image.manifest.digest}"` } });
  assert.equal(notModified.status, 304);
  assert.equal((await req('HEAD', `${url}/v2/${REPO}/blobs/${layer}`)).status, 200);

  const mount = await req('POST', `${url}/v2/${OTHER}/blobs/uploads/?mount=${layer}&from=${REPO}`);
  assert.equal(mount.status, 201);
  assert.equal((await req('DELETE', `${url}/v2/${OTHER}/blobs/${layer}`)).status, 202);
  // skopeo resolves the tag (a GET of the manifest), then deletes by digest; the tag goes with it.
  await deleteImage(dockerRef(url, REPO, TAG));
}

/** The events the scenario must produce, in order, as `action method repository what`. */
export function expectedSequence(image: BuiltImage): string[] {
  const blobs = image.blobs;
  const m = image.manifest.digest;
  return [
    // skopeo uploads blobs concurrently: their order among themselves is not fixed (see sortBlobs).
    ...blobs.map((d) => `push PUT ${REPO} ${d}`),
    `push PUT ${REPO} ${m} ${TAG}`,
    `pull GET ${REPO} ${m} ${TAG}`,
    ...blobs.map((d) => `pull GET ${REPO} ${d}`),
    `pull HEAD ${REPO} ${m} ${TAG}`,
    // the 304 produced nothing
    `pull HEAD ${REPO} ${image.layers[0]!.digest}`,
    `mount POST ${OTHER} ${image.layers[0]!.digest}`,
    `delete DELETE ${OTHER} ${image.layers[0]!.digest}`,
    `pull GET ${REPO} ${m} ${TAG}`,
    `delete DELETE ${REPO} ${m}`,
    `delete DELETE ${REPO} ${TAG}`,
  ];
}

export interface LooseEvent {
  action: string;
  request: { method?: string };
  target: { repository?: string; digest?: string; tag?: string };
}

/** `action method repository digest [tag]` (tag deletes: `... repository tag`). */
export function describeEvent(e: LooseEvent): string {
  const what = [e.target.digest, e.target.tag].filter((x) => x !== undefined).join(' ');
  return `${e.action} ${e.request.method} ${e.target.repository} ${what}`;
}

/** Runs of blob transfers (same action and method, no tag) sorted, so concurrent uploads compare equal. */
export function sortBlobRuns(lines: string[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  let key = '';
  const flush = () => {
    out.push(...run.sort());
    run = [];
  };
  for (const line of lines) {
    const parts = line.split(' ');
    const isBlobTransfer = parts.length === 4 && (parts[0] === 'push' || parts[0] === 'pull');
    const k = isBlobTransfer ? `${parts[0]} ${parts[1]}` : '';
    if (!isBlobTransfer || k !== key) flush();
    key = k;
    if (isBlobTransfer) run.push(line);
    else out.push(line);
  }
  flush();
  return out;
}
