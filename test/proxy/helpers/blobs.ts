// Large test blobs that are never held in memory: a header naming the seed, then a 1 MiB random
// block repeated. Receivers check every byte against the pattern as it streams in (cheap, unlike
// hashing each of many copies), so many concurrent downloads can be verified in full.
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { req, resolveLocation } from '../../helpers/registry-client.js';

const BLOCK = randomBytes(1024 * 1024);

export class PatternBlob {
  readonly header: Buffer;
  private cachedDigest: string | undefined;

  constructor(
    readonly seed: string,
    readonly size: number,
  ) {
    this.header = Buffer.alloc(64, 0x20);
    this.header.write(`berth proxy test blob ${seed}`.slice(0, 64), 'ascii');
  }

  /** The bytes [start, end), as views over the pattern. */
  *chunks(start = 0, end = this.size): Generator<Buffer> {
    let pos = start;
    while (pos < end) {
      if (pos < this.header.length) {
        const part = this.header.subarray(pos, Math.min(this.header.length, end));
        yield part;
        pos += part.length;
        continue;
      }
      const off = (pos - this.header.length) % BLOCK.length;
      const n = Math.min(BLOCK.length - off, end - pos);
      yield BLOCK.subarray(off, off + n);
      pos += n;
    }
  }

  get digest(): string {
    if (!this.cachedDigest) {
      const hash = createHash('sha256');
      for (const c of this.chunks()) hash.update(c);
      this.cachedDigest = `sha256:${hash.digest('hex')}`;
    }
    return this.cachedDigest;
  }

  /** Does `chunk` equal the blob's bytes at `offset`? */
  matches(offset: number, chunk: Buffer): boolean {
    let pos = 0;
    for (const expected of this.chunks(offset, Math.min(this.size, offset + chunk.length))) {
      if (!chunk.subarray(pos, pos + expected.length).equals(expected)) return false;
      pos += expected.length;
    }
    return pos === chunk.length;
  }

  /** Push it to a registry repository (streamed). */
  async push(base: string, repo: string): Promise<void> {
    const start = await req('POST', `${base}/v2/${repo}/blobs/uploads/`);
    if (start.status !== 202) throw new Error(`POST upload: ${start.status} ${start.text()}`);
    const loc = resolveLocation(base, start.headers.get('location'));
    loc.searchParams.set('digest', this.digest);
    const done = await req('PUT', loc.toString(), {
      headers: { 'content-type': 'application/octet-stream' },
      body: Readable.from(this.chunks()),
      timeoutMs: 300_000,
    });
    if (done.status !== 201) throw new Error(`PUT upload: ${done.status} ${done.text()}`);
  }
}

export interface Download {
  status: number;
  /** Bytes received so far. */
  received: number;
  /** Every byte so far matched the pattern. */
  intact: boolean;
  /** Resolves when the body ended or failed (never rejects). */
  finished: Promise<{ complete: boolean; error?: Error }>;
}

/**
 * GET a blob and check it against the pattern while it streams in; progress is observable.
 * With `from`, ask for the bytes from that offset on (a Range request). With `pauseMsPerMiB`, the
 * client stops reading for that long after every MiB, as one busy unpacking what it receives.
 */
export function download(url: string, blob: PatternBlob, from = 0, opts: { pauseMsPerMiB?: number } = {}): Promise<Download> {
  const headers: Record<string, string> = from > 0 ? { range: `bytes=${from}-` } : {};
  return new Promise((resolve, reject) => {
    const r = request(url, { agent: false, headers }, (res) => {
      let done!: (v: { complete: boolean; error?: Error }) => void;
      const d: Download = {
        status: res.statusCode ?? 0,
        received: 0,
        intact: true,
        finished: new Promise((f) => (done = f)),
      };
      let sincePause = 0;
      res.on('data', (chunk: Buffer) => {
        if (d.intact && !blob.matches(from + d.received, chunk)) d.intact = false;
        d.received += chunk.length;
        sincePause += chunk.length;
        if (opts.pauseMsPerMiB && sincePause >= 1024 * 1024) {
          sincePause = 0;
          res.pause();
          setTimeout(() => res.resume(), opts.pauseMsPerMiB);
        }
      });
      res.on('end', () => done({ complete: res.complete }));
      res.on('error', (error) => done({ complete: false, error }));
      res.on('close', () => done({ complete: res.complete }));
      resolve(d);
    });
    r.on('error', reject);
    r.end();
  });
}
