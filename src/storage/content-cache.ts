/**
 * A small in-memory cache of manifest bytes by digest. Content addressed by digest never changes,
 * so caching it is always safe, across instances too; whether a repository may serve it is still
 * decided by its revision link in storage on every request. Bounded by total bytes.
 */
import type { Digest } from '../digest/digest.js';

export class ContentCache {
  private readonly entries = new Map<Digest, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes = 32 * 1024 * 1024) {}

  get(digest: Digest): Buffer | undefined {
    const hit = this.entries.get(digest);
    if (hit) {
      this.entries.delete(digest);
      this.entries.set(digest, hit);
    }
    return hit;
  }

  set(digest: Digest, content: Buffer): void {
    if (content.length > this.maxBytes / 8) return; // large manifests are rare; don't let one evict many
    const old = this.entries.get(digest);
    if (old) {
      this.bytes -= old.length;
      this.entries.delete(digest);
    }
    this.entries.set(digest, content);
    this.bytes += content.length;
    for (const [key, value] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= value.length;
    }
  }
}
