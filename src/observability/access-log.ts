/**
 * Access logs (`log.accesslog.disabled`, on by default): one entry per finished request. As in
 * the reference, where the access log is written whatever the log level, entries are kept when
 * `log.level` is warn or error; a more verbose level applies as usual.
 */
import type { Logger } from 'pino';

export function accessLogger(logger: Logger): Logger {
  return logger.isLevelEnabled('info') ? logger : logger.child({}, { level: 'info' });
}
