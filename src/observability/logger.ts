/**
 * The process logger (pino), configured as the reference's `log:` section:
 *   level      error, warn, info, debug (and the reference's panic/fatal)
 *   formatter  text (`time="..." level=info msg="..." key=value`), json (one object per line,
 *              `level` as a word, `time` in RFC 3339, `msg`) or logstash (`@timestamp`,
 *              `@version`, `message`, `level`)
 *   fields     static fields added to every entry
 * Access logs (`log.accesslog.disabled`) are switched in the HTTP app; see access-log.ts.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export interface LogOptions {
  level?: string;
  formatter?: string;
  fields?: Record<string, unknown>;
  /** Write to this stream instead of stdout (tests). */
  destination?: NodeJS.WritableStream;
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** A value in the text format: bare when it is a simple word, quoted otherwise. */
function textValue(v: unknown): string {
  if (typeof v === 'string') return /^[\w./:@+-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(JSON.stringify(v));
}

/** Turns pino's JSON lines into the text format, written without a worker thread. */
function textStream(destination: NodeJS.WritableStream): pino.DestinationStream {
  return {
    write(line: string) {
      try {
        const { time, level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const extras = Object.entries(rest).map(([k, v]) => ` ${k}=${textValue(v)}`).join('');
        destination.write(`time=${JSON.stringify(time)} level=${String(level)} msg=${JSON.stringify(msg ?? '')}${extras}\n`);
      } catch {
        destination.write(line);
      }
    },
  };
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = (opts.level ?? 'info').toLowerCase();
  const pinoLevel = level === 'panic' ? 'fatal' : level;
  if (!LEVELS.has(pinoLevel)) throw new Error(`log.level: unknown level ${JSON.stringify(opts.level)}`);
  const formatter = (opts.formatter ?? 'json').toLowerCase();
  if (formatter !== 'json' && formatter !== 'text' && formatter !== 'logstash') {
    throw new Error(`log.formatter: unknown formatter ${JSON.stringify(opts.formatter)} (json, text or logstash)`);
  }
  const destination = opts.destination ?? process.stdout;
  const options: LoggerOptions = {
    level: pinoLevel,
    base: { service: 'berth', ...(opts.fields ?? {}) },
    formatters: { level: (label) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (formatter === 'text') return pino(options, textStream(destination));
  if (formatter === 'logstash') {
    options.base = { '@version': '1', ...options.base };
    options.messageKey = 'message';
    options.timestamp = () => `,"@timestamp":"${new Date().toISOString()}"`;
  }
  return pino(options, destination as unknown as pino.DestinationStream);
}
