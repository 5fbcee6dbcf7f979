/**
 * Load a configuration: YAML text (given, read from a file, or the embedded
 * default), then `REGISTRY_*` environment overrides, then validation.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG_YAML } from './default.js';
import { applyEnvOverrides } from './env.js';
import { checkConfiguration, ConfigurationError, type Configuration } from './schema.js';
import { isMapping } from './spec.js';
import { parseYaml, setOwn, type ParsedYaml } from './yaml-source.js';

export interface ConfigurationSource {
  /** YAML text; takes precedence over `path`. */
  yamlText?: string;
  /** A config.yml to read. With neither, the embedded default is used. */
  path?: string;
  /** Defaults to `process.env`; pass `{}` to ignore the environment. */
  env?: NodeJS.ProcessEnv;
}

export interface LoadedConfiguration {
  config: Configuration;
  /** Unknown keys, deprecated names, unsupported features, ignored variables. */
  warnings: string[];
}

/** `storage: inmemory` and `auth: silly` are shorthand for a mapping with no parameters. */
function expandShorthand(root: Record<string, unknown>): void {
  for (const key of ['storage', 'auth']) {
    const v = root[key];
    if (typeof v === 'string' && v.trim() !== '') root[key] = { [v.trim()]: null };
  }
}

/**
 * Throws ConfigurationError (listing every problem, each naming its key or
 * variable) when the file cannot be read or parsed, or does not validate.
 */
export function loadConfiguration(source: ConfigurationSource = {}): LoadedConfiguration {
  let text: string;
  let origin: string;
  if (source.yamlText !== undefined) {
    text = source.yamlText;
    origin = 'inline YAML';
  } else if (source.path !== undefined) {
    origin = source.path;
    try {
      text = readFileSync(source.path, 'utf8');
    } catch (err) {
      throw new ConfigurationError([`cannot read the configuration file: ${(err as Error).message}`], [], origin);
    }
  } else {
    text = DEFAULT_CONFIG_YAML;
    origin = 'built-in default';
  }

  let parsed: ParsedYaml;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigurationError([`YAML syntax: ${(err as Error).message}`], [], origin);
  }
  const warnings = parsed.warnings.map((w) => `YAML: ${w}`);

  // An empty file still gets overrides applied, then fails on `version`.
  const root: Record<string, unknown> = {};
  if (isMapping(parsed.value)) for (const [k, v] of Object.entries(parsed.value)) setOwn(root, k, v);
  else if (parsed.value !== null) {
    throw new ConfigurationError(['(root): expected a mapping at the top level'], warnings, origin);
  }
  expandShorthand(root);

  const env = applyEnvOverrides(root, source.env ?? process.env, parsed.sources);
  warnings.push(...env.warnings);

  const checked = checkConfiguration(root, parsed.sources);
  warnings.push(...checked.warnings);
  const errors = [...env.errors, ...checked.errors];
  if (errors.length > 0 || !checked.config) throw new ConfigurationError(errors, warnings, origin);
  return { config: checked.config, warnings };
}
