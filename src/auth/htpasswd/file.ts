/**
 * An htpasswd file of bcrypt entries (`user:$2y$...`, also `$2a$`/`$2b$`), re-read when it changes.
 *
 * bcrypt is slow on purpose, and bcryptjs runs it on the event loop, so a successful verification
 * is remembered per credential: the key is a SHA-256 of a per-process random salt, user and
 * password (the password itself is never kept), the value the hash it was checked against. A later change of
 * that user's hash in the file invalidates the entry. Concurrent checks of the same credential share
 * one bcrypt run.
 */
import { hash as oneShotHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import type { Logger } from 'pino';

export interface HtpasswdOptions {
  path: string;
  /** The configuration key the path came from, for error messages. */
  key: string;
  logger: Logger;
  /** Minimum time between two checks of the file's modification time. Default 1 s. */
  recheckMs?: number;
  /** Remembered successful verifications (the oldest go first). Default 10000. */
  cacheSize?: number;
}

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/** Parse an htpasswd file: `user:hash` lines, blank lines and `#` comments skipped. */
export function parseHtpasswd(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`invalid entry at line ${i + 1}: expected user:hash`);
    entries.set(line.slice(0, colon), line.slice(colon + 1));
  });
  return entries;
}

function fileSignature(s: { mtimeMs: number; size: number; ino: number }): string {
  return `${s.mtimeMs}:${s.size}:${s.ino}`;
}

export class HtpasswdFile {
  private entries = new Map<string, string>();
  private signature = '';
  private checkedAt = 0;
  private checking: Promise<void> | undefined;
  private readonly salt = randomBytes(32).toString('base64');
  private readonly verified = new Map<string, { user: string; hash: string }>();
  private readonly inflight = new Map<string, Promise<boolean>>();
  // A real bcrypt hash, of the file's cost, to compare against for unknown users: they cost as
  // much as known ones.
  private decoy = '';
  private decoyCost = -1;

  private constructor(private readonly opts: HtpasswdOptions) {}

  /** Read the file now; a missing, unreadable or malformed file is an error naming the config key. */
  static async open(opts: HtpasswdOptions): Promise<HtpasswdFile> {
    const file = new HtpasswdFile(opts);
    try {
      await file.load();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'file does not exist' : e.code === 'EACCES' ? 'permission denied' : e.message;
      throw new Error(`${opts.key}: cannot use htpasswd file ${JSON.stringify(opts.path)}: ${why}`, { cause: err });
    }
    return file;
  }

  private async load(): Promise<void> {
    const s = await stat(this.opts.path);
    if (!s.isFile()) throw new Error('not a regular file');
    const text = await readFile(this.opts.path, 'utf8');
    const entries = parseHtpasswd(text);
    const unsupported = [...entries].filter(([, hash]) => !BCRYPT.test(hash)).map(([user]) => user);
    if (unsupported.length > 0) {
      this.opts.logger.warn({ path: this.opts.path, users: unsupported }, `${this.opts.key}: only bcrypt entries are supported; these users cannot sign in`);
    }
    const first = [...entries.values()].find((h) => BCRYPT.test(h));
    const cost = first ? Number(first.slice(4, 6)) : 5;
    if (cost !== this.decoyCost) {
      this.decoy = await bcrypt.hash(randomBytes(16).toString('hex'), cost);
      this.decoyCost = cost;
    }
    this.entries = entries;
    this.signature = fileSignature(s);
    this.checkedAt = Date.now();
  }

  private get due(): boolean {
    return Date.now() - this.checkedAt >= (this.opts.recheckMs ?? 1000);
  }

  /** Re-read the file if it changed since the last look (looking at most once per recheck interval). */
  private async refresh(): Promise<void> {
    this.checking ??= (async () => {
      try {
        const s = await stat(this.opts.path);
        if (fileSignature(s) !== this.signature) {
          await this.load();
          this.opts.logger.info({ path: this.opts.path, users: this.entries.size }, 'htpasswd file reloaded');
        }
        this.checkedAt = Date.now();
      } catch (err) {
        // Fail closed: nobody signs in until the file is readable and well-formed again.
        this.entries = new Map();
        this.signature = '';
        this.checkedAt = Date.now();
        this.opts.logger.error({ err, path: this.opts.path }, `${this.opts.key}: cannot read the htpasswd file; refusing every credential until it is fixed`);
      } finally {
        this.checking = undefined;
      }
    })();
    await this.checking;
  }

  /** The stored hash of a user (after a refresh), for binding refresh tokens to the password. */
  async hashOf(user: string): Promise<string | undefined> {
    if (this.due) await this.refresh();
    return this.entries.get(user);
  }

  /** True when `password` is the user's password. */
  async verify(user: string, password: string): Promise<boolean> {
    if (this.due) await this.refresh();
    const hash = this.entries.get(user);
    const key = oneShotHash('sha256', `${this.salt}\0${user}\0${password}`, 'base64');
    const known = this.verified.get(key);
    if (known && hash !== undefined && known.user === user && sameText(known.hash, hash)) return true;
    const running = this.inflight.get(key);
    if (running) return running;
    const check = (async () => {
      const target = hash !== undefined && BCRYPT.test(hash) ? hash : this.decoy;
      const ok = (await bcrypt.compare(password, target)) && target === hash;
      if (ok && hash !== undefined) this.remember(key, { user, hash });
      return ok;
    })().finally(() => this.inflight.delete(key));
    this.inflight.set(key, check);
    return check;
  }

  private remember(key: string, value: { user: string; hash: string }): void {
    this.verified.set(key, value);
    const max = this.opts.cacheSize ?? 10_000;
    while (this.verified.size > max) {
      const oldest = this.verified.keys().next().value;
      if (oldest === undefined) break;
      this.verified.delete(oldest);
    }
  }
}

/** Equal strings, in time independent of where they differ. */
function sameText(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i % (b.length || 1));
  return diff === 0;
}
