// Test images built on disk without any network: OCI image layouts holding a
// single-platform image or a multi-arch index, and Docker schema2 images in
// skopeo's dir: format. Layers are real tar archives of random bytes, written
// as a stream so a layer can be far larger than we would want in memory.
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { copy } from './skopeo.js';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const sha256 = (data: Buffer | string): string => 'sha256:' + createHash('sha256').update(data).digest('hex');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface LayerSpec {
  /** Bytes of random file content inside the tar (the archive is a little larger). */
  size: number;
  /** Default true. Registries get gzip layers; skopeo would recompress plain tar on push. */
  gzip?: boolean;
}

export interface BuiltLayer extends Descriptor {
  /** sha256 of the uncompressed tar, as listed in the config's rootfs.diff_ids. */
  diffID: string;
}

/** A manifest or index: its descriptor plus the exact bytes it was written with. */
export interface BuiltManifest extends Descriptor {
  bytes: Buffer;
}

export interface BuiltImage {
  /** skopeo reference to the image, e.g. `oci:/tmp/x/layout:v1` or `dir:/tmp/x/s2`. */
  ref: string;
  manifest: BuiltManifest;
  config: Descriptor;
  layers: BuiltLayer[];
  /** Every blob digest the image references (config first, then layers); no manifests. */
  blobs: string[];
}

export interface BuiltIndex {
  ref: string;
  index: BuiltManifest;
  images: BuiltImage[];
  /** Every blob of every platform image, deduplicated; no manifests. */
  blobs: string[];
}

/** The 512-byte ustar header of one regular file. */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const field = (off: number, len: number, value: string) => h.write(value, off, len, 'ascii');
  const octal = (off: number, len: number, n: number) => field(off, len, n.toString(8).padStart(len - 1, '0') + '\0');
  field(0, 100, name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 1700000000);
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  field(265, 32, 'root');
  field(297, 32, 'root');
  let sum = 0;
  for (const b of h) sum += b;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** A tar archive holding one file of `size` random bytes, produced 1 MiB at a time. */
async function* randomTar(name: string, size: number): AsyncGenerator<Buffer> {
  yield tarHeader(name, size);
  const chunk = 1024 * 1024;
  for (let left = size; left > 0; left -= chunk) yield randomBytes(Math.min(chunk, left));
  const pad = (512 - (size % 512)) % 512;
  yield Buffer.alloc(pad + 1024); // file padding, then the two zero blocks ending the archive
}

/** A pass-through that hashes and counts what flows through it. */
function hashingTap(): { tap: Transform; digest: () => string; size: () => number } {
  const hash = createHash('sha256');
  let n = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      n += chunk.length;
      cb(null, chunk);
    },
  });
  return { tap, digest: () => 'sha256:' + hash.digest('hex'), size: () => n };
}

/** Writer for an OCI image layout directory (oci-layout, index.json, blobs/sha256/...). */
export class OciLayout {
  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    if (!existsSync(join(dir, 'oci-layout'))) {
      writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [] }));
    }
  }

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', ...digest.split(':'));
  }

  /** Store bytes as a blob; returns its descriptor. */
  writeBlob(mediaType: string, bytes: Buffer): BuiltManifest {
    const digest = sha256(bytes);
    writeFileSync(this.blobPath(digest), bytes);
    return { mediaType, digest, size: bytes.length, bytes };
  }

  /** Store a JSON document (manifest, index, config) exactly as serialised here. */
  writeJson(mediaType: string, doc: unknown): BuiltManifest {
    return this.writeBlob(mediaType, Buffer.from(JSON.stringify(doc, null, 2)));
  }

  /** Stream a random tar layer to disk, gzipped by default, hashing on the way. */
  async writeLayer(spec: LayerSpec): Promise<BuiltLayer> {
    const gzip = spec.gzip ?? true;
    const tmp = join(this.dir, 'blobs', `.tmp-${randomBytes(8).toString('hex')}`);
    const raw = hashingTap();
    const stored = hashingTap();
    const stages: NodeJS.ReadWriteStream[] = [raw.tap];
    if (gzip) stages.push(createGzip({ level: 1 }));
    stages.push(stored.tap);
    await pipeline([Readable.from(randomTar('data.bin', spec.size)), ...stages, createWriteStream(tmp)]);
    const digest = stored.digest();
    renameSync(tmp, this.blobPath(digest));
    return { mediaType: gzip ? MEDIA.ociLayerGzip : MEDIA.ociLayer, digest, size: stored.size(), diffID: raw.digest() };
  }

  /** Point `tag` at a manifest or index in index.json (replacing an older entry of that tag). */
  tag(desc: Descriptor, tag: string): void {
    const file = join(this.dir, 'index.json');
    const index = JSON.parse(readFileSync(file, 'utf8')) as { manifests: Descriptor[] };
    const refName = 'org.opencontainers.image.ref.name';
    index.manifests = index.manifests.filter((m) => m.annotations?.[refName] !== tag);
    index.manifests.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, annotations: { [refName]: tag } });
    writeFileSync(file, JSON.stringify(index, null, 2));
  }
}

export interface OciImageOptions {
  tag?: string;
  layers: LayerSpec[];
  platform?: Platform;
}

/** Blobs and manifest of one image, written into a layout but not tagged. */
async function writeImage(layout: OciLayout, opts: OciImageOptions): Promise<Omit<BuiltImage, 'ref'>> {
  const layers: BuiltLayer[] = [];
  for (const spec of opts.layers) layers.push(await layout.writeLayer(spec));
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const configDoc = {
    created: '2024-01-01T00:00:00Z',
    ...platform,
    // A nonce so two fixtures never share a config (and so a manifest) by accident.
    config: { Labels: { 'berth.test.nonce': randomBytes(8).toString('hex') } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) },
  };
  const { bytes: _configBytes, ...config } = layout.writeJson(MEDIA.ociConfig, configDoc);
  const manifest = layout.writeJson(MEDIA.ociManifest, {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config,
    layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
  });
  return { manifest, config, layers, blobs: [config.digest, ...layers.map((l) => l.digest)] };
}

/** One image in an OCI layout at `dir` (created if needed), tagged `tag` (default "latest"). */
export async function buildOciImage(dir: string, opts: OciImageOptions): Promise<BuiltImage> {
  const layout = new OciLayout(dir);
  const tag = opts.tag ?? 'latest';
  const image = await writeImage(layout, opts);
  layout.tag(image.manifest, tag);
  return { ref: `oci:${dir}:${tag}`, ...image };
}

export interface MultiArchOptions {
  tag?: string;
  /** Default linux/amd64, linux/arm64, linux/arm/v7. */
  platforms?: Platform[];
  /** Layers of each platform image. Default two small gzip layers. */
  layers?: LayerSpec[];
}

/** An OCI image index over one image per platform, in an OCI layout at `dir`. */
export async function buildMultiArchIndex(dir: string, opts: MultiArchOptions = {}): Promise<BuiltIndex> {
  const layout = new OciLayout(dir);
  const tag = opts.tag ?? 'latest';
  const platforms = opts.platforms ?? [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64' },
    { os: 'linux', architecture: 'arm', variant: 'v7' },
  ];
  const images: BuiltImage[] = [];
  for (const platform of platforms) {
    const image = await writeImage(layout, { platform, layers: opts.layers ?? [{ size: 16 * 1024 }, { size: 200 * 1024 }] });
    // Each platform image also gets a tag of its own, so it can be copied alone.
    const own = `${tag}-${platform.architecture}${platform.variant ?? ''}`;
    layout.tag(image.manifest, own);
    images.push({ ref: `oci:${dir}:${own}`, ...image });
  }
  const index = layout.writeJson(MEDIA.ociIndex, {
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: images.map((img, i) => ({
      mediaType: img.manifest.mediaType,
      digest: img.manifest.digest,
      size: img.manifest.size,
      platform: platforms[i],
    })),
  });
  layout.tag(index, tag);
  return { ref: `oci:${dir}:${tag}`, index, images, blobs: [...new Set(images.flatMap((i) => i.blobs))] };
}

/**
 * A Docker schema2 image in skopeo's dir: format at `dir`, converted from an
 * OCI image by `skopeo copy --format v2s2`. Blobs keep their bytes (gzip layers
 * are required); manifest and media types are Docker's.
 */
export async function buildDockerSchema2(source: BuiltImage, dir: string): Promise<BuiltImage> {
  await copy(source.ref, `dir:${dir}`, { format: 'v2s2' });
  return readDirImage(dir);
}

/** Read an image back from a skopeo dir: directory (manifest.json plus one file per blob). */
export function readDirImage(dir: string): BuiltImage {
  const bytes = readFileSync(join(dir, 'manifest.json'));
  const doc = JSON.parse(bytes.toString('utf8')) as { mediaType: string; config: Descriptor; layers: Descriptor[] };
  const layers: BuiltLayer[] = doc.layers.map((l) => ({ ...l, diffID: '' }));
  return {
    ref: `dir:${dir}`,
    manifest: { mediaType: doc.mediaType, digest: sha256(bytes), size: bytes.length, bytes },
    config: doc.config,
    layers,
    blobs: [doc.config.digest, ...layers.map((l) => l.digest)],
  };
}

/** Path of a blob in a skopeo dir: directory (named by hex alone for sha256). */
export function dirBlobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':') as [string, string];
  return join(dir, alg === 'sha256' ? hex : `${alg}-${hex}`);
}

/** sha256 of a file, streamed. */
export async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return 'sha256:' + hash.digest('hex');
}

/** Digests of every blob file in an OCI layout, each checked against its name: {digest: size}. */
export async function layoutBlobs(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const base = join(dir, 'blobs', 'sha256');
  for (const name of readdirSync(base)) {
    if (name.startsWith('.')) continue;
    const actual = await fileDigest(join(base, name));
    if (actual !== `sha256:${name}`) throw new Error(`${base}/${name} holds ${actual}`);
    out.set(actual, statSync(join(base, name)).size);
  }
  return out;
}
