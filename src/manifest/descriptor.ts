/** Content descriptors (OCI image spec §descriptor) and index platforms, validated. */
import { DigestError, digestOf, parseDigest, type Algorithm, type Digest } from '../digest/digest.js';
import { ManifestError } from './errors.js';
import { isValidMediaType } from './media-types.js';

/** Where an index child runs. */
export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

/** A validated descriptor. Only the fields below are kept; unknown fields are dropped. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** Embedded content, base64; checked against digest and size. */
  data?: string;
  artifactType?: string;
  /** Only on index children. */
  platform?: Platform;
}

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function invalid(path: string, message: string): ManifestError {
  return new ManifestError('invalid', `manifest invalid: ${path} ${message}`, { path });
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** A media type string with valid grammar; `path` names the field in the message. */
export function parseMediaTypeField(value: unknown, path: string): string {
  if (typeof value !== 'string') throw invalid(path, `must be a media type string, not ${typeName(value)}`);
  if (!isValidMediaType(value)) {
    throw invalid(path, `${JSON.stringify(value.slice(0, 200))} is not a valid media type (expected type/subtype, e.g. application/vnd.oci.image.layer.v1.tar+gzip)`);
  }
  return value;
}

/** `annotations`: an object whose values are all strings. */
export function parseAnnotations(value: unknown, path: string): Record<string, string> {
  if (!isJsonObject(value)) throw invalid(path, `must be an object of strings, not ${typeName(value)}`);
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(`${path}[${JSON.stringify(key.slice(0, 100))}]`, `must be a string, not ${typeName(v)}`);
    out[key] = v;
  }
  return out;
}

function parseStringArray(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) throw invalid(path, `must be an array of strings, not ${typeName(value)}`);
  value.forEach((v, i) => {
    if (typeof v !== 'string') throw invalid(`${path}[${i}]`, `must be a string, not ${typeName(v)}`);
  });
  return value as string[];
}

function optionalString(obj: JsonObject, key: string, path: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(`${path}.${key}`, `must be a string, not ${typeName(v)}`);
  return v;
}

export function parsePlatform(value: unknown, path: string): Platform {
  if (!isJsonObject(value)) throw invalid(path, `must be an object, not ${typeName(value)}`);
  const architecture = value.architecture;
  const os = value.os;
  if (typeof architecture !== 'string' || architecture === '') {
    throw invalid(`${path}.architecture`, 'must be a non-empty string (e.g. "amd64", "arm64")');
  }
  if (typeof os !== 'string' || os === '') throw invalid(`${path}.os`, 'must be a non-empty string (e.g. "linux")');
  const platform: Platform = { architecture, os };
  const osVersion = optionalString(value, 'os.version', path);
  if (osVersion !== undefined) platform['os.version'] = osVersion;
  const variant = optionalString(value, 'variant', path);
  if (variant !== undefined) platform.variant = variant;
  if (value['os.features'] !== undefined) platform['os.features'] = parseStringArray(value['os.features'], `${path}.os.features`);
  if (value.features !== undefined) platform.features = parseStringArray(value.features, `${path}.features`);
  return platform;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function checkData(data: string, digest: Digest, algorithm: Algorithm, size: number, path: string): void {
  if (!BASE64.test(data)) throw invalid(`${path}.data`, 'must be standard base64 (RFC 4648 §4)');
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length !== size) throw invalid(`${path}.data`, `decodes to ${bytes.length} bytes but size is ${size}`);
  if (digestOf(bytes, algorithm) !== digest) throw invalid(`${path}.data`, `does not match digest ${digest}`);
}

/**
 * Validate one descriptor. `platform` is read only where the schema has it
 * (index children); elsewhere it is ignored like any unknown field.
 */
export function parseDescriptor(value: unknown, path: string, options: { platform?: boolean } = {}): Descriptor {
  if (!isJsonObject(value)) throw invalid(path, `must be a descriptor object, not ${typeName(value)}`);
  if (value.mediaType === undefined) throw invalid(`${path}.mediaType`, 'is required');
  const mediaType = parseMediaTypeField(value.mediaType, `${path}.mediaType`);

  if (typeof value.digest !== 'string') {
    throw new ManifestError('digest-invalid', `manifest invalid: ${path}.digest must be a digest string such as "sha256:<64 hex>"`, {
      path: `${path}.digest`,
    });
  }
  let digest: Digest;
  let algorithm: Algorithm;
  try {
    ({ digest, algorithm } = parseDigest(value.digest));
  } catch (err) {
    if (!(err instanceof DigestError)) throw err;
    throw new ManifestError('digest-invalid', `manifest invalid: ${path}.digest: ${err.message}`, {
      path: `${path}.digest`,
      digest: value.digest.slice(0, 200),
    });
  }

  const size = value.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${path}.size`, `must be a non-negative integer byte count, not ${typeof size === 'number' ? size : typeName(size)}`);
  }

  const descriptor: Descriptor = { mediaType, digest, size };
  if (value.urls !== undefined) descriptor.urls = parseStringArray(value.urls, `${path}.urls`);
  if (value.annotations !== undefined) descriptor.annotations = parseAnnotations(value.annotations, `${path}.annotations`);
  if (value.artifactType !== undefined) descriptor.artifactType = parseMediaTypeField(value.artifactType, `${path}.artifactType`);
  if (value.data !== undefined) {
    if (typeof value.data !== 'string') throw invalid(`${path}.data`, `must be a base64 string, not ${typeName(value.data)}`);
    checkData(value.data, digest, algorithm, size, path);
    descriptor.data = value.data;
  }
  if (options.platform && value.platform !== undefined) descriptor.platform = parsePlatform(value.platform, `${path}.platform`);
  return descriptor;
}
