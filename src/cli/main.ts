/**
 * The `berth` command line.
 *   berth serve [config.yml]   run the registry (no file: the embedded default, ./data on :5000)
 *   berth check [config.yml]   validate a configuration and print its warnings
 *   berth --version
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { loadConfiguration, ConfigurationError } from '../config/index.js';
import { startRegistry } from '../registry-server.js';

const USAGE = `usage:
  berth serve [config.yml]   run the registry (default: filesystem storage in ./data, port 5000)
  berth check [config.yml]   validate a configuration file and print warnings
  berth --version            print the version

Environment variables REGISTRY_<SECTION>_<KEY> override the file, as in distribution.`;

function version(): string {
  // package.json sits two levels above both src/cli and dist/cli.
  const here = dirname(fileURLToPath(import.meta.url));
  const pkg = JSON.parse(readFileSync(join(here, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case '--version':
    case '-v':
    case 'version':
      console.log(`berth ${version()}`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    case 'check':
    case 'check-config':
      return check(rest[0]);
    case 'serve':
      return serve(rest[0]);
    default:
      console.error(`berth: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}

function check(path: string | undefined): number {
  try {
    const { warnings } = loadConfiguration(path ? { path } : {});
    for (const w of warnings) console.log(`warning: ${w}`);
    console.log(`configuration ${path ?? '(embedded default)'} is valid`);
    return 0;
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 1;
  }
}

async function serve(path: string | undefined): Promise<number> {
  let loaded;
  try {
    loaded = loadConfiguration(path ? { path } : {});
  } catch (err) {
    console.error(err instanceof ConfigurationError || err instanceof Error ? err.message : String(err));
    return 1;
  }
  let running;
  try {
    running = await startRegistry(loaded.config);
  } catch (err) {
    console.error(`berth: cannot start: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const { logger } = running;
  for (const w of loaded.warnings) logger.warn(`configuration: ${w}`);
  logger.info({ version: version(), config: path ?? 'embedded default' }, 'berth started');

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal, draintimeoutMs: loaded.config.http.draintimeout }, 'shutting down');
      running.close().then(resolve, (err) => {
        logger.error({ err }, 'error while shutting down');
        resolve();
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  logger.info('stopped');
  return 0;
}

// Run when executed directly (tsx src/cli/main.ts ...); bin/berth.js imports main() instead.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.env.UV_THREADPOOL_SIZE ??= '16'; // as bin/berth.js; nothing has used the pool yet
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
