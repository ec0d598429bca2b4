/**
 * Structured JSON logs (pino): one object per line with `level`, `time`, `msg` and context fields.
 * Secrets never go into log fields; `redact` is a second line of defence for the usual suspects.
 */
import { pino } from 'pino';
import type { CoreConfig } from './config.ts';

export type Logger = pino.Logger;

const REDACT = [
  'password',
  'token',
  'secret',
  'authorization',
  '*.password',
  '*.token',
  '*.secret',
  '*.authorization',
  'req.headers.authorization',
];

export function createLogger(
  logging: Pick<CoreConfig['logging'], 'level' | 'output'>,
  bindings = {},
): Logger {
  const destination =
    logging.output === 'stdout'
      ? pino.destination({ fd: 1, sync: true })
      : logging.output === 'stderr'
        ? pino.destination({ fd: 2, sync: true })
        : pino.destination({ dest: logging.output, mkdir: true, sync: false });
  return pino(
    {
      level: logging.level,
      base: bindings,
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** A logger that drops everything (unit tests, spec generation). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
