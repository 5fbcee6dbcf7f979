/**
 * Something a stream carries beside its bytes for a consumer that knows how to use it (an open
 * local file, the socket an HTTP body arrives on, a lender of chunks), under a private symbol.
 */
import type { Readable } from 'node:stream';

export interface StreamTag<T> {
  /** Tag `stream` with `value`; returns the stream. */
  attach<S extends Readable>(stream: S, value: T): S;
  /** The value `stream` was tagged with, if any. */
  of(stream: Readable): T | undefined;
}

export function streamTag<T>(name: string): StreamTag<T> {
  const key = Symbol(name);
  return {
    attach(stream, value) {
      (stream as unknown as Record<symbol, T>)[key] = value;
      return stream;
    },
    of(stream) {
      return (stream as unknown as Record<symbol, T | undefined>)[key];
    },
  };
}
