/**
 * Server-side copies through the multipart API: an object (or its first bytes) becomes parts of
 * another object's multipart upload without its bytes passing through the registry. `move` uses it
 * above the single-copy threshold; the writer uses it to continue an object left by an earlier one.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import type { Bucket } from './bucket.js';
import { MAX_PART_SIZE, MIN_PART_SIZE } from './options.js';

/**
 * Split `size` bytes into contiguous ranges of about `chunk` bytes. Every range is at least the
 * 5 MiB minimum part (when `size` allows it) so that parts may follow them, and at most 5 GiB.
 */
export function copyRanges(size: number, chunk: number): { start: number; end: number }[] {
  if (size <= 0) return [];
  let n = Math.ceil(size / chunk);
  n = Math.min(n, Math.max(1, Math.floor(size / MIN_PART_SIZE)));
  n = Math.max(n, Math.ceil(size / MAX_PART_SIZE));
  const base = Math.floor(size / n);
  const extra = size % n;
  const ranges: { start: number; end: number }[] = [];
  for (let i = 0, start = 0; i < n; i++) {
    const len = base + (i < extra ? 1 : 0);
    ranges.push({ start, end: start + len - 1 });
    start += len;
  }
  return ranges;
}

/** Run `tasks` with at most `limit` at once; the first failure aborts the others and is thrown. */
export async function runLimited<T>(tasks: ((signal: AbortSignal) => Promise<T>)[], limit: number, signal?: AbortSignal): Promise<T[]> {
  const controller = new AbortController();
  const linked = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
  const results: T[] = new Array(tasks.length);
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < tasks.length) {
      const i = next++;
      try {
        results[i] = await (tasks[i] as (s: AbortSignal) => Promise<T>)(linked);
      } catch (err) {
        failed ??= { err };
        controller.abort(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (failed) throw failed.err;
  return results;
}

export interface CopyPartsOptions {
  sourceKey: string;
  /** Only copy while the source still has this ETag (it was not replaced meanwhile). */
  sourceETag?: string;
  targetKey: string;
  uploadId: string;
  /** Bytes of the source to copy, from its start. */
  size: number;
  /** Part number of the first copied part. */
  firstPart: number;
  signal?: AbortSignal;
}

/** Copy the first `size` bytes of the source as parts firstPart, firstPart+1, ... of an upload. */
export async function copyParts(bucket: Bucket, o: CopyPartsOptions): Promise<CompletedPart[]> {
  const ranges = copyRanges(o.size, bucket.options.multipartCopyChunkSize);
  const tasks = ranges.map((range, i) => async (signal: AbortSignal): Promise<CompletedPart> => {
    const PartNumber = o.firstPart + i;
    const res = await bucket.client.send(
      new UploadPartCopyCommand({
        Bucket: bucket.name,
        Key: o.targetKey,
        UploadId: o.uploadId,
        PartNumber,
        CopySource: bucket.copySource(o.sourceKey),
        CopySourceRange: `bytes=${range.start}-${range.end}`,
        ...(o.sourceETag ? { CopySourceIfMatch: o.sourceETag } : {}),
      }),
      { abortSignal: signal },
    );
    return { PartNumber, ETag: res.CopyPartResult?.ETag };
  });
  return runLimited(tasks, bucket.options.multipartCopyMaxConcurrency, o.signal);
}

/** Copy a whole object to another key through a multipart upload (for objects above the single-copy limit). */
export async function multipartCopy(bucket: Bucket, sourceKey: string, targetKey: string, size: number, signal?: AbortSignal): Promise<void> {
  const created = await bucket.client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket.name, Key: targetKey, ...bucket.writeParams }),
    { abortSignal: signal },
  );
  const uploadId = created.UploadId as string;
  try {
    const parts = await copyParts(bucket, { sourceKey, targetKey, uploadId, size, firstPart: 1, signal });
    await bucket.client.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket.name, Key: targetKey, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      { abortSignal: signal },
    );
  } catch (err) {
    await abortUpload(bucket, targetKey, uploadId);
    throw err;
  }
}

/** Abort a multipart upload, best effort (an upload left behind is also removed by `delete` of its path). */
export async function abortUpload(bucket: Bucket, key: string, uploadId: string): Promise<void> {
  await bucket.client
    .send(new AbortMultipartUploadCommand({ Bucket: bucket.name, Key: key, UploadId: uploadId }), { abortSignal: AbortSignal.timeout(30_000) })
    .catch(() => undefined);
}
