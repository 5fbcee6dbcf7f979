/**
 * The storage driver contract: a flat namespace of paths holding bytes, nothing about registries.
 *
 * Paths are absolute, `/`-separated, components matching `[A-Za-z0-9._-]+` (no `.`/`..`, no empty
 * components, no trailing slash); `/` alone names the root (for list/walk/delete of everything).
 * Drivers reject anything else with InvalidPathError before touching storage.
 *
 * Designed so that object stores fit without contortions:
 *  - there is no random-access write and no in-place append: content is either put whole
 *    (putContent, small) or streamed through a FileWriter, which a later process can resume with
 *    `writer(path, { append: true })` after `close()`. How a driver persists an open writer is its
 *    own business (a file for the filesystem, multipart parts for S3, staged blocks for Azure);
 *    the caller only sees `size`.
 *  - `move` is the only way content gets a second name (rename on a filesystem, copy+delete on S3).
 *  - directories are implicit: they exist while something is below them.
 *  - `list` returns full child paths sorted lexically; callers never depend on listing freshness
 *    for correctness (object store listings are eventually consistent).
 *
 * Every method takes an AbortSignal; an aborted call rejects with the signal's reason and leaves
 * no partial content under a final name.
 */
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { streamTag } from '../../util/stream-tag.js';

export interface CallOptions {
  signal?: AbortSignal;
}

export interface FileInfo {
  /** The path as asked for. */
  path: string;
  /** Size in bytes (0 for directories). */
  size: number;
  modTime: Date;
  isDir: boolean;
}

export interface PutOptions extends CallOptions {
  /**
   * The content is a cache the caller can rebuild (an upload's saved hash state): the driver may
   * skip flushing it to stable storage, so a crash may leave it missing or empty, never mixed.
   */
  scratch?: boolean;
}

export interface FileWriter {
  /** Total bytes at the path: what earlier writers persisted plus what this writer accepted. */
  readonly size: number;
  /**
   * Append a chunk. Resolves when the driver has accepted it (not necessarily persisted); the
   * driver keeps no reference to `chunk` after that, so the caller may reuse its memory.
   */
  write(chunk: Uint8Array, opts?: CallOptions): Promise<void>;
  /**
   * Persist everything written and release the writer. A later `writer(path, { append: true })`,
   * in this process or another, continues from `size`. Readers may see the persisted bytes.
   */
  close(opts?: CallOptions): Promise<void>;
  /** Persist everything and finish the content; the writer can't be used after. */
  commit(opts?: CallOptions): Promise<void>;
  /** Discard the content at the path (this writer's and earlier ones'). Idempotent. */
  cancel(opts?: CallOptions): Promise<void>;
}

export interface WriterOptions extends CallOptions {
  /** Continue content left by an earlier writer's close(); PathNotFoundError if there is none. */
  append?: boolean;
}

export interface RedirectOptions extends CallOptions {
  method: 'GET' | 'HEAD';
}

/**
 * What a reader stream over a local file may carry: the open descriptor and where the stream
 * starts, so a server can hand the bytes to the kernel (sendfile) instead of reading them through
 * the stream. The stream still owns the descriptor: keep the stream alive while using it, and
 * destroy the stream afterwards to release it.
 */
export interface LocalFileSource {
  readonly fd: number;
  /** Offset of the stream's first byte in the file. */
  readonly start: number;
  /** Size of the file when it was opened. */
  readonly size: number;
  /** A sender may read the file with O_DIRECT when it is not in the page cache. */
  readonly readDirect?: boolean;
}

const localFile = streamTag<LocalFileSource>('berth.localFile');

/** Mark a reader stream as backed by an open local file. */
export const attachLocalFile = <T extends Readable>(stream: T, source: LocalFileSource): T => localFile.attach(stream, source);

/** The local file behind a reader stream, when the driver left one (see attachLocalFile). */
export const localFileOf = (stream: Readable): LocalFileSource | undefined => localFile.of(stream);

/**
 * What a reader stream fed by an HTTP response may carry: the plain TCP socket the body arrives
 * on, and how many body bytes are still to come from the stream's start. Attached only where the
 * socket buffers nothing itself (each read goes straight to the HTTP parser and into the stream),
 * so a server may stop the socket, take what the stream holds, and move the rest itself (see
 * src/http/socket-relay.ts). The stream and its connection are unusable afterwards: destroy it.
 */
export interface SocketSource {
  readonly socket: Socket;
  readonly length: number;
}

const socketSource = streamTag<SocketSource>('berth.socketSource');

/** Mark a reader stream as fed by `source.socket`. */
export const attachSocketSource = <T extends Readable>(stream: T, source: SocketSource): T => socketSource.attach(stream, source);

/** The socket behind a reader stream, when the driver left one (see attachSocketSource). */
export const socketSourceOf = (stream: Readable): SocketSource | undefined => socketSource.of(stream);

/** What a walk visitor may answer: continue (undefined), skip this directory's contents, or stop the walk. */
export type WalkDecision = void | 'skip' | 'stop';

export interface StorageDriver {
  /** The configuration name of the driver: `filesystem`, `inmemory`, `s3`, ... */
  readonly name: string;
  /** Read small content whole. PathNotFoundError if absent. */
  getContent(path: string, opts?: CallOptions): Promise<Buffer>;
  /** Write small content whole, atomically: readers see the old content or the new, never a mix. */
  putContent(path: string, content: Uint8Array | string, opts?: PutOptions): Promise<void>;
  /**
   * Open a stream of the content from `offset`. Resolves once the content is open (so a missing
   * path rejects with PathNotFoundError, not a stream error). An offset at or past the end gives
   * an empty stream; a negative offset is InvalidOffsetError.
   */
  reader(path: string, offset: number, opts?: CallOptions): Promise<Readable>;
  /** Open a writer: new content (replacing any), or with `append` continuing a closed writer. */
  writer(path: string, opts?: WriterOptions): Promise<FileWriter>;
  /** Stat a file or an (implicit) directory. PathNotFoundError if neither. */
  stat(path: string, opts?: CallOptions): Promise<FileInfo>;
  /** Direct children (files and directories) as full paths, sorted. PathNotFoundError if no such directory (the root lists empty). */
  list(path: string, opts?: CallOptions): Promise<string[]>;
  /** Give content a new name, replacing whatever is there; parents are created. PathNotFoundError if `src` is absent. */
  move(src: string, dst: string, opts?: CallOptions): Promise<void>;
  /** Delete a file or a whole directory tree. PathNotFoundError if absent. */
  delete(path: string, opts?: CallOptions): Promise<void>;
  /**
   * Visit everything below `path` depth-first in lexical order (a directory before its
   * contents). The visitor may answer 'skip' (for a directory: don't descend) or 'stop'.
   * PathNotFoundError if `path` does not exist.
   */
  walk(path: string, visit: (info: FileInfo) => WalkDecision | Promise<WalkDecision>, opts?: CallOptions): Promise<void>;
  /** A URL a client can fetch the content from directly, or undefined when the driver has none. */
  redirectURL(path: string, opts: RedirectOptions): Promise<string | undefined>;
}
