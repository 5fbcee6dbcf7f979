/**
 * A small declarative decoder for the configuration tree.
 *
 * A Spec turns one raw YAML value into a typed value and reports problems
 * against the full key path. It also describes its shape (the fields of a
 * mapping, the item of a list, the value of an open map) so the environment
 * override code walks exactly the tree that validation checks.
 *
 * Conventions, chosen to match how go-yaml fills distribution's structs:
 * - an absent key and an explicit `null` (`key:` with nothing after it) mean
 *   the same thing: use the default;
 * - a number or boolean where a string is expected is taken as written;
 * - booleans also accept the strings "true"/"false", integers accept decimal
 *   strings: distribution itself reads its storage options that loosely;
 * - problems are collected, not thrown, so one run reports all of them.
 */
import { parseDurationValue } from './duration.js';
import { formatPath, SourceMap, type Path } from './source-map.js';

export { formatPath, SourceMap, type Path };

export class DecodeContext {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  constructor(readonly sources: SourceMap = new SourceMap()) {}

  error(path: Path, message: string): void {
    this.errors.push(`${formatPath(path)}: ${message}`);
  }

  warn(path: Path, message: string): void {
    this.warnings.push(`${formatPath(path)}: ${message}`);
  }
}

export type ScalarType = 'string' | 'bool' | 'int' | 'duration' | 'enum';

export interface Spec<T> {
  /** scalar: a leaf; object: known fields; list: numbered items; map: any keys. */
  readonly kind: 'scalar' | 'object' | 'list' | 'map';
  readonly scalar?: ScalarType;
  readonly fields?: Readonly<Record<string, AnySpec>>;
  /** Extra names accepted for fields in environment variables only (Go struct field names). */
  readonly aliases?: Readonly<Record<string, string>>;
  /** An object whose unknown keys are kept (driver parameters). */
  readonly open?: boolean;
  readonly item?: AnySpec;
  /** Spec of each map value; undefined for free-form content. */
  readonly value?: AnySpec;
  decode(raw: unknown, path: Path, ctx: DecodeContext): T;
}

export type AnySpec = Spec<unknown>;
export type Out<S> = S extends Spec<infer T> ? T : never;

export function isAbsent(v: unknown): v is null | undefined {
  return v === null || v === undefined;
}

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `obj[key]` without reaching into the prototype chain. */
export function own(obj: unknown, key: string): unknown {
  return isMapping(obj) && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function scalar<T>(type: ScalarType, decode: Spec<T>['decode']): Spec<T> {
  return { kind: 'scalar', scalar: type, decode };
}

/** A scalar rendered as text the way it was written, or undefined for collections. */
export function scalarText(raw: unknown, path: Path, ctx: DecodeContext): string | undefined {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') {
    return ctx.sources.get(path) ?? String(raw);
  }
  return undefined;
}

export function str(): Spec<string | undefined>;
export function str(fallback: string): Spec<string>;
export function str(fallback?: string): Spec<string | undefined> {
  return scalar('string', (raw, path, ctx) => {
    if (isAbsent(raw)) return fallback;
    const text = scalarText(raw, path, ctx);
    if (text === undefined) ctx.error(path, 'expected a string');
    return text ?? fallback;
  });
}

export function bool(): Spec<boolean | undefined>;
export function bool(fallback: boolean): Spec<boolean>;
export function bool(fallback?: boolean): Spec<boolean | undefined> {
  return scalar('bool', (raw, path, ctx) => {
    if (isAbsent(raw)) return fallback;
    if (typeof raw === 'boolean') return raw;
    if (typeof raw === 'string' && /^(true|false)$/i.test(raw.trim())) return raw.trim().toLowerCase() === 'true';
    ctx.error(path, 'expected true or false');
    return fallback;
  });
}

export interface IntOptions {
  min?: number;
}

export function int(): Spec<number | undefined>;
export function int(fallback: number | undefined, opts?: IntOptions): Spec<number>;
export function int(fallback?: number, opts: IntOptions = {}): Spec<number | undefined> {
  return scalar('int', (raw, path, ctx) => {
    if (isAbsent(raw)) return fallback;
    let n: number | undefined;
    if (typeof raw === 'number' && Number.isSafeInteger(raw)) n = raw;
    else if (typeof raw === 'bigint') n = Number(raw);
    else if (typeof raw === 'string' && /^[-+]?\d+$/.test(raw.trim())) n = Number(raw.trim());
    if (n === undefined || !Number.isSafeInteger(n)) {
      ctx.error(path, 'expected an integer');
      return fallback;
    }
    if (opts.min !== undefined && n < opts.min) {
      ctx.error(path, `must be at least ${opts.min}, got ${n}`);
      return fallback;
    }
    return n;
  });
}

/** Milliseconds; see duration.ts for accepted forms. The fallback is Go duration text. */
export function duration(): Spec<number | undefined>;
export function duration(fallback: string): Spec<number>;
export function duration(fallback?: string): Spec<number | undefined> {
  const fallbackMs = fallback === undefined ? undefined : parseDurationValue(fallback);
  return scalar('duration', (raw, path, ctx) => {
    if (isAbsent(raw)) return fallbackMs;
    try {
      return parseDurationValue(raw);
    } catch (err) {
      ctx.error(path, (err as Error).message);
      return fallbackMs;
    }
  });
}

/** One of a fixed set of words, compared without regard to case. */
export function oneOf<const V extends string>(values: readonly V[]): Spec<V | undefined>;
export function oneOf<const V extends string>(values: readonly V[], fallback: V): Spec<V>;
export function oneOf<const V extends string>(values: readonly V[], fallback?: V): Spec<V | undefined> {
  return scalar('enum', (raw, path, ctx) => {
    if (isAbsent(raw)) return fallback;
    const text = scalarText(raw, path, ctx);
    const hit = text === undefined ? undefined : values.find((v) => v.toLowerCase() === text.trim().toLowerCase());
    if (hit === undefined) {
      const got = text === undefined ? '' : ` (got ${JSON.stringify(text)})`;
      ctx.error(path, `expected one of ${values.join(', ')}${got}`);
      return fallback;
    }
    return hit;
  });
}

/** The key must be present (and not null). */
export function required<T>(spec: Spec<T | undefined>): Spec<T> {
  return {
    ...spec,
    decode(raw, path, ctx) {
      if (isAbsent(raw)) {
        ctx.error(path, 'required key is missing');
        return spec.decode(undefined, path, ctx) as T;
      }
      return spec.decode(raw, path, ctx) as T;
    },
  };
}

/** Absent or null gives undefined; anything else is decoded by `spec`. */
export function optional<T>(spec: Spec<T>): Spec<T | undefined> {
  return {
    ...spec,
    decode(raw, path, ctx) {
      return isAbsent(raw) ? undefined : spec.decode(raw, path, ctx);
    },
  };
}

export function list<T>(item: Spec<T>): Spec<T[]> {
  return {
    kind: 'list',
    item,
    decode(raw, path, ctx) {
      if (isAbsent(raw)) return [];
      if (!Array.isArray(raw)) {
        ctx.error(path, 'expected a list');
        return [];
      }
      const out: T[] = [];
      raw.forEach((v, i) => {
        if (isAbsent(v)) ctx.error([...path, i], 'empty list item');
        else out.push(item.decode(v, [...path, i], ctx));
      });
      return out;
    },
  };
}

export function strings(): Spec<string[]> {
  return list(str('')) as Spec<string[]>;
}

/** A mapping with arbitrary keys whose values all follow `value`. */
export function map<T>(value: Spec<T>): Spec<Record<string, T>> {
  return {
    kind: 'map',
    value,
    decode(raw, path, ctx) {
      const out: Record<string, T> = {};
      if (isAbsent(raw)) return out;
      if (!isMapping(raw)) {
        ctx.error(path, 'expected a mapping');
        return out;
      }
      for (const [k, v] of Object.entries(raw)) out[k] = value.decode(v, [...path, k], ctx);
      return out;
    },
  };
}

/** Free-form mapping kept as is (middleware options, log fields). */
export function record(): Spec<Record<string, unknown>> {
  return {
    kind: 'map',
    decode(raw, path, ctx) {
      if (isAbsent(raw)) return {};
      if (!isMapping(raw)) {
        ctx.error(path, 'expected a mapping');
        return {};
      }
      return { ...raw };
    },
  };
}

/** HTTP header map: name -> list of values (a single string is taken as a one-item list). */
export function headers(): Spec<Record<string, string[]>> {
  const values: Spec<string[]> = {
    kind: 'list',
    item: str(''),
    decode(raw, path, ctx) {
      const single = Array.isArray(raw) ? undefined : scalarText(raw, path, ctx);
      return single === undefined ? strings().decode(raw, path, ctx) : [single];
    },
  };
  return map(values);
}

export type Shape = Record<string, AnySpec>;
export type ObjOut<F extends Shape> = { [K in keyof F]: Out<F[K]> };

export interface ObjOptions {
  aliases?: Record<string, string>;
}

/**
 * A mapping with known keys. Every field is decoded (absent ones give their
 * defaults); keys not in `fields` produce a warning and are dropped.
 */
export function obj<F extends Shape>(fields: F, opts: ObjOptions = {}): Spec<ObjOut<F>> {
  return {
    kind: 'object',
    fields,
    ...(opts.aliases ? { aliases: opts.aliases } : {}),
    decode(raw, path, ctx) {
      let input: Record<string, unknown> = {};
      if (isMapping(raw)) input = raw;
      else if (!isAbsent(raw)) ctx.error(path, 'expected a mapping');
      for (const key of Object.keys(input)) {
        if (!Object.hasOwn(fields, key)) ctx.warn([...path, key], 'unknown configuration key, ignored');
      }
      const out: Record<string, unknown> = {};
      for (const [key, spec] of Object.entries(fields)) out[key] = spec.decode(own(input, key), [...path, key], ctx);
      return out as ObjOut<F>;
    },
  };
}

/** A spec with hand-written decoding; `shape` tells the environment walker what it looks like. */
export function custom<T>(shape: Omit<Spec<T>, 'decode'>, decode: Spec<T>['decode']): Spec<T> {
  return { ...shape, decode };
}
