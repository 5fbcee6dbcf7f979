/**
 * A StorageDriver that hands every call to another one. Storage middlewares extend it and override
 * what they change (the redirect middlewares: `redirectURL` only).
 */
import type { Readable } from 'node:stream';
import type { CallOptions, PutOptions, FileInfo, FileWriter, RedirectOptions, StorageDriver, WalkDecision, WriterOptions } from '../driver.js';

export class DriverWrapper implements StorageDriver {
  constructor(protected readonly inner: StorageDriver) {}

  get name(): string {
    return this.inner.name;
  }

  getContent(path: string, opts?: CallOptions): Promise<Buffer> {
    return this.inner.getContent(path, opts);
  }

  putContent(path: string, content: Uint8Array | string, opts?: PutOptions): Promise<void> {
    return this.inner.putContent(path, content, opts);
  }

  reader(path: string, offset: number, opts?: CallOptions): Promise<Readable> {
    return this.inner.reader(path, offset, opts);
  }

  writer(path: string, opts?: WriterOptions): Promise<FileWriter> {
    return this.inner.writer(path, opts);
  }

  stat(path: string, opts?: CallOptions): Promise<FileInfo> {
    return this.inner.stat(path, opts);
  }

  list(path: string, opts?: CallOptions): Promise<string[]> {
    return this.inner.list(path, opts);
  }

  move(src: string, dst: string, opts?: CallOptions): Promise<void> {
    return this.inner.move(src, dst, opts);
  }

  delete(path: string, opts?: CallOptions): Promise<void> {
    return this.inner.delete(path, opts);
  }

  walk(path: string, visit: (info: FileInfo) => WalkDecision | Promise<WalkDecision>, opts?: CallOptions): Promise<void> {
    return this.inner.walk(path, visit, opts);
  }

  redirectURL(path: string, opts: RedirectOptions): Promise<string | undefined> {
    return this.inner.redirectURL(path, opts);
  }
}
