/** Typed errors every storage driver raises; the layers above branch on the class, never on messages. */

export class StorageDriverError extends Error {
  constructor(
    message: string,
    readonly driver: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class PathNotFoundError extends StorageDriverError {
  constructor(driver: string, path: string, options?: { cause?: unknown }) {
    super(`${driver}: path not found: ${path}`, driver, path, options);
  }
}

export class InvalidPathError extends StorageDriverError {
  constructor(driver: string, path: string, reason: string) {
    super(`${driver}: invalid path ${JSON.stringify(path)}: ${reason}`, driver, path);
  }
}

export class InvalidOffsetError extends StorageDriverError {
  constructor(
    driver: string,
    path: string,
    readonly offset: number,
  ) {
    super(`${driver}: invalid offset ${offset} for ${path}`, driver, path);
  }
}

export class UnsupportedMethodError extends StorageDriverError {
  constructor(driver: string, path: string, method: string) {
    super(`${driver}: ${method} is not supported`, driver, path);
  }
}

const COMPONENT = /^[A-Za-z0-9._-]+$/;

/**
 * Check a driver path and return it normalised (it must already be normal: this only rejects).
 * `/` is accepted only where `allowRoot` says so.
 */
export function validatePath(driver: string, path: string, allowRoot = false): string {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidPathError(driver, String(path), 'empty');
  if (path === '/') {
    if (allowRoot) return path;
    throw new InvalidPathError(driver, path, 'the root is not a file');
  }
  if (path[0] !== '/') throw new InvalidPathError(driver, path, 'not absolute');
  const parts = path.slice(1).split('/');
  for (const part of parts) {
    if (part === '') throw new InvalidPathError(driver, path, 'empty component');
    if (part === '.' || part === '..') throw new InvalidPathError(driver, path, `relative component ${part}`);
    if (!COMPONENT.test(part)) throw new InvalidPathError(driver, path, 'components may hold only A-Z a-z 0-9 . _ -');
  }
  return path;
}

/** Reject a negative or non-integer offset. */
export function validateOffset(driver: string, path: string, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidOffsetError(driver, path, offset);
}

/** Throw the signal's reason when it is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}
