/** The berth_io addon (src/native/io.c), or undefined where it was not built (non-Linux, no compiler). */
import { loadNativeAddon } from '../util/native-addon.js';

export interface IoAddon {
  /** sendfile(2) on a pool thread; resolves [sent, errno, stalled]. See io.c. */
  sendfile(sock: number, file: number, offset: number, length: number, budgetMs: number): Promise<[number, number, number]>;
  /** A Buffer whose memory starts on an ALIGNMENT boundary; `size` a multiple of ALIGNMENT. */
  alignedBuffer(size: number): Buffer;
  readonly ALIGNMENT: number;
  /** A whole file read on one pool thread; rejects with `code` set as Node's fs errors (EFBIG above maxBytes). */
  readFile(path: string, maxBytes: number): Promise<Buffer>;
  /** recv(2) into buffer[offset, offset+length) on a pool thread; resolves [received, errno, eof]. See io.c. */
  recv(sock: number, buffer: Buffer, offset: number, length: number, budgetMs: number): Promise<[number, number, number]>;
  /** Fraction (0..1) of `samples` evenly spread pages of the range that are in the page cache; -1 unknown. */
  resident(fd: number, offset: number, length: number, samples: number): number;
  /** Move bytes between two sockets on a pool thread; resolves [received, sent, pendingStart, pendingEnd, errno, eof, stalled]. See io.c. */
  relay(src: number, dst: number, buffer: Buffer, pendingStart: number, pendingEnd: number, maxIn: number, budgetMs: number): Promise<[number, number, number, number, number, number, number]>;
  /** Write `tmp` (a sibling of `path`), fdatasync unless `sync` is false, rename it over `path`, creating parents; one pool job. */
  writeFileAtomic(path: string, tmp: string, data: Buffer, sync?: boolean): Promise<void>;
}

export const io: IoAddon | undefined = loadNativeAddon<IoAddon>('berth_io', 'BERTH_DISABLE_NATIVE_IO');
