// Writes repositories straight into a storage root in distribution's layout,
// so a 10,000-repository catalog costs seconds instead of 10,000 pushes. Each
// repository is complete: it links a small image's config and layer blobs,
// its manifest revision, and tags it "latest". The reference (2.8) lists a
// repository in /v2/_catalog only when it has a _layers directory; tags/list
// needs _manifests/tags. Writing everything satisfies any reader of the layout.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const hexOf = (digest: string) => digest.slice('sha256:'.length);

export interface TinyImage {
  config: Buffer;
  layer: Buffer;
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
}

/** A minimal OCI image: a 4 KiB layer (random, so not a real tar; registries do not care) and its config. */
export function tinyImage(): TinyImage {
  const layer = randomBytes(4096);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }),
  );
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    }),
  );
  return { config, layer, manifest, manifestDigest: sha256(manifest), mediaType };
}

function put(path: string, content: Buffer | string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
}

/** Store one blob under blobs/sha256/<2>/<hex>/data. */
function writeBlob(v2: string, bytes: Buffer): string {
  const digest = sha256(bytes);
  const hex = hexOf(digest);
  put(join(v2, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data'), bytes);
  return digest;
}

/** Write `count` repositories named `${prefix}${i padded to 5}` sharing one tiny image. Returns their names. */
export function writeCatalogRepos(rootdirectory: string, count: number, prefix = 'catalog/repo-'): string[] {
  const v2 = join(rootdirectory, 'docker', 'registry', 'v2');
  const image = tinyImage();
  const blobs = [writeBlob(v2, image.config), writeBlob(v2, image.layer)];
  const manifest = writeBlob(v2, image.manifest);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}${String(i).padStart(5, '0')}`;
    const repo = join(v2, 'repositories', ...name.split('/'));
    for (const d of blobs) put(join(repo, '_layers', 'sha256', hexOf(d), 'link'), d);
    const m = join(repo, '_manifests');
    put(join(m, 'revisions', 'sha256', hexOf(manifest), 'link'), manifest);
    put(join(m, 'tags', 'latest', 'current', 'link'), manifest);
    put(join(m, 'tags', 'latest', 'index', 'sha256', hexOf(manifest), 'link'), manifest);
    names.push(name);
  }
  return names;
}
