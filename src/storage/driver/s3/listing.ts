/**
 * Listing helpers over ListObjectsV2 (which answers at most 1000 keys a page): one directory level
 * with the `/` delimiter, everything below a prefix, and removal of everything below a prefix,
 * including multipart uploads that writers killed midway left open.
 */
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type _Object,
} from '@aws-sdk/client-s3';
import { StorageDriverError } from '../errors.js';
import { NAME, type Bucket } from './bucket.js';

const VALID_NAME = /^[A-Za-z0-9._-]+$/;
/** DeleteObjects takes at most this many keys per request. */
const DELETE_BATCH = 1000;

export interface Child {
  name: string;
  isDir: boolean;
  size: number;
  modTime: Date;
}

/** Epoch: S3 has no directories, so no time of their own. */
export const DIR_TIME = new Date(0);

/**
 * The direct children below `prefix` (which ends with `/` or is empty), sorted by name. Names
 * outside the driver's path grammar (objects put there by something else) are left out.
 */
export async function listChildren(b: Bucket, prefix: string, signal?: AbortSignal): Promise<Child[]> {
  const children = new Map<string, Child>();
  let token: string | undefined;
  do {
    const page = await b.client.send(
      new ListObjectsV2Command({ Bucket: b.name, Prefix: prefix, Delimiter: '/', ContinuationToken: token }),
      { abortSignal: signal },
    );
    for (const obj of page.Contents ?? []) {
      const name = (obj.Key ?? '').slice(prefix.length);
      if (VALID_NAME.test(name)) children.set(name, { name, isDir: false, size: obj.Size ?? 0, modTime: obj.LastModified ?? DIR_TIME });
    }
    for (const cp of page.CommonPrefixes ?? []) {
      const name = (cp.Prefix ?? '').slice(prefix.length, -1);
      // A name both a file and a directory can only come from outside the registry; the file wins.
      if (VALID_NAME.test(name) && !children.has(name)) children.set(name, { name, isDir: true, size: 0, modTime: DIR_TIME });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return [...children.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/** Whether anything at all lies below `prefix`. */
export async function anyBelow(b: Bucket, prefix: string, signal?: AbortSignal): Promise<boolean> {
  const page = await b.client.send(new ListObjectsV2Command({ Bucket: b.name, Prefix: prefix, MaxKeys: 1 }), { abortSignal: signal });
  return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
}

/** Every object below `prefix`, page by page. */
export async function* objectsBelow(b: Bucket, prefix: string, signal?: AbortSignal): AsyncGenerator<_Object[]> {
  let token: string | undefined;
  do {
    const page = await b.client.send(new ListObjectsV2Command({ Bucket: b.name, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
    if (page.Contents?.length) yield page.Contents;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Delete keys in batches; a key S3 refuses to delete is an error. */
export async function deleteKeys(b: Bucket, keys: string[], path: string, signal?: AbortSignal): Promise<void> {
  for (let at = 0; at < keys.length; at += DELETE_BATCH) {
    const batch = keys.slice(at, at + DELETE_BATCH);
    const res = await b.client.send(
      new DeleteObjectsCommand({ Bucket: b.name, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      { abortSignal: signal },
    );
    const refused = res.Errors?.[0];
    if (refused) throw new StorageDriverError(`${NAME}: delete ${path}: ${refused.Key}: ${refused.Code} ${refused.Message ?? ''}`.trim(), NAME, path);
  }
}

/** Delete everything below `prefix`, batch by batch as the listing pages come; resolves with how many objects there were. */
export async function deleteTree(b: Bucket, prefix: string, path: string, signal?: AbortSignal): Promise<number> {
  let count = 0;
  for await (const page of objectsBelow(b, prefix, signal)) {
    const keys = page.map((o) => o.Key as string);
    await deleteKeys(b, keys, path, signal);
    count += keys.length;
  }
  return count;
}

/** Abort the multipart uploads of `key` and of everything below `prefix` (left by killed writers). */
export async function abortUploadsBelow(b: Bucket, key: string | undefined, prefix: string, signal?: AbortSignal): Promise<void> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await b.client.send(
      new ListMultipartUploadsCommand({ Bucket: b.name, Prefix: key ?? prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      { abortSignal: signal },
    );
    for (const u of page.Uploads ?? []) {
      if (!u.Key || !u.UploadId || !(u.Key === key || u.Key.startsWith(prefix))) continue;
      await b.client
        .send(new AbortMultipartUploadCommand({ Bucket: b.name, Key: u.Key, UploadId: u.UploadId }), { abortSignal: signal })
        .catch((err: unknown) => {
          if ((err as { name?: string }).name !== 'NoSuchUpload') throw err;
        });
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker);
}
