/**
 * Block ids and block sizes for block blobs.
 *
 * A committed block blob holds at most 50,000 blocks, and Azure requires every block id of a blob
 * to have the same length. Ids here are a per-writer random nonce plus a zero-padded sequence
 * number, always 24 characters before base64 (32 after), so blocks of different writers (and of
 * different processes appending to one upload) never collide and always have equal length.
 *
 * Sizes: memory per writer is two block buffers (one filling, one uploading), so the first blocks
 * are modest (8 MiB: on azurite, 4 MiB blocks staged at half the rate of 8 MiB ones, 16 MiB ones
 * gained nothing); a blob that already has many blocks gets bigger ones, which keeps the 50,000
 * limit far away (about 210 GB in first-tier blocks, about 1.5 TB in all) while only very large
 * blobs pay for bigger buffers.
 */
import { randomBytes } from 'node:crypto';

export const MiB = 1 << 20;
export const MAX_BLOCKS = 50_000;
export const DEFAULT_BLOCK_SIZE = 8 * MiB;
/** Length of our block ids after base64 (24 bytes before). */
export const BLOCK_ID_LENGTH = 32;

/** Block size for the next block of a blob that already has `blocks` blocks. */
export function blockSizeFor(blocks: number, base = DEFAULT_BLOCK_SIZE): number {
  if (blocks < 25_000) return base;
  if (blocks < 45_000) return base * 4;
  return base * 16;
}

/** Mints the block ids of one writer. */
export class BlockIds {
  readonly #nonce = randomBytes(8).toString('hex');
  #seq = 0;

  next(): string {
    const raw = `${this.#nonce}${String(this.#seq++).padStart(8, '0')}`;
    return Buffer.from(raw, 'latin1').toString('base64');
  }
}

/** Whether a committed block list can be extended with our ids (Azure forbids mixed id lengths). */
export function compatibleBlockIds(ids: readonly string[]): boolean {
  return ids.every((id) => id.length === BLOCK_ID_LENGTH);
}
