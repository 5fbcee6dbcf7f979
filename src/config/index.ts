/** Public surface of the configuration module. */
export { loadConfiguration, type ConfigurationSource, type LoadedConfiguration } from './load.js';
export {
  checkConfiguration,
  validateConfiguration,
  ConfigurationError,
  CONFIG_SPEC,
  type CheckResult,
  type Configuration,
  type LogConfig,
  type HttpConfig,
  type MiddlewareConfig,
  type NotificationsConfig,
  type RedisConfig,
  type HealthConfig,
  type ProxyConfig,
  type ValidationConfig,
  type CatalogConfig,
  type TagsConfig,
  type PolicyConfig,
} from './schema.js';
export {
  STORAGE_DRIVER_NAMES,
  type StorageConfig,
  type StorageDriverConfig,
  type StorageDriverName,
  type FilesystemParameters,
  type InmemoryParameters,
  type S3Parameters,
  type AzureParameters,
  type GcsParameters,
} from './storage.js';
export {
  LOG_LEVELS,
  SIGNING_ALGORITHMS,
  type AuthConfig,
  type LogLevel,
  type MiddlewareEntry,
  type NotificationEndpoint,
} from './sections.js';
export { applyEnvOverrides, ENV_PREFIX, type EnvOverrideResult } from './env.js';
export { DEFAULT_CONFIG_YAML, DEFAULT_CONFIGURATION, defaultConfiguration } from './default.js';
export { parseDuration, parseDurationNs, parseDurationValue, formatDuration, DurationError } from './duration.js';
export { parseYaml, YamlSyntaxError, type ParsedYaml } from './yaml-source.js';
export { SourceMap, formatPath, type Path } from './source-map.js';
