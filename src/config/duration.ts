/**
 * Go-style durations, as distribution's configuration uses them.
 *
 * Text follows Go's `time.ParseDuration`: an optional sign, then one or more
 * `<number><unit>` groups where the number may have a fraction ("1.5h",
 * "2h45m", ".5s") and the unit is one of ns, us, µs (U+00B5), μs (U+03BC), ms,
 * s, m, h. The bare string "0" is allowed; any other number needs a unit.
 *
 * Our choice for YAML integers: distribution decodes a YAML integer into a Go
 * `time.Duration` field unchanged, which makes it a count of nanoseconds
 * (`interval: 10` is 10ns, not 10s). `parseDurationValue` does the same, so a
 * config keeps the meaning it has under the reference implementation. Its
 * documentation says as much ("if you omit the unit, ns is used").
 *
 * Results are milliseconds as a JavaScript number, fractions included
 * (1us -> 0.001). The sum is kept in integer nanoseconds (BigInt) while
 * parsing, so Go's int64 range check (about 292 years) is exact.
 */

export class DurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DurationError';
  }
}

const NS_PER_MS = 1_000_000n;
const MAX_NS = (1n << 63n) - 1n;

const UNIT_NS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n], // micro sign
  ['\u03bcs', 1_000n], // Greek small letter mu
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const UNIT_LIST = 'ns, us, µs, ms, s, m, h';

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

/** Nanoseconds as a BigInt; throws DurationError. */
export function parseDurationNs(text: string): bigint {
  if (typeof text !== 'string') throw new DurationError('a duration must be a string such as "10s"');
  const quoted = JSON.stringify(text);
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s.startsWith('-');
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw new DurationError(`invalid duration ${quoted}`);

  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw new DurationError(`invalid duration ${quoted}`);
    let i = 0;
    while (isDigit(s[i])) i++;
    const whole = s.slice(0, i);
    let fraction = '';
    if (s[i] === '.') {
      i++;
      const start = i;
      while (isDigit(s[i])) i++;
      fraction = s.slice(start, i);
    }
    if (whole === '' && fraction === '') throw new DurationError(`invalid duration ${quoted}`);
    s = s.slice(i);

    let u = 0;
    while (u < s.length && s[u] !== '.' && !isDigit(s[u])) u++;
    const unitName = s.slice(0, u);
    s = s.slice(u);
    if (unitName === '') {
      throw new DurationError(`missing unit in duration ${quoted} (valid units: ${UNIT_LIST})`);
    }
    const unit = UNIT_NS.get(unitName);
    if (unit === undefined) {
      throw new DurationError(`unknown unit ${JSON.stringify(unitName)} in duration ${quoted} (valid units: ${UNIT_LIST})`);
    }
    let ns = BigInt(whole === '' ? '0' : whole) * unit;
    if (fraction !== '') ns += (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
    total += ns;
    if (total > MAX_NS + (negative ? 1n : 0n)) throw new DurationError(`duration ${quoted} is out of range`);
  }
  return negative ? -total : total;
}

/** Milliseconds from nanoseconds, keeping sub-millisecond precision. */
function nsToMs(ns: bigint): number {
  const whole = ns / NS_PER_MS;
  const rest = ns % NS_PER_MS;
  const ms = Number(whole) + Number(rest) / 1e6;
  return ms === 0 ? 0 : ms; // never -0
}

/** Parse Go duration text ("300ms", "1.5h", "-1s", "0") to milliseconds. */
export function parseDuration(text: string): number {
  return nsToMs(parseDurationNs(text));
}

/**
 * Milliseconds from a value found in the YAML: a string goes through
 * `parseDuration`, an integer counts nanoseconds (see the note at the top).
 */
export function parseDurationValue(value: unknown): number {
  if (typeof value === 'string') return parseDuration(value.trim());
  if (typeof value === 'bigint') return nsToMs(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new DurationError(`expected a duration such as "10s"; a bare number counts whole nanoseconds, got ${value}`);
    }
    return nsToMs(BigInt(value));
  }
  throw new DurationError('expected a duration such as "10s"');
}

/** Render milliseconds in Go's style ("1h30m0s", "1.5s", "250ms"); for messages and logs. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let ns = BigInt(Math.round(Math.abs(ms) * 1e6));
  if (ns < 1_000_000_000n) {
    if (ns < 1_000n) return `${sign}${ns}ns`;
    if (ns < 1_000_000n) return `${sign}${trim(Number(ns) / 1e3)}µs`;
    return `${sign}${trim(Number(ns) / 1e6)}ms`;
  }
  const h = ns / 3_600_000_000_000n;
  ns -= h * 3_600_000_000_000n;
  const m = ns / 60_000_000_000n;
  ns -= m * 60_000_000_000n;
  const s = trim(Number(ns) / 1e9);
  if (h > 0n) return `${sign}${h}h${m}m${s}s`;
  if (m > 0n) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}

function trim(n: number): string {
  return String(Number(n.toFixed(9)));
}
