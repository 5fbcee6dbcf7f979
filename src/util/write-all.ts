import type { FileHandle } from 'node:fs/promises';

/** Write `len` bytes of `buf` from `off` at `position`, all of them (a write may take fewer). */
export async function writeAll(fh: FileHandle, buf: Buffer, off: number, len: number, position: number): Promise<void> {
  for (let done = 0; done < len; ) {
    const { bytesWritten } = await fh.write(buf, off + done, len - done, position + done);
    done += bytesWritten;
  }
}
