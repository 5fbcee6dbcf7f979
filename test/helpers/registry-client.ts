// A thin raw-HTTP client for poking at a registry in tests: no retries, no
// redirects followed, the whole body returned as a Buffer.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

export type Body = string | Buffer | Uint8Array | Readable | AsyncIterable<Uint8Array>;

export interface ReqOptions {
  headers?: Record<string, string>;
  body?: Body;
  /** Abort after this long. Default 60 s. */
  timeoutMs?: number;
}

export interface Res {
  status: number;
  /** Lower-case header names (fetch's Headers). */
  headers: Headers;
  body: Buffer;
  text(): string;
  json<T = unknown>(): T;
}

/** One request; resolves for every HTTP status, rejects only on network errors. */
export async function req(method: string, url: string, opts: ReqOptions = {}): Promise<Res> {
  let body: BodyInit | undefined;
  const init: RequestInit & { duplex?: 'half' } = {};
  if (opts.body === undefined || typeof opts.body === 'string' || opts.body instanceof Uint8Array) {
    body = opts.body as BodyInit | undefined;
  } else {
    const readable = opts.body instanceof Readable ? opts.body : Readable.from(opts.body);
    body = Readable.toWeb(readable) as unknown as BodyInit;
    init.duplex = 'half';
  }
  const res = await fetch(url, {
    ...init,
    method,
    headers: opts.headers,
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
  });
  const buf = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    headers: res.headers,
    body: buf,
    text: () => buf.toString('utf8'),
    json: <T>() => JSON.parse(buf.toString('utf8')) as T,
  };
}

/** Resolve a Location header (absolute or relative) against the registry's base URL. */
export function resolveLocation(base: string, location: string | null): URL {
  if (!location) throw new Error('response has no Location header');
  return new URL(location, base);
}

/** Push a blob held in memory: POST to start an upload, PUT ?digest= with the bytes. Returns the digest. */
export async function pushBlob(base: string, repo: string, bytes: Buffer): Promise<string> {
  const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
  const start = await req('POST', `${base}/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`POST upload: ${start.status} ${start.text()}`);
  const loc = resolveLocation(base, start.headers.get('location'));
  loc.searchParams.set('digest', digest);
  const done = await req('PUT', loc.toString(), {
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  if (done.status !== 201) throw new Error(`PUT upload: ${done.status} ${done.text()}`);
  return digest;
}

/** PUT a manifest under a tag or digest; returns the Docker-Content-Digest the registry answered. */
export async function putManifest(base: string, repo: string, reference: string, mediaType: string, bytes: Buffer): Promise<string> {
  const res = await req('PUT', `${base}/v2/${repo}/manifests/${reference}`, {
    headers: { 'content-type': mediaType },
    body: bytes,
  });
  if (res.status !== 201) throw new Error(`PUT manifest: ${res.status} ${res.text()}`);
  return res.headers.get('docker-content-digest') ?? '';
}

/** Accept header listing every manifest type we push. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');
