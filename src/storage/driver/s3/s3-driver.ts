/**
 * A storage driver over an S3 bucket (AWS S3, Ceph RGW, MinIO, ...), on the official SDK v3.
 *
 * - Objects are files; directories are implicit, the common prefixes of keys. `stat` of a path
 *   that is no object asks whether anything lies below it.
 * - `list` and `walk` go one directory level at a time with the `/` delimiter (pages of 1000),
 *   so a walk that skips a directory never lists what is inside it.
 * - `move` is a server-side copy (one CopyObject up to `multipartcopythresholdsize`, a
 *   multipart copy above it) followed by a delete of the source.
 * - `delete` of a directory lists everything below it and deletes in batches of 1000, and aborts
 *   multipart uploads left open below it by writers that died midway.
 * - `redirectURL` presigns a GET (or HEAD) valid for 20 minutes.
 * - Every call passes its AbortSignal to each request; see client.ts for timeouts and retries.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { attachSocketSource, type CallOptions, type FileInfo, type FileWriter, type RedirectOptions, type StorageDriver, type WalkDecision, type WriterOptions } from '../driver.js';
import { PathNotFoundError, throwIfAborted, validateOffset, validatePath } from '../errors.js';
import { Bucket, failure, isInvalidRange, isNotFound, NAME } from './bucket.js';
import { createS3Client } from './client.js';
import { isLargeReadSocket } from '../../../util/large-read-agent.js';
import { abortUploadsBelow, anyBelow, deleteKeys, deleteTree, DIR_TIME, listChildren } from './listing.js';
import { multipartCopy } from './multipart-copy.js';
import type { S3DriverOptions } from './options.js';
import { S3Writer } from './writer.js';

/** How long a presigned redirect URL stays valid. */
export const REDIRECT_EXPIRY_SECONDS = 20 * 60;

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

export class S3Driver implements StorageDriver {
  readonly name = NAME;
  readonly #b: Bucket;

  constructor(options: S3DriverOptions, client: S3Client = createS3Client(options)) {
    this.#b = new Bucket(client, options);
  }

  /** Release the client's sockets. */
  destroy(): void {
    this.#b.client.destroy();
  }

  /** HEAD an object: its size, time and ETag, or undefined when there is no such object. */
  async #head(path: string, signal?: AbortSignal): Promise<{ size: number; modTime: Date; etag?: string } | undefined> {
    try {
      const res = await this.#b.client.send(new HeadObjectCommand({ Bucket: this.#b.name, Key: this.#b.key(path) }), { abortSignal: signal });
      return { size: res.ContentLength ?? 0, modTime: res.LastModified ?? DIR_TIME, etag: res.ETag };
    } catch (err) {
      if (isNotFound(err) && !signal?.aborted) return undefined;
      throw failure(err, path, 'stat', signal, false);
    }
  }

  async getContent(path: string, opts?: CallOptions): Promise<Buffer> {
    validatePath(NAME, path);
    const signal = opts?.signal;
    throwIfAborted(signal);
    try {
      const res = await this.#b.client.send(new GetObjectCommand({ Bucket: this.#b.name, Key: this.#b.key(path) }), { abortSignal: signal });
      const parts: Buffer[] = [];
      for await (const chunk of res.Body as Readable) parts.push(chunk as Buffer);
      return Buffer.concat(parts);
    } catch (err) {
      throw failure(err, path, 'read', signal);
    }
  }

  async putContent(path: string, content: Uint8Array | string, opts?: CallOptions): Promise<void> {
    validatePath(NAME, path);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const body = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    const b = this.#b;
    try {
      const ContentMD5 = createHash('md5').update(body).digest('base64');
      await b.client.send(new PutObjectCommand({ Bucket: b.name, Key: b.key(path), Body: body, ContentLength: body.length, ContentMD5, ...b.writeParams }), {
        abortSignal: signal,
      });
    } catch (err) {
      throw failure(err, path, 'write', signal, false);
    }
  }

  async reader(path: string, offset: number, opts?: CallOptions): Promise<Readable> {
    validatePath(NAME, path);
    validateOffset(NAME, path, offset);
    const signal = opts?.signal;
    throwIfAborted(signal);
    try {
      const res = await this.#b.client.send(
        new GetObjectCommand({ Bucket: this.#b.name, Key: this.#b.key(path), ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}) }),
        { abortSignal: signal },
      );
      // The SDK hands over the response itself; the signal stays attached to it until it ends.
      const body = res.Body as Readable & { socket?: unknown };
      const length = res.ContentLength;
      if (isLargeReadSocket(body.socket) && typeof length === 'number') attachSocketSource(body, { socket: body.socket, length });
      return body;
    } catch (err) {
      // 416: the object exists and the offset is at or past its end.
      if (isInvalidRange(err) && !signal?.aborted) return Readable.from([], { objectMode: false });
      throw failure(err, path, 'open', signal);
    }
  }

  async writer(path: string, opts?: WriterOptions): Promise<FileWriter> {
    validatePath(NAME, path);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const key = this.#b.key(path);
    if (!opts?.append) return new S3Writer({ bucket: this.#b, path, key, base: 0, append: false });
    const existing = await this.#head(path, signal);
    if (!existing) throw new PathNotFoundError(NAME, path);
    throwIfAborted(signal);
    return new S3Writer({ bucket: this.#b, path, key, base: existing.size, baseETag: existing.etag, append: true });
  }

  async stat(path: string, opts?: CallOptions): Promise<FileInfo> {
    validatePath(NAME, path, true);
    const signal = opts?.signal;
    throwIfAborted(signal);
    try {
      if (path === '/') {
        await anyBelow(this.#b, this.#b.dirPrefix('/'), signal); // reaches the bucket: a health check
        return { path, size: 0, modTime: DIR_TIME, isDir: true };
      }
      const file = await this.#head(path, signal);
      if (file) return { path, size: file.size, modTime: file.modTime, isDir: false };
      if (await anyBelow(this.#b, this.#b.dirPrefix(path), signal)) return { path, size: 0, modTime: DIR_TIME, isDir: true };
    } catch (err) {
      throw failure(err, path, 'stat', signal);
    }
    throw new PathNotFoundError(NAME, path);
  }

  async list(path: string, opts?: CallOptions): Promise<string[]> {
    validatePath(NAME, path, true);
    const signal = opts?.signal;
    throwIfAborted(signal);
    let children;
    try {
      children = await listChildren(this.#b, this.#b.dirPrefix(path), signal);
    } catch (err) {
      throw failure(err, path, 'list', signal);
    }
    if (children.length === 0 && path !== '/') throw new PathNotFoundError(NAME, path);
    return children.map((c) => childPath(path, c.name));
  }

  async move(src: string, dst: string, opts?: CallOptions): Promise<void> {
    validatePath(NAME, src);
    validatePath(NAME, dst);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const source = await this.#head(src, signal);
    if (!source) throw new PathNotFoundError(NAME, src);
    if (src === dst) return;
    const b = this.#b;
    const from = b.key(src);
    const to = b.key(dst);
    try {
      if (source.size > b.options.multipartCopyThresholdSize) {
        await multipartCopy(b, from, to, source.size, signal);
      } else {
        await b.client.send(
          new CopyObjectCommand({ Bucket: b.name, Key: to, CopySource: b.copySource(from), MetadataDirective: 'REPLACE', ...b.writeParams }),
          { abortSignal: signal },
        );
      }
    } catch (err) {
      throw failure(err, src, 'move', signal);
    }
    try {
      await b.client.send(new DeleteObjectCommand({ Bucket: b.name, Key: from }), { abortSignal: signal });
    } catch (err) {
      throw failure(err, src, 'move (removing the source)', signal, false);
    }
  }

  async delete(path: string, opts?: CallOptions): Promise<void> {
    validatePath(NAME, path, true);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const b = this.#b;
    const prefix = b.dirPrefix(path);
    const key = path === '/' ? undefined : b.key(path);
    try {
      // A file is one object (the registry never puts anything below a file): no listing needed.
      const file = key !== undefined && (await this.#head(path, signal)) !== undefined;
      const deleted = file ? (await deleteKeys(b, [key], path, signal), 1) : await deleteTree(b, prefix, path, signal);
      await abortUploadsBelow(b, key, prefix, signal);
      if (deleted === 0 && path !== '/') throw new PathNotFoundError(NAME, path);
    } catch (err) {
      throw failure(err, path, 'delete', signal);
    }
  }

  async walk(path: string, visit: (info: FileInfo) => WalkDecision | Promise<WalkDecision>, opts?: CallOptions): Promise<void> {
    validatePath(NAME, path, true);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const first = await this.#children(path, signal);
    if (first.length === 0 && path !== '/') throw new PathNotFoundError(NAME, path);
    await this.#walkDir(path, first, visit, signal);
  }

  async #children(path: string, signal?: AbortSignal) {
    try {
      return await listChildren(this.#b, this.#b.dirPrefix(path), signal);
    } catch (err) {
      throw failure(err, path, 'walk', signal);
    }
  }

  /** Depth-first over one listed directory; resolves true when the visitor asked to stop. */
  async #walkDir(
    dir: string,
    children: Awaited<ReturnType<typeof listChildren>>,
    visit: (info: FileInfo) => WalkDecision | Promise<WalkDecision>,
    signal?: AbortSignal,
  ): Promise<boolean> {
    for (const child of children) {
      throwIfAborted(signal);
      const path = childPath(dir, child.name);
      const decision = await visit({ path, size: child.size, modTime: child.modTime, isDir: child.isDir });
      if (decision === 'stop') return true;
      if (child.isDir && decision !== 'skip') {
        if (await this.#walkDir(path, await this.#children(path, signal), visit, signal)) return true;
      }
    }
    return false;
  }

  async redirectURL(path: string, opts: RedirectOptions): Promise<string | undefined> {
    validatePath(NAME, path);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const b = this.#b;
    const input = { Bucket: b.name, Key: b.key(path) };
    const command = opts.method === 'HEAD' ? new HeadObjectCommand(input) : new GetObjectCommand(input);
    try {
      const url = await getSignedUrl(b.client, command, { expiresIn: REDIRECT_EXPIRY_SECONDS });
      throwIfAborted(signal);
      return url;
    } catch (err) {
      throw failure(err, path, 'presign', signal, false);
    }
  }
}
