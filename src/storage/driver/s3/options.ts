/**
 * The `storage.s3` parameters (the reference's keys) checked and turned into driver options, with
 * the reference's defaults. Every error names its key, so a bad configuration fails at start-up.
 */
import type { S3Parameters } from '../../../config/storage.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** S3's smallest part (every part but the last) and largest part / single copy. */
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * GiB;
/** S3's limit on parts in one multipart upload. */
export const MAX_PARTS = 10_000;

export interface S3DriverOptions {
  bucket: string;
  region: string;
  /** Full endpoint URL (scheme included) for S3-compatible services; undefined: AWS. */
  endpoint?: string;
  forcePathStyle: boolean;
  /** HTTPS (true) or plain HTTP. */
  secure: boolean;
  skipVerify: boolean;
  /** Static credentials; undefined: the SDK's default chain (env, profile, SSO, web identity, IMDS/ECS). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Key prefix without leading or trailing slash ('' for the bucket root). */
  rootDirectory: string;
  /** Part size of writers. */
  chunkSize: number;
  multipartCopyChunkSize: number;
  multipartCopyMaxConcurrency: number;
  /** Objects above this size are moved by multipart copy instead of one CopyObject. */
  multipartCopyThresholdSize: number;
  encrypt: boolean;
  keyId?: string;
  /** undefined: let the bucket's default apply. */
  storageClass?: string;
  objectAcl?: string;
  userAgent?: string;
  useDualstack: boolean;
  accelerate: boolean;
  /** Client limits (no configuration keys; the defaults in client.ts suit production, tests shorten them). */
  limits?: Partial<ClientLimits>;
}

export interface ClientLimits {
  /** Connecting must not take longer than this. */
  connectTimeoutMs: number;
  /** From sending a request to its response headers (a part upload's body included). */
  requestTimeoutMs: number;
  /** A socket that moves no byte for this long is dead, whatever the request is doing. */
  idleTimeoutMs: number;
  /** Attempts per request, the first included. */
  maxAttempts: number;
}

function fail(key: string, message: string): never {
  throw new Error(`storage.s3.${key}: ${message}`);
}

function size(params: S3Parameters, key: 'chunksize' | 'multipartcopychunksize' | 'multipartcopythresholdsize', fallback: number, min: number, max: number): number {
  const value = params[key] ?? fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) fail(key, `expected a size in bytes between ${min} and ${max}, got ${value}`);
  return value;
}

function nonEmpty(params: S3Parameters, key: 'accesskey' | 'secretkey' | 'sessiontoken' | 'keyid' | 'storageclass' | 'objectacl' | 'useragent' | 'regionendpoint' | 'rootdirectory'): string | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

export function parseS3Parameters(params: S3Parameters): S3DriverOptions {
  const bucket = typeof params.bucket === 'string' ? params.bucket.trim() : '';
  if (!bucket) fail('bucket', 'required');
  const region = typeof params.region === 'string' ? params.region.trim() : '';
  if (!region) fail('region', 'required');
  if (params.v4auth === false) fail('v4auth', 'false is not supported: requests are signed with AWS Signature Version 4 only');

  const accessKeyId = nonEmpty(params, 'accesskey');
  const secretAccessKey = nonEmpty(params, 'secretkey');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    fail(accessKeyId === undefined ? 'accesskey' : 'secretkey', 'accesskey and secretkey go together; omit both to use the default AWS credential chain');
  }
  const sessionToken = nonEmpty(params, 'sessiontoken');
  const credentials = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined;

  const secure = params.secure ?? true;
  let endpoint = nonEmpty(params, 'regionendpoint');
  if (endpoint !== undefined) {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) endpoint = `${secure ? 'https' : 'http'}://${endpoint}`;
    try {
      const url = new URL(endpoint);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    } catch {
      fail('regionendpoint', `expected a URL or host[:port], got ${JSON.stringify(params.regionendpoint)}`);
    }
  }

  const chunkSize = size(params, 'chunksize', 10 * MiB, MIN_PART_SIZE, MAX_PART_SIZE);
  const multipartCopyChunkSize = size(params, 'multipartcopychunksize', 32 * MiB, MIN_PART_SIZE, MAX_PART_SIZE);
  const multipartCopyThresholdSize = size(params, 'multipartcopythresholdsize', 32 * MiB, 0, MAX_PART_SIZE);
  const multipartCopyMaxConcurrency = params.multipartcopymaxconcurrency ?? 100;
  if (!Number.isSafeInteger(multipartCopyMaxConcurrency) || multipartCopyMaxConcurrency < 1) {
    fail('multipartcopymaxconcurrency', `expected a positive integer, got ${multipartCopyMaxConcurrency}`);
  }

  const storageClass = nonEmpty(params, 'storageclass');
  const objectAcl = nonEmpty(params, 'objectacl');
  const keyId = nonEmpty(params, 'keyid');
  return {
    bucket,
    region,
    endpoint,
    forcePathStyle: params.forcepathstyle ?? false,
    secure,
    skipVerify: params.skipverify ?? false,
    credentials,
    rootDirectory: (nonEmpty(params, 'rootdirectory') ?? '').replace(/^\/+|\/+$/g, ''),
    chunkSize,
    multipartCopyChunkSize,
    multipartCopyMaxConcurrency,
    multipartCopyThresholdSize,
    encrypt: params.encrypt ?? false,
    keyId,
    // The reference's NONE means "send no storage class"; unset sends none either (S3 then uses STANDARD).
    storageClass: storageClass && storageClass.toUpperCase() !== 'NONE' ? storageClass : undefined,
    objectAcl: objectAcl && objectAcl.toLowerCase() !== 'none' ? objectAcl : undefined,
    userAgent: nonEmpty(params, 'useragent'),
    useDualstack: params.usedualstack ?? false,
    accelerate: params.accelerate ?? false,
  };
}
