/**
 * The `storage` section: exactly one driver plus the non-driver options
 * (delete, redirect, cache, maintenance, tag) that sit beside it.
 *
 * Driver parameters stay plain records so each driver can validate its own
 * options. Known parameters are type-checked and converted here (booleans,
 * integers, durations in milliseconds), so a typo in a type is reported with
 * its key at start-up; unknown ones get a warning and are passed through.
 */
import {
  bool,
  custom,
  duration,
  int,
  isAbsent,
  isMapping,
  obj,
  own,
  required,
  str,
  type DecodeContext,
  type Out,
  type Path,
  type Shape,
  type Spec,
} from './spec.js';

/** Parameters of one driver: its known keys typed, anything else passed through. */
export type DriverParameters<F extends Shape> = { [K in keyof F]?: Exclude<Out<F[K]>, undefined> } & Record<string, unknown>;

function driver<F extends Shape>(fields: F): Spec<DriverParameters<F>> {
  return custom({ kind: 'object', fields, open: true }, (raw, path, ctx) => {
    const out: Record<string, unknown> = {};
    if (!isAbsent(raw) && !isMapping(raw)) {
      ctx.error(path, 'expected a mapping of driver parameters');
      return out as DriverParameters<F>;
    }
    for (const [key, spec] of Object.entries(fields)) {
      const v = spec.decode(own(raw, key), [...path, key], ctx);
      if (v !== undefined) out[key] = v;
    }
    for (const [key, v] of Object.entries(raw ?? {})) {
      if (Object.hasOwn(fields, key)) continue;
      ctx.warn([...path, key], 'unknown driver parameter, passed to the driver unchanged');
      Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
    }
    return out as DriverParameters<F>;
  });
}

// directwrites and directreads are berth's: write upload data with O_DIRECT (default true where
// supported); read large blobs that are not in the page cache with O_DIRECT (default false).
const filesystemSpec = driver({ rootdirectory: str(), maxthreads: int(), directwrites: bool(), directreads: bool() });
const inmemorySpec = driver({});
const s3Spec = driver({
  accesskey: str(),
  secretkey: str(),
  sessiontoken: str(),
  region: required(str()),
  regionendpoint: str(),
  forcepathstyle: bool(),
  bucket: required(str()),
  encrypt: bool(),
  keyid: str(),
  secure: bool(),
  skipverify: bool(),
  v4auth: bool(),
  chunksize: int(),
  multipartcopychunksize: int(),
  multipartcopymaxconcurrency: int(),
  multipartcopythresholdsize: int(),
  rootdirectory: str(),
  storageclass: str(),
  useragent: str(),
  usedualstack: bool(),
  accelerate: bool(),
  objectacl: str(),
  loglevel: str(),
  checksumdisabled: bool(),
  checksumalgorithm: str(),
});
const azureSpec = driver({
  accountname: str(),
  accountkey: str(),
  container: required(str()),
  realm: str(),
  rootdirectory: str(),
  serviceurl: str(),
  credentials: driver({ type: str(), clientid: str(), tenantid: str(), secret: str() }),
  max_retries: int(),
  retry_try_timeout: duration(),
  retry_delay: duration(),
  max_retry_delay: duration(),
  copy_status_poll_max_retry: int(),
  copy_status_poll_delay: duration(),
  skipverify: bool(),
});
const gcsSpec = driver({
  bucket: required(str()),
  keyfile: str(),
  // A service-account key inline; its keys contain underscores, so they are
  // listed here for REGISTRY_STORAGE_GCS_CREDENTIALS_PRIVATE_KEY_ID to resolve.
  credentials: driver({
    type: str(),
    project_id: str(),
    private_key_id: str(),
    private_key: str(),
    client_email: str(),
    client_id: str(),
    auth_uri: str(),
    token_uri: str(),
    auth_provider_x509_cert_url: str(),
    client_x509_cert_url: str(),
  }),
  rootdirectory: str(),
  chunksize: int(),
  useragent: str(),
  maxconcurrency: int(),
});

export type FilesystemParameters = Out<typeof filesystemSpec>;
export type InmemoryParameters = Out<typeof inmemorySpec>;
export type S3Parameters = Out<typeof s3Spec>;
export type AzureParameters = Out<typeof azureSpec>;
export type GcsParameters = Out<typeof gcsSpec>;

/** The configured driver: its name and its parameters. */
export type StorageDriverConfig =
  | { name: 'filesystem'; parameters: FilesystemParameters }
  | { name: 'inmemory'; parameters: InmemoryParameters }
  | { name: 's3'; parameters: S3Parameters }
  | { name: 'azure'; parameters: AzureParameters }
  | { name: 'gcs'; parameters: GcsParameters };

export type StorageDriverName = StorageDriverConfig['name'];

const DRIVERS = {
  filesystem: filesystemSpec,
  inmemory: inmemorySpec,
  s3: s3Spec,
  azure: azureSpec,
  gcs: gcsSpec,
} as const;

export const STORAGE_DRIVER_NAMES = Object.keys(DRIVERS) as StorageDriverName[];

const OPTIONS = {
  delete: obj({ enabled: bool(false) }),
  redirect: obj({ disable: bool(false) }),
  cache: obj({ blobdescriptor: str(), layerinfo: str(), blobdescriptorsize: int(10000, { min: 0 }) }),
  maintenance: obj({
    uploadpurging: obj({
      enabled: bool(true),
      age: duration('168h'),
      interval: duration('24h'),
      dryrun: bool(false),
    }),
    readonly: obj({ enabled: bool(false) }),
  }),
  tag: obj({ concurrencylimit: int(0, { min: 0 }) }),
};

/** Keys of `storage` that are not drivers. */
export const STORAGE_OPTION_KEYS: readonly string[] = Object.keys(OPTIONS);

const optionsSpec = obj(OPTIONS);
type StorageOptions = Out<typeof optionsSpec>;

export interface StorageConfig {
  driver: StorageDriverConfig;
  delete: StorageOptions['delete'];
  redirect: StorageOptions['redirect'];
  cache: {
    /** undefined: no descriptor cache. `layerinfo` (the old name) is folded in here. */
    blobdescriptor: 'inmemory' | 'redis' | undefined;
    /** Entry limit of the in-memory cache; 0 means unbounded. */
    blobdescriptorsize: number;
  };
  /** `age` and `interval` in milliseconds. */
  maintenance: StorageOptions['maintenance'];
  /** 0 means "pick from the CPU count", as GOMAXPROCS does in the reference. */
  tag: StorageOptions['tag'];
}

function decodeCache(raw: unknown, decoded: StorageOptions['cache'], path: Path, ctx: DecodeContext): StorageConfig['cache'] {
  let kind = decoded.blobdescriptor;
  if (own(raw, 'blobdescriptor') === undefined && decoded.layerinfo !== undefined) {
    ctx.warn([...path, 'layerinfo'], 'deprecated name, use storage.cache.blobdescriptor');
    kind = decoded.layerinfo;
  }
  const normalized = kind?.trim().toLowerCase();
  let blobdescriptor: StorageConfig['cache']['blobdescriptor'];
  if (normalized === 'inmemory' || normalized === 'redis') blobdescriptor = normalized;
  else if (normalized) ctx.warn([...path, 'blobdescriptor'], `unknown cache type ${JSON.stringify(kind)}, caching disabled`);
  return { blobdescriptor, blobdescriptorsize: decoded.blobdescriptorsize };
}

const PLACEHOLDER_DRIVER: StorageDriverConfig = { name: 'inmemory', parameters: {} };
const SUPPORTED = STORAGE_DRIVER_NAMES.join(', ');

export const storageSpec: Spec<StorageConfig> = custom(
  { kind: 'object', fields: { ...OPTIONS, ...DRIVERS } },
  (raw, path, ctx) => {
    let input: Record<string, unknown> = {};
    if (typeof raw === 'string' && raw.trim() !== '') input = { [raw.trim()]: null };
    else if (isMapping(raw)) input = raw;
    else if (!isAbsent(raw)) ctx.error(path, 'expected a mapping with one storage driver');

    const optionsInput: Record<string, unknown> = {};
    const driverKeys: string[] = [];
    for (const [key, v] of Object.entries(input)) {
      if (STORAGE_OPTION_KEYS.includes(key)) optionsInput[key] = v;
      else driverKeys.push(key);
    }

    let driverConfig: StorageDriverConfig = PLACEHOLDER_DRIVER;
    const known = driverKeys.filter((k) => Object.hasOwn(DRIVERS, k));
    for (const k of driverKeys) {
      if (!known.includes(k)) ctx.error([...path, k], `unknown storage driver (supported: ${SUPPORTED})`);
    }
    if (driverKeys.length === 0) {
      if (isAbsent(raw)) ctx.error(path, `required section is missing; configure one storage driver (${SUPPORTED})`);
      else ctx.error(path, `no storage driver configured (one of ${SUPPORTED})`);
    } else if (driverKeys.length > 1) {
      ctx.error(path, `exactly one storage driver may be configured, found: ${driverKeys.join(', ')}`);
    } else if (known.length === 1) {
      const name = known[0] as StorageDriverName;
      const parameters = DRIVERS[name].decode(input[name], [...path, name], ctx);
      driverConfig = { name, parameters } as StorageDriverConfig;
    }

    const options = optionsSpec.decode(optionsInput, path, ctx);
    return {
      driver: driverConfig,
      delete: options.delete,
      redirect: options.redirect,
      cache: decodeCache(own(optionsInput, 'cache'), options.cache, [...path, 'cache'], ctx),
      maintenance: options.maintenance,
      tag: options.tag,
    };
  },
);
