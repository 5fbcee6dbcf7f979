/**
 * What every part of the S3 driver shares: the client, the bucket, how driver paths map to keys,
 * the parameters every object write carries, and how SDK failures become driver errors.
 *
 * A driver path P is the key `rootdirectory + P` without its leading slash, as in the reference,
 * so a bucket written by either registry is read by the other.
 */
import type { ObjectCannedACL, S3Client, ServerSideEncryption, StorageClass } from '@aws-sdk/client-s3';
import { PathNotFoundError, StorageDriverError } from '../errors.js';
import type { S3DriverOptions } from './options.js';
import { PartBuffers } from './part-buffers.js';

export const NAME = 's3';
export const CONTENT_TYPE = 'application/octet-stream';

/** Headers every object write sends (PutObject, CopyObject, CreateMultipartUpload). */
export interface WriteParams {
  ContentType: string;
  ServerSideEncryption?: ServerSideEncryption;
  SSEKMSKeyId?: string;
  StorageClass?: StorageClass;
  ACL?: ObjectCannedACL;
}

/** The object key of a (validated, non-root) driver path under a root directory as configured. */
export function objectKey(rootDirectory: string, path: string): string {
  const root = rootDirectory.replace(/^\/+|\/+$/g, '');
  return root ? `${root}${path}` : path.slice(1);
}

export class Bucket {
  readonly name: string;
  readonly writeParams: WriteParams;
  /** Part buffers shared by the writers (enough for one upload at full speed). */
  readonly buffers: PartBuffers;
  readonly #prefix: string;

  constructor(
    readonly client: S3Client,
    readonly options: S3DriverOptions,
  ) {
    this.name = options.bucket;
    this.buffers = new PartBuffers(options.chunkSize, 3);
    this.#prefix = options.rootDirectory ? `${options.rootDirectory}/` : '';
    const params: WriteParams = { ContentType: CONTENT_TYPE };
    if (options.encrypt) {
      params.ServerSideEncryption = options.keyId ? 'aws:kms' : 'AES256';
      if (options.keyId) params.SSEKMSKeyId = options.keyId;
    }
    if (options.storageClass) params.StorageClass = options.storageClass as StorageClass;
    if (options.objectAcl) params.ACL = options.objectAcl as ObjectCannedACL;
    this.writeParams = params;
  }

  /** The object key of a (validated, non-root) driver path. */
  key(path: string): string {
    return this.#prefix + path.slice(1);
  }

  /** The key prefix of everything below a directory path (the root included). */
  dirPrefix(path: string): string {
    return path === '/' ? this.#prefix : `${this.key(path)}/`;
  }

  /** The `bucket/key` form CopySource and UploadPartCopy want, URL-encoded. */
  copySource(key: string): string {
    return `${this.name}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;
  }
}

interface SdkError {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(err: unknown): number | undefined {
  return (err as SdkError | undefined)?.$metadata?.httpStatusCode;
}

function codeOf(err: unknown): string | undefined {
  const e = err as SdkError | undefined;
  return e?.Code ?? e?.name;
}

/** The object (or upload) is not there: 404 other than a missing bucket. */
export function isNotFound(err: unknown): boolean {
  const code = codeOf(err);
  if (code === 'NoSuchBucket') return false;
  return code === 'NoSuchKey' || code === 'NotFound' || statusOf(err) === 404;
}

/** A ranged read past the end of an object. */
export function isInvalidRange(err: unknown): boolean {
  return codeOf(err) === 'InvalidRange' || statusOf(err) === 416;
}

/**
 * What the contract promises in place of whatever the SDK threw: the abort reason when the
 * caller's signal fired, PathNotFoundError for a missing object (unless told otherwise), a
 * StorageDriverError naming the operation and S3's error code otherwise.
 */
export function failure(err: unknown, path: string, op: string, signal?: AbortSignal, missingMeansNotFound = true): Error {
  if (signal?.aborted) return signal.reason as Error;
  if (err instanceof StorageDriverError) return err;
  if (missingMeansNotFound && isNotFound(err)) return new PathNotFoundError(NAME, path, { cause: err });
  const code = codeOf(err) ?? 'Error';
  const status = statusOf(err);
  const detail = code === 'NoSuchBucket' ? 'the bucket does not exist' : `${code}${status ? ` (HTTP ${status})` : ''}: ${(err as SdkError | undefined)?.message ?? String(err)}`;
  return new StorageDriverError(`${NAME}: ${op} ${path} failed: ${detail}`, NAME, path, { cause: err });
}
