/**
 * Paths into the raw configuration tree, and a record of how scalars were
 * written in the YAML.
 *
 * The reference implementation reads YAML with Go's yaml.v2, which resolves
 * plain scalars YAML 1.1 style (`yes` is a boolean, `0123` is octal) yet hands
 * the original text to any field declared as a string. So `password: 0123`
 * is the string "0123" there, not 83. We parse the same way, keep the typed
 * value in the tree, and remember the original text here so string fields can
 * recover it.
 */

/** Where a value sits in the configuration: mapping keys and list indexes. */
export type Path = readonly (string | number)[];

/** `storage.s3.bucket`, `notifications.endpoints[0].url`; `(root)` for the empty path. */
export function formatPath(path: Path): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(root)' : out;
}

const SEP = '\u0000';

function keyOf(path: Path): string {
  return path.map(String).join(SEP);
}

/** Original YAML text of non-string scalars, by path. */
export class SourceMap {
  private readonly texts = new Map<string, string>();

  get(path: Path): string | undefined {
    return this.texts.get(keyOf(path));
  }

  set(path: Path, text: string): void {
    this.texts.set(keyOf(path), text);
  }

  /** Forget the entry at `path` and every entry below it (its value was replaced). */
  clear(path: Path): void {
    const key = keyOf(path);
    if (key === '') {
      this.texts.clear();
      return;
    }
    for (const k of [...this.texts.keys()]) {
      if (k === key || k.startsWith(key + SEP)) this.texts.delete(k);
    }
  }

  /** Copy the entries of `other`, whose paths are relative to `prefix`. */
  graft(prefix: Path, other: SourceMap): void {
    const base = keyOf(prefix);
    for (const [k, text] of other.texts) {
      const joined = base === '' ? k : k === '' ? base : base + SEP + k;
      this.texts.set(joined, text);
    }
  }
}
