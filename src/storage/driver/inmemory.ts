/**
 * A storage driver kept in process memory, for tests and throwaway registries.
 *
 * Content lives in a tree of nodes. A file is a list of chunks (appending pushes, it never
 * concatenates); small writes are packed into shared blocks so a stream of tiny chunks does not
 * become millions of array entries. Directories exist only while something is below them: every
 * removal prunes emptied parents. Each operation runs synchronously between awaits, so putContent
 * and move are atomic with respect to every other call.
 *
 * Semantics mirror the filesystem driver: an open writer keeps writing to the file node it
 * opened, so a putContent/move/delete of its path meanwhile detaches that node, just as an
 * unlinked inode keeps taking writes on a filesystem.
 */
import { Readable } from 'node:stream';
import type { CallOptions, FileInfo, FileWriter, RedirectOptions, StorageDriver, WalkDecision, WriterOptions } from './driver.js';
import { PathNotFoundError, StorageDriverError, throwIfAborted, validateOffset, validatePath } from './errors.js';

const NAME = 'inmemory';
/** Writes smaller than this are copied into a packed block; bigger ones get their own chunk. */
const SMALL_WRITE = 16 * 1024;
const BLOCK_SIZE = 64 * 1024;
/** Readers hand out copies at most this big (callers may mutate what they receive). */
const READ_PIECE = 256 * 1024;

interface FileNode {
  kind: 'file';
  chunks: Buffer[];
  size: number;
  modTime: Date;
}

interface DirNode {
  kind: 'dir';
  children: Map<string, Node>;
  modTime: Date;
}

type Node = FileNode | DirNode;

function components(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function info(path: string, node: Node): FileInfo {
  return { path, size: node.kind === 'file' ? node.size : 0, modTime: node.modTime, isDir: node.kind === 'dir' };
}

function newDir(): DirNode {
  return { kind: 'dir', children: new Map(), modTime: new Date() };
}

function newFile(chunks: Buffer[], size: number): FileNode {
  return { kind: 'file', chunks, size, modTime: new Date() };
}

function conflict(path: string, why: string): StorageDriverError {
  return new StorageDriverError(`${NAME}: ${path}: ${why}`, NAME, path);
}

export class InMemoryDriver implements StorageDriver {
  readonly name = NAME;
  readonly #root: DirNode = newDir();

  #lookup(path: string): Node | undefined {
    let node: Node = this.#root;
    for (const part of components(path)) {
      if (node.kind !== 'dir') return undefined;
      const next = node.children.get(part);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  #file(path: string): FileNode {
    const node = this.#lookup(path);
    if (node?.kind !== 'file') throw new PathNotFoundError(NAME, path);
    return node;
  }

  /** The parent directory of `path`, created if needed; fails when a file is in the way. */
  #parentFor(path: string): DirNode {
    const parts = components(path);
    let dir = this.#root;
    let at = '';
    for (const part of parts.slice(0, -1)) {
      at += `/${part}`;
      let next = dir.children.get(part);
      if (!next) {
        next = newDir();
        dir.children.set(part, next);
        dir.modTime = new Date();
      }
      if (next.kind !== 'dir') throw conflict(path, `${at} is a file`);
      dir = next;
    }
    return dir;
  }

  /** Put `node` at `path`, replacing a file there (a directory there is a conflict). */
  #attach(path: string, node: Node): void {
    const parent = this.#parentFor(path);
    const name = components(path).at(-1) as string;
    if (parent.children.get(name)?.kind === 'dir' && node.kind === 'file') throw conflict(path, 'is a directory');
    parent.children.set(name, node);
    parent.modTime = new Date();
  }

  /** Take whatever is at `path` out of the tree (parents are left for #prune). */
  #detach(path: string): Node | undefined {
    const parts = components(path);
    const parent = this.#lookup(`/${parts.slice(0, -1).join('/')}`);
    if (parent?.kind !== 'dir') return undefined;
    const name = parts.at(-1) as string;
    const node = parent.children.get(name);
    if (node) {
      parent.children.delete(name);
      parent.modTime = new Date();
    }
    return node;
  }

  /** Drop directories on the way to `path` that have become empty, deepest first. */
  #prune(path: string): void {
    const trail: [DirNode, string][] = [];
    let dir = this.#root;
    for (const part of components(path).slice(0, -1)) {
      const next = dir.children.get(part);
      if (next?.kind !== 'dir') break;
      trail.push([dir, part]);
      dir = next;
    }
    for (let i = trail.length - 1; i >= 0; i--) {
      const [parent, name] = trail[i] as [DirNode, string];
      const child = parent.children.get(name) as DirNode;
      if (child.children.size > 0) return;
      parent.children.delete(name);
      parent.modTime = new Date();
    }
  }

  async getContent(path: string, opts?: CallOptions): Promise<Buffer> {
    validatePath(NAME, path);
    throwIfAborted(opts?.signal);
    const file = this.#file(path);
    return Buffer.concat(file.chunks, file.size);
  }

  async putContent(path: string, content: Uint8Array | string, opts?: CallOptions): Promise<void> {
    validatePath(NAME, path);
    throwIfAborted(opts?.signal);
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
    this.#attach(path, newFile([bytes], bytes.length));
  }

  async reader(path: string, offset: number, opts?: CallOptions): Promise<Readable> {
    validatePath(NAME, path);
    validateOffset(NAME, path, offset);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const file = this.#file(path);
    // Snapshot the chunk list: later appends add chunks or grow a block past this view only.
    const chunks = file.chunks.slice();
    return Readable.from(pieces(chunks, offset), { objectMode: false, ...(signal ? { signal } : {}) });
  }

  async writer(path: string, opts?: WriterOptions): Promise<FileWriter> {
    validatePath(NAME, path);
    throwIfAborted(opts?.signal);
    if (opts?.append) return new MemWriter(this.#file(path), path, (p, n) => this.#cancel(p, n));
    const file = newFile([], 0);
    this.#attach(path, file);
    return new MemWriter(file, path, (p, n) => this.#cancel(p, n));
  }

  /** Remove `node` from `path` if it is still the one there. */
  #cancel(path: string, node: FileNode): void {
    if (this.#lookup(path) !== node) return;
    this.#detach(path);
    this.#prune(path);
  }

  async stat(path: string, opts?: CallOptions): Promise<FileInfo> {
    validatePath(NAME, path, true);
    throwIfAborted(opts?.signal);
    const node = this.#lookup(path);
    if (!node) throw new PathNotFoundError(NAME, path);
    return info(path, node);
  }

  async list(path: string, opts?: CallOptions): Promise<string[]> {
    validatePath(NAME, path, true);
    throwIfAborted(opts?.signal);
    const node = this.#lookup(path);
    if (node?.kind !== 'dir') throw new PathNotFoundError(NAME, path);
    return [...node.children.keys()].sort().map((n) => childPath(path, n));
  }

  async move(src: string, dst: string, opts?: CallOptions): Promise<void> {
    validatePath(NAME, src);
    validatePath(NAME, dst);
    throwIfAborted(opts?.signal);
    const node = this.#lookup(src);
    if (!node) throw new PathNotFoundError(NAME, src);
    if (src === dst) return;
    if (dst.startsWith(`${src}/`)) throw conflict(dst, `cannot move ${src} inside itself`);
    const existing = this.#lookup(dst);
    if (existing?.kind === 'dir') throw conflict(dst, 'is a directory');
    if (existing?.kind === 'file' && node.kind === 'dir') throw conflict(dst, 'is a file');
    // Check the target's parents can exist before changing anything, so a failure leaves src in place.
    this.#parentFor(dst);
    this.#detach(src);
    this.#attach(dst, node);
    this.#prune(src);
  }

  async delete(path: string, opts?: CallOptions): Promise<void> {
    validatePath(NAME, path, true);
    throwIfAborted(opts?.signal);
    if (path === '/') {
      this.#root.children.clear();
      this.#root.modTime = new Date();
      return;
    }
    if (!this.#detach(path)) throw new PathNotFoundError(NAME, path);
    this.#prune(path);
  }

  async walk(path: string, visit: (info: FileInfo) => WalkDecision | Promise<WalkDecision>, opts?: CallOptions): Promise<void> {
    validatePath(NAME, path, true);
    throwIfAborted(opts?.signal);
    const node = this.#lookup(path);
    if (node?.kind !== 'dir') throw new PathNotFoundError(NAME, path);
    await walkDir(path, node, visit, opts?.signal);
  }

  async redirectURL(path: string, opts: RedirectOptions): Promise<string | undefined> {
    validatePath(NAME, path);
    throwIfAborted(opts?.signal);
    return undefined;
  }
}

/** Depth-first over one directory in name order; resolves true when the visitor asked to stop. */
async function walkDir(
  path: string,
  dir: DirNode,
  visit: (info: FileInfo) => WalkDecision | Promise<WalkDecision>,
  signal?: AbortSignal,
): Promise<boolean> {
  for (const name of [...dir.children.keys()].sort()) {
    throwIfAborted(signal);
    const child = dir.children.get(name);
    if (!child) continue; // removed by the visitor meanwhile
    const childP = childPath(path, name);
    const decision = await visit(info(childP, child));
    if (decision === 'stop') return true;
    if (child.kind === 'dir' && decision !== 'skip' && (await walkDir(childP, child, visit, signal))) return true;
  }
  return false;
}

/** Copies of the snapshot's bytes from `offset`, in pieces of at most READ_PIECE. */
function* pieces(chunks: Buffer[], offset: number): Generator<Buffer> {
  let skip = offset;
  for (const chunk of chunks) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    for (let at = skip; at < chunk.length; at += READ_PIECE) {
      yield Buffer.from(chunk.subarray(at, Math.min(chunk.length, at + READ_PIECE)));
    }
    skip = 0;
  }
}

type WriterState = 'open' | 'closed' | 'committed' | 'cancelled';

/** Appends copies of the caller's chunks to a file node; small writes share packed blocks. */
class MemWriter implements FileWriter {
  #state: WriterState = 'open';
  #block: Buffer | undefined;
  #blockLen = 0;
  #blockIndex = -1;

  constructor(
    private readonly file: FileNode,
    private readonly path: string,
    private readonly onCancel: (path: string, file: FileNode) => void,
  ) {}

  get size(): number {
    return this.file.size;
  }

  #ensureOpen(opts?: CallOptions): void {
    throwIfAborted(opts?.signal);
    if (this.#state !== 'open') throw new StorageDriverError(`${NAME}: writer for ${this.path} is ${this.#state}`, NAME, this.path);
  }

  async write(chunk: Uint8Array, opts?: CallOptions): Promise<void> {
    this.#ensureOpen(opts);
    if (chunk.length === 0) return;
    const { chunks } = this.file;
    if (chunk.length >= SMALL_WRITE) {
      chunks.push(Buffer.from(chunk));
      this.#block = undefined;
    } else {
      if (!this.#block || this.#blockLen + chunk.length > BLOCK_SIZE || chunks[this.#blockIndex]?.buffer !== this.#block.buffer) {
        this.#block = Buffer.allocUnsafeSlow(BLOCK_SIZE);
        this.#blockLen = 0;
        this.#blockIndex = chunks.push(this.#block.subarray(0, 0)) - 1;
      }
      this.#block.set(chunk, this.#blockLen);
      this.#blockLen += chunk.length;
      // Replace the view with a longer one; snapshots keep the old, shorter view, which stays valid.
      chunks[this.#blockIndex] = this.#block.subarray(0, this.#blockLen);
    }
    this.file.size += chunk.length;
    this.file.modTime = new Date();
  }

  async close(opts?: CallOptions): Promise<void> {
    if (this.#state === 'closed') return;
    this.#ensureOpen(opts);
    this.#state = 'closed';
  }

  async commit(opts?: CallOptions): Promise<void> {
    this.#ensureOpen(opts);
    this.#state = 'committed';
  }

  async cancel(opts?: CallOptions): Promise<void> {
    if (this.#state === 'cancelled') return;
    this.#ensureOpen(opts);
    this.#state = 'cancelled';
    this.onCancel(this.path, this.file);
  }
}
