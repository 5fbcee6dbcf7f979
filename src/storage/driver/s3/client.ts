/**
 * The S3 client every driver call goes through: the official SDK v3 with
 *  - timeouts on every request: connect, time to response headers, and socket inactivity (which
 *    also covers a body stream that stops moving);
 *  - the SDK's standard retry strategy (exponential backoff with jitter on 5xx, throttling and
 *    network errors; bodies are always buffers here, so any request can be replayed);
 *  - checksums only where an operation requires one: the SDK's default sends streamed bodies
 *    with trailing checksums, which S3-compatible servers such as Ceph RGW refuse with 411;
 *  - bodies guarded by Content-MD5 instead of a signed SHA-256 (see `unsignedWhenMD5`);
 *  - plain-HTTP sockets that read up to 1 MiB at a time (see src/util/large-read-agent.ts).
 */
import { Agent as HttpsAgent } from 'node:https';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { LargeReadAgent } from '../../../util/large-read-agent.js';
import type { ClientLimits, S3DriverOptions } from './options.js';

export const DEFAULT_LIMITS: ClientLimits = {
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 60_000,
  maxAttempts: 5,
};

export function createS3Client(options: S3DriverOptions): S3Client {
  // Enough sockets for concurrent part copies plus the traffic of every request being served.
  const maxSockets = Math.max(64, options.multipartCopyMaxConcurrency + 32);
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    tls: options.secure,
    useDualstackEndpoint: options.useDualstack,
    useAccelerateEndpoint: options.accelerate,
    maxAttempts: limits.maxAttempts,
    retryMode: 'standard',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: limits.connectTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: limits.idleTimeoutMs,
      httpAgent: new LargeReadAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets, rejectUnauthorized: !options.skipVerify }),
    },
  };
  if (options.endpoint) config.endpoint = options.endpoint;
  if (options.credentials) config.credentials = options.credentials;
  if (options.userAgent) config.customUserAgent = options.userAgent;
  const client = new S3Client(config);
  client.middlewareStack.add(
    (next) => async (args) => {
      unsignedWhenMD5(args.input as { ContentMD5?: string }, args.request as { headers?: Record<string, string> });
      return next(args);
    },
    { step: 'build', name: 'berthUnsignedPayloadWithMD5' },
  );
  return client;
}

/**
 * A request whose body carries a Content-MD5 (the driver sets one on every PutObject and
 * UploadPart) is signed with UNSIGNED-PAYLOAD instead of the body's SHA-256. The MD5 header is
 * itself signed, so the body still cannot change on the way without the request failing; but the
 * store checks an MD5 it computes anyway for the ETag instead of hashing every byte a second
 * time. On Ceph RGW this multiplies upload throughput by about four.
 */
function unsignedWhenMD5(input: { ContentMD5?: string }, request: { headers?: Record<string, string> }): void {
  if (input.ContentMD5 && request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
}
