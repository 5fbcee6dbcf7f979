/**
 * The process logger (pino): `log.level`, `log.formatter` (json or text; logstash is JSON with
 * logstash field names) and `log.fields`, as in the reference's `log:` section.
 */
import { pino, type Logger } from 'pino';

export interface LogOptions {
  level?: string;
  formatter?: string;
  fields?: Record<string, unknown>;
  /** Write to this stream instead of stdout (tests). */
  destination?: NodeJS.WritableStream;
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

export function createLogger(opts: LogOptions = {}): Logger {
  const level = (opts.level ?? 'info').toLowerCase();
  const pinoLevel = level === 'panic' ? 'fatal' : level;
  if (!LEVELS.has(pinoLevel)) throw new Error(`log.level: unknown level ${JSON.stringify(opts.level)}`);
  const formatter = (opts.formatter ?? 'json').toLowerCase();
  const base = { service: 'berth', ...(opts.fields ?? {}) };
  const destination = opts.destination ?? process.stdout;
  if (formatter === 'text') {
    // A plain one-line-per-entry format, written without a worker thread.
    const stream = {
      write(line: string) {
        try {
          const { time, level: lvl, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const extras = Object.entries(rest)
            .filter(([k]) => k !== 'pid' && k !== 'hostname')
            .map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v)}`)
            .join(' ');
          destination.write(`time=${new Date(Number(time)).toISOString()} level=${pino.levels.labels[Number(lvl)] ?? lvl} msg=${JSON.stringify(msg)} ${extras}\n`);
        } catch {
          destination.write(line);
        }
      },
    };
    return pino({ level: pinoLevel, base }, stream);
  }
  const options =
    formatter === 'logstash'
      ? { level: pinoLevel, base, messageKey: 'message', timestamp: () => `,"@timestamp":"${new Date().toISOString()}"` }
      : { level: pinoLevel, base };
  return pino(options, destination as unknown as pino.DestinationStream);
}
