/**
 * `REGISTRY_<PATH>` environment overrides, applied to the raw YAML tree
 * before validation, as distribution does.
 *
 * - `_` separates levels; each part is matched without regard to case
 *   against the known key tree (CONFIG_SPEC). Several parts may form one key
 *   when that key contains underscores (azure's `copy_status_poll_delay`): the
 *   longest known key wins.
 * - List items go by index (`REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL`); an index
 *   equal to the list length appends, a larger one is an error (as in Go).
 * - Inside free-form mappings (driver parameters, middleware options, log
 *   fields, headers) an existing key is matched case-insensitively, otherwise
 *   the part becomes a new lower-case key (as in Go).
 * - Values are parsed as YAML. For string keys, text that is not a YAML
 *   scalar (`a: b`) is taken literally rather than rejected.
 * - Variables are applied in name order, so `REGISTRY_STORAGE` comes before
 *   `REGISTRY_STORAGE_S3_BUCKET`. `REGISTRY_STORAGE=s3` replaces the driver
 *   (with no parameters) and keeps delete/cache/maintenance/redirect/tag;
 *   a YAML mapping value replaces the whole section.
 * - `REGISTRY_VERSION` and names that match no key: warned about, ignored.
 */
import { CONFIG_SPEC } from './schema.js';
import { SourceMap } from './source-map.js';
import { isMapping, type AnySpec } from './spec.js';
import { STORAGE_OPTION_KEYS } from './storage.js';
import { parseYaml, setOwn, type ParsedYaml } from './yaml-source.js';

export const ENV_PREFIX = 'REGISTRY_';

export interface EnvOverrideResult {
  /** Variables applied, by name. */
  applied: string[];
  warnings: string[];
  errors: string[];
}

type Resolved =
  | { ok: true; path: (string | number)[]; leaf: AnySpec | undefined }
  | { ok: false; error?: string };

/** Longest run of leading parts that names an existing key of `current`. */
function matchExisting(current: unknown, parts: string[]): { key: string; used: number } | undefined {
  if (!isMapping(current)) return undefined;
  const keys = Object.keys(current);
  for (let n = parts.length; n >= 1; n--) {
    const wanted = parts.slice(0, n).join('_').toLowerCase();
    const key = keys.find((k) => k.toLowerCase() === wanted);
    if (key !== undefined) return { key, used: n };
  }
  return undefined;
}

function matchField(spec: AnySpec, parts: string[]): { key: string; used: number } | undefined {
  const fields = spec.fields ?? {};
  for (let n = parts.length; n >= 1; n--) {
    const wanted = parts.slice(0, n).join('_').toLowerCase();
    if (Object.hasOwn(fields, wanted)) return { key: wanted, used: n };
    const alias = spec.aliases?.[wanted];
    if (alias !== undefined) return { key: alias, used: n };
  }
  return undefined;
}

function child(current: unknown, key: string | number): unknown {
  if (typeof key === 'number') return Array.isArray(current) ? current[key] : undefined;
  return isMapping(current) && Object.hasOwn(current, key) ? current[key] : undefined;
}

function resolve(spec: AnySpec | undefined, current: unknown, parts: string[], path: (string | number)[]): Resolved {
  if (parts.length === 0) return { ok: true, path, leaf: spec };
  const [first] = parts as [string, ...string[]];
  const isList = spec ? spec.kind === 'list' : Array.isArray(current);
  if (isList) {
    if (!/^\d+$/.test(first)) return { ok: false, error: `expected a list index, got ${JSON.stringify(first)}` };
    const index = Number(first);
    const length = Array.isArray(current) ? current.length : 0;
    if (index > length) return { ok: false, error: `list index ${index} is out of range (the list has ${length} items)` };
    return resolve(spec?.item, child(current, index), parts.slice(1), [...path, index]);
  }
  if (spec?.kind === 'scalar') return { ok: false };
  if (spec?.kind === 'object') {
    const field = matchField(spec, parts);
    if (field) {
      return resolve(spec.fields?.[field.key], child(current, field.key), parts.slice(field.used), [...path, field.key]);
    }
    if (!spec.open) return { ok: false };
  }
  // Free-form mapping: reuse an existing key, else a new lower-case one.
  const hit = matchExisting(current, parts) ?? { key: first.toLowerCase(), used: 1 };
  const valueSpec = spec?.kind === 'map' ? spec.value : undefined;
  return resolve(valueSpec, child(current, hit.key), parts.slice(hit.used), [...path, hit.key]);
}

function parseValue(text: string, leaf: AnySpec | undefined): ParsedYaml {
  const literal = (): ParsedYaml => ({ value: text, sources: new SourceMap(), warnings: [] });
  const wantsString = leaf?.kind === 'scalar' && leaf.scalar === 'string';
  let parsed: ParsedYaml;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    if (wantsString) return literal();
    throw err;
  }
  if (wantsString && (Array.isArray(parsed.value) || isMapping(parsed.value))) return literal();
  return parsed;
}

/** Store `value` at `path`, creating (or replacing non-matching) containers on the way. */
function assign(root: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let container: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i] as string | number;
    const nextIsIndex = typeof path[i + 1] === 'number';
    let next = child(container, key);
    if (nextIsIndex ? !Array.isArray(next) : !isMapping(next)) {
      next = nextIsIndex ? [] : {};
      put(container, key, next);
    }
    container = next as Record<string, unknown> | unknown[];
  }
  put(container, path[path.length - 1] as string | number, value);
}

function put(container: Record<string, unknown> | unknown[], key: string | number, value: unknown): void {
  if (Array.isArray(container)) container[key as number] = value;
  else setOwn(container, String(key), value);
}

/** A driver name in REGISTRY_STORAGE swaps the driver but keeps the storage options. */
function switchDriver(root: Record<string, unknown>, name: string, sources: SourceMap): void {
  const current = isMapping(root.storage) ? root.storage : {};
  const next: Record<string, unknown> = {};
  for (const key of Object.keys(current)) {
    if (STORAGE_OPTION_KEYS.includes(key)) next[key] = current[key];
    else sources.clear(['storage', key]);
  }
  sources.clear(['storage', name]);
  setOwn(next, name, {});
  root.storage = next;
}

/**
 * Apply the `REGISTRY_*` variables of `env` to `root` (modified in place) and
 * to `sources`. Problems come back as messages that name the variable.
 */
export function applyEnvOverrides(
  root: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  sources: SourceMap,
  spec: AnySpec = CONFIG_SPEC,
): EnvOverrideResult {
  const result: EnvOverrideResult = { applied: [], warnings: [], errors: [] };
  const names = Object.keys(env)
    .filter((n) => n.startsWith(ENV_PREFIX) && env[n] !== undefined)
    .sort();
  for (const name of names) {
    const text = env[name] as string;
    const parts = name.slice(ENV_PREFIX.length).split('_');
    if (parts.length === 1 && parts[0]?.toLowerCase() === 'version') {
      result.warnings.push(`${name}: the configuration version cannot be overridden; ignored`);
      continue;
    }
    const target = parts.some((p) => p === '') ? ({ ok: false } as Resolved) : resolve(spec, root, parts, []);
    if (!target.ok) {
      if (target.error) result.errors.push(`${name}: ${target.error}`);
      else result.warnings.push(`${name}: does not match any configuration key; ignored`);
      continue;
    }
    let parsed: ParsedYaml;
    try {
      parsed = parseValue(text, target.leaf);
    } catch (err) {
      result.errors.push(`${name}: invalid YAML value: ${(err as Error).message}`);
      continue;
    }
    const path = target.path;
    const key = path.length === 1 ? path[0] : undefined;
    if ((key === 'storage' || key === 'auth') && typeof parsed.value === 'string' && parsed.value.trim() !== '') {
      const kind = parsed.value.trim();
      if (key === 'storage') switchDriver(root, kind, sources);
      else {
        root.auth = { [kind]: {} };
        sources.clear(path);
      }
    } else {
      assign(root, path, parsed.value);
      sources.clear(path);
      sources.graft(path, parsed.sources);
    }
    result.applied.push(name);
  }
  return result;
}
