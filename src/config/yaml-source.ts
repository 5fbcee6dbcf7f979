/**
 * YAML text to a plain tree, read the way distribution's Go parser reads it.
 *
 * - YAML 1.1 scalar resolution (yes/no/on/off booleans, 0x/0 prefixed ints,
 *   `<<` merge keys), as go-yaml v2 does. Sexagesimal numbers (`10:30`) and
 *   timestamps are left as strings: go-yaml does not resolve them either.
 * - Mapping keys are taken as written (`y:` is the key "y", not "true").
 * - The original text of every non-string scalar is kept in a SourceMap so
 *   fields declared as strings can use it (see source-map.ts).
 *
 * We convert the document ourselves instead of calling `toJS()` because the
 * latter turns keys like `on` or `n` into "true"/"false".
 */
import { parseDocument, isAlias, isMap, isScalar, isSeq, type Document, type Node, type Tags } from 'yaml';
import { SourceMap, type Path } from './source-map.js';

export class YamlSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'YamlSyntaxError';
  }
}

export interface ParsedYaml {
  /** `null` for an empty document. */
  value: unknown;
  sources: SourceMap;
  warnings: string[];
}

const MAX_DEPTH = 200;
const MAX_ALIAS_EXPANSIONS = 10_000;

function dropGoIncompatibleTags(tags: Tags): Tags {
  return tags.filter((t) => {
    if (typeof t !== 'object') return true;
    return !(t.format === 'TIME' || t.tag === 'tag:yaml.org,2002:timestamp');
  });
}

/** Parse one YAML document; throws YamlSyntaxError with line and column. */
export function parseYaml(text: string): ParsedYaml {
  const doc = parseDocument(text, {
    version: '1.1',
    customTags: dropGoIncompatibleTags,
    uniqueKeys: true,
    prettyErrors: true,
  });
  if (doc.errors.length > 0) {
    throw new YamlSyntaxError(doc.errors.map((e) => e.message).join('\n'));
  }
  const sources = new SourceMap();
  const state = { doc, sources, aliases: 0 };
  const value = convert(doc.contents, [], 0, state);
  return { value, sources, warnings: doc.warnings.map((w) => w.message) };
}

interface State {
  doc: Document;
  sources: SourceMap;
  aliases: number;
}

function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  const v = key.value;
  return (typeof v === 'symbol' && v.description === '<<') || (v === '<<' && key.type === 'PLAIN');
}

function keyText(key: unknown, path: Path): string {
  if (key === null || key === undefined) return '';
  if (!isScalar(key)) throw new YamlSyntaxError(`unsupported complex mapping key under ${path.join('.') || 'the top level'}`);
  if (typeof key.value === 'string') return key.value;
  if (key.value === null) return key.source ?? '';
  return key.source ?? String(key.value);
}

function convert(node: unknown, path: Path, depth: number, st: State): unknown {
  if (depth > MAX_DEPTH) throw new YamlSyntaxError('YAML nesting is too deep (or an alias refers to itself)');
  if (node === null || node === undefined) return null;
  if (isAlias(node)) {
    if (++st.aliases > MAX_ALIAS_EXPANSIONS) throw new YamlSyntaxError('too many alias expansions');
    const target = node.resolve(st.doc);
    if (target === undefined) throw new YamlSyntaxError(`unresolved alias *${node.source}`);
    return convert(target, path, depth + 1, st);
  }
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v !== 'string' && v !== null && node.source !== undefined) st.sources.set(path, node.source);
    return typeof v === 'symbol' ? String(v.description) : v;
  }
  if (isSeq(node)) {
    return node.items.map((item, i) => convert(item, [...path, i], depth + 1, st));
  }
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    const merged: Record<string, unknown> = {};
    for (const pair of node.items) {
      if (isMergeKey(pair.key)) {
        mergeInto(merged, pair.value, path, depth, st);
        continue;
      }
      const key = keyText(pair.key, path);
      setOwn(out, key, convert(pair.value, [...path, key], depth + 1, st));
    }
    for (const [k, v] of Object.entries(merged)) if (!Object.hasOwn(out, k)) setOwn(out, k, v);
    return out;
  }
  throw new YamlSyntaxError(`unsupported YAML node at ${path.join('.') || 'the top level'}`);
}

/** Plain assignment, except that a key named `__proto__` stays an ordinary key. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/** `<<: *a` or `<<: [*a, *b]`; earlier sources win, explicit keys win over all. */
function mergeInto(target: Record<string, unknown>, value: unknown, path: Path, depth: number, st: State): void {
  const resolved = isAlias(value) ? value.resolve(st.doc) : value;
  const sourcesList: unknown[] = isSeq(resolved) ? resolved.items : [resolved];
  for (const item of sourcesList) {
    const m = convert(item as Node, path, depth + 1, st);
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      throw new YamlSyntaxError('a merge key (<<) must refer to a mapping or a list of mappings');
    }
    for (const [k, v] of Object.entries(m)) if (!Object.hasOwn(target, k)) setOwn(target, k, v);
  }
}
