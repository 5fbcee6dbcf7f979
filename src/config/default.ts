/**
 * The configuration berth runs with when no file is given: filesystem storage
 * in `./data` (relative to the working directory), the in-memory blob
 * descriptor cache, `:5000`, deletes off, upload purging on. Environment
 * overrides still apply on top (see loadConfiguration).
 */
import { validateConfiguration, type Configuration } from './schema.js';
import { parseYaml } from './yaml-source.js';

export const DEFAULT_CONFIG_YAML = `version: 0.1
log:
  level: info
  formatter: json
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: ./data
  cache:
    blobdescriptor: inmemory
    blobdescriptorsize: 10000
  delete:
    enabled: false
  maintenance:
    uploadpurging:
      enabled: true
      age: 168h
      interval: 24h
      dryrun: false
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
`;

/** A fresh copy of the default configuration (no environment applied). */
export function defaultConfiguration(): Configuration {
  const { value, sources } = parseYaml(DEFAULT_CONFIG_YAML);
  return validateConfiguration(value, sources).config;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The parsed default, frozen; use defaultConfiguration() for a copy you may change. */
export const DEFAULT_CONFIGURATION: Readonly<Configuration> = deepFreeze(defaultConfiguration());
