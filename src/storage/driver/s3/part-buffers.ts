/**
 * Part-sized buffers shared by the writers of one driver. A chunked upload opens a writer per PATCH
 * request; reusing the buffers of finished writers keeps a stream of requests from leaving a trail
 * of 10 MiB garbage buffers that the garbage collector frees only later, which shows as RSS.
 * Only a few are kept: enough for one upload at full speed.
 */
export class PartBuffers {
  readonly #free: Buffer[] = [];

  constructor(
    readonly size: number,
    private readonly keep: number,
  ) {}

  /** A pooled buffer, if one is free. */
  reuse(): Buffer | undefined {
    return this.#free.pop();
  }

  /** A part-sized buffer: pooled or new. */
  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Hand back a buffer no request holds any more. Smaller ones (a small upload's) are left to the GC. */
  give(buf: Buffer | undefined): void {
    if (buf && buf.length === this.size && this.#free.length < this.keep) this.#free.push(buf);
  }
}
