/**
 * The reference's `cloudfront` storage middleware: blob GETs are redirected to a CloudFront
 * distribution in front of the S3 bucket, with a URL signed by a CloudFront key pair (canned
 * policy, valid for `duration`). The URL is `baseurl` + the object's key in the bucket, so the
 * distribution's origin is the bucket root. Signed with @aws-sdk/cloudfront-signer.
 *
 * Options: baseurl, privatekey (path of the PEM file), keypairid, duration (default 20m).
 * The reference's `ipfilteredby` (serve requests from AWS addresses straight from S3) needs the
 * client's address, which the storage layer does not see; it is not supported.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { parseDurationValue } from '../../../config/duration.js';
import type { RedirectOptions, StorageDriver } from '../driver.js';
import { throwIfAborted, validatePath } from '../errors.js';
import { parseBaseURL, underBase } from './redirect.js';
import { DriverWrapper } from './wrapper.js';

export const DEFAULT_DURATION_MS = 20 * 60 * 1000;

export interface CloudFrontMiddlewareOptions {
  baseurl: URL;
  /** PEM text of the key pair's private key. */
  privateKey: string;
  keyPairId: string;
  durationMs: number;
  /** The S3 object key of a driver path; undefined when the storage is not S3 (then no redirect of ours). */
  keyOf?: (path: string) => string;
}

/** Check the middleware's `options` as configured (reading the key file); errors name the key. */
export function parseCloudFrontOptions(options: Record<string, unknown>, key: string): Omit<CloudFrontMiddlewareOptions, 'keyOf'> {
  const baseurl = parseBaseURL(options.baseurl, `${key}.baseurl`);
  const keyPairId = typeof options.keypairid === 'string' ? options.keypairid.trim() : '';
  if (!keyPairId) throw new Error(`${key}.keypairid: required, the CloudFront key pair (or public key) ID`);
  if (typeof options.privatekey !== 'string' || options.privatekey.trim() === '') {
    throw new Error(`${key}.privatekey: required, the path of the key pair's private key (PEM)`);
  }
  let privateKey: string;
  try {
    privateKey = readFileSync(options.privatekey.trim(), 'utf8');
    createPrivateKey(privateKey);
  } catch (err) {
    throw new Error(`${key}.privatekey: cannot use ${options.privatekey}: ${(err as Error).message}`, { cause: err });
  }
  let durationMs = DEFAULT_DURATION_MS;
  if (options.duration !== undefined && options.duration !== null && options.duration !== '') {
    try {
      durationMs = parseDurationValue(options.duration);
    } catch (err) {
      throw new Error(`${key}.duration: ${(err as Error).message}`, { cause: err });
    }
    if (durationMs <= 0) throw new Error(`${key}.duration: must be positive`);
  }
  return { baseurl, privateKey, keyPairId, durationMs };
}

export class CloudFrontMiddleware extends DriverWrapper {
  constructor(
    inner: StorageDriver,
    private readonly options: CloudFrontMiddlewareOptions,
  ) {
    super(inner);
  }

  override async redirectURL(path: string, opts: RedirectOptions): Promise<string | undefined> {
    const keyOf = this.options.keyOf;
    if (!keyOf) return super.redirectURL(path, opts);
    validatePath(this.name, path);
    throwIfAborted(opts?.signal);
    return getSignedUrl({
      url: underBase(this.options.baseurl, `/${keyOf(path)}`).href,
      keyPairId: this.options.keyPairId,
      privateKey: this.options.privateKey,
      dateLessThan: new Date(Date.now() + this.options.durationMs),
    });
  }
}
