/**
 * The `storage.azure` parameters turned into what the driver needs, checked at start-up with
 * messages that name the key. Keys and defaults follow the reference's Azure driver:
 * `accountname`, `accountkey`, `container`, `realm` (endpoint suffix, default core.windows.net),
 * `serviceurl` (an explicit endpoint, e.g. an emulator's `http://127.0.0.1:10000/devstoreaccount1`),
 * `rootdirectory`, the SDK retry settings `max_retries` (3), `retry_delay` (4s), `max_retry_delay`
 * (60s), `retry_try_timeout` (off), and the copy polling settings `copy_status_poll_max_retry` (5)
 * and `copy_status_poll_delay` (100ms), plus `skipverify` for a TLS endpoint with a private cert.
 */
import type { AzureParameters } from '../../../config/index.js';

export interface AzureDriverOptions {
  accountName: string;
  accountKey: string;
  container: string;
  /** Blob service endpoint, no trailing slash. */
  serviceURL: string;
  /** Prefix of every blob name, without leading or trailing slashes ('' for the container root). */
  rootDirectory: string;
  /** Retries after the first try, for every request (the SDK's retry policy). */
  maxRetries: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  /**
   * Server-side timeout per try (sent as `timeout=`) when set; the same value, or one minute,
   * bounds how long a connection may stay silent before the try is abandoned and retried.
   */
  tryTimeoutMs: number | undefined;
  copyPollMaxRetry: number;
  copyPollDelayMs: number;
  skipVerify: boolean;
  /** Bytes per staged block at the start of a blob (tuning and tests; see block-size.ts). */
  blockSize?: number;
  /** Largest blob moved with one synchronous Copy Blob From URL; larger ones use an async copy. */
  syncCopyMaxBytes?: number;
}

const DEFAULT_REALM = 'core.windows.net';
// Azure's container naming rule: 3-63 of lowercase letters, digits and single hyphens.
const CONTAINER = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function fail(key: string, message: string): never {
  throw new Error(`storage.azure.${key}: ${message}`);
}

function text(params: AzureParameters, key: keyof AzureParameters & string): string | undefined {
  const v = params[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') fail(key, 'expected a string');
  return v;
}

function num(params: AzureParameters, key: keyof AzureParameters & string, fallback: number): number {
  const v = params[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(key, 'expected a number');
  return v;
}

export function resolveAzureOptions(params: AzureParameters = {}): AzureDriverOptions {
  const accountName = text(params, 'accountname') ?? fail('accountname', 'required');
  const container = text(params, 'container') ?? fail('container', 'required');
  if (!CONTAINER.test(container)) {
    fail('container', `${JSON.stringify(container)} is not a valid container name (3-63 lowercase letters, digits and single hyphens)`);
  }
  const credentialsType = params.credentials?.type;
  if (credentialsType !== undefined && credentialsType !== 'shared_key') {
    fail('credentials.type', `${JSON.stringify(credentialsType)} is not supported by berth; use accountname and accountkey (shared key)`);
  }
  const accountKey = text(params, 'accountkey') ?? fail('accountkey', 'required (berth authenticates with the shared key)');
  if (!BASE64.test(accountKey)) fail('accountkey', 'expected the base64 key of the storage account');

  const realm = text(params, 'realm') ?? DEFAULT_REALM;
  const serviceURL = (text(params, 'serviceurl') ?? `https://${accountName}.blob.${realm}`).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(serviceURL);
  } catch {
    fail(text(params, 'serviceurl') ? 'serviceurl' : 'realm', `${JSON.stringify(serviceURL)} is not a valid URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('serviceurl', 'expected an http or https URL');

  const rootDirectory = (text(params, 'rootdirectory') ?? '').replace(/^\/+|\/+$/g, '');
  if (rootDirectory !== '' && rootDirectory.split('/').some((c) => c === '' || c === '.' || c === '..')) {
    fail('rootdirectory', `${JSON.stringify(params.rootdirectory)} has an empty or relative component`);
  }

  const maxRetries = num(params, 'max_retries', 3);
  const retryDelay = num(params, 'retry_delay', 4000);
  const maxRetryDelay = num(params, 'max_retry_delay', 60_000);
  const tryTimeout = num(params, 'retry_try_timeout', 0);
  const copyPollMaxRetry = num(params, 'copy_status_poll_max_retry', 5);
  return {
    accountName,
    accountKey,
    container,
    serviceURL,
    rootDirectory,
    maxRetries: Math.max(0, Math.floor(maxRetries)),
    // The SDK wants both delays zero or both positive.
    retryDelayMs: retryDelay > 0 ? retryDelay : 0,
    maxRetryDelayMs: retryDelay > 0 ? (maxRetryDelay > 0 ? Math.max(maxRetryDelay, retryDelay) : 24 * 3600_000) : 0,
    tryTimeoutMs: tryTimeout > 0 ? tryTimeout : undefined,
    // As in the reference, 0 means "not set" for both; -1 polls never (abort a copy still pending).
    copyPollMaxRetry: copyPollMaxRetry === 0 ? 5 : Math.floor(copyPollMaxRetry),
    copyPollDelayMs: num(params, 'copy_status_poll_delay', 0) || 100,
    skipVerify: params.skipverify === true,
  };
}
