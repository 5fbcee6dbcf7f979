import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DurationError,
  formatDuration,
  parseDuration,
  parseDurationNs,
  parseDurationValue,
} from '../../src/config/duration.js';

test('Go duration strings become milliseconds', () => {
  const cases: [string, number][] = [
    ['300ms', 300],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['10s', 10_000],
    ['0', 0],
    ['-0', 0],
    ['+5s', 5_000],
    ['-1s', -1_000],
    ['1us', 0.001],
    ['1\u00b5s', 0.001], // micro sign
    ['1\u03bcs', 0.001], // Greek mu
    ['1ns', 0.000001],
    ['.5s', 500],
    ['1.s', 1_000],
    ['168h', 604_800_000],
    ['1h2m3s4ms', 3_723_004],
    ['0.000000001s', 0.000001],
    ['1.0000000001s', 1_000], // Go truncates below a nanosecond
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  assert.ok(!Object.is(parseDuration('-0s'), -0));
});

test('nanosecond precision is exact across the whole int64 range', () => {
  assert.equal(parseDurationNs('1h2m3s4ms5us6ns'), 3_723_004_005_006n);
  assert.equal(parseDurationNs('9223372036854775807ns'), 9223372036854775807n);
  assert.equal(parseDurationNs('-9223372036854775808ns'), -9223372036854775808n);
  assert.equal(parseDurationNs('2562047h'), 2562047n * 3_600_000_000_000n);
});

test('malformed durations fail with a clear message', () => {
  const cases: [string, RegExp][] = [
    ['', /invalid duration ""/],
    ['-', /invalid duration/],
    ['.', /invalid duration/],
    ['s', /invalid duration "s"/],
    ['10', /missing unit in duration "10"/],
    ['1.2.3s', /missing unit/],
    ['5x', /unknown unit "x" in duration "5x"/],
    ['1 s', /unknown unit " s"/],
    ['1S', /unknown unit "S"/],
    ['9223372036854775808ns', /out of range/],
    ['2562048h', /out of range/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseDuration(text), (err: unknown) => err instanceof DurationError && re.test(err.message), text);
  }
});

test('YAML integers count nanoseconds, like a Go time.Duration', () => {
  assert.equal(parseDurationValue(10), 0.00001);
  assert.equal(parseDurationValue(1_000_000_000), 1_000);
  assert.equal(parseDurationValue(0), 0);
  assert.equal(parseDurationValue(3_000_000n), 3);
  assert.equal(parseDurationValue(' 24h '), 86_400_000);
  assert.throws(() => parseDurationValue(1.5), DurationError);
  assert.throws(() => parseDurationValue(true), DurationError);
  assert.throws(() => parseDurationValue({ h: 1 }), DurationError);
});

test('formatDuration writes Go-style text', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(5_400_000), '1h30m0s');
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(1_500), '1.5s');
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(0.002), '2µs');
  assert.equal(formatDuration(-1_000), '-1s');
  for (const text of ['168h0m0s', '2h45m0s', '10s', '300ms']) {
    assert.equal(formatDuration(parseDuration(text)), text);
  }
});
