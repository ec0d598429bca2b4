/**
 * The level of a log line, guessed from its text (pure): a JSON `level` (names or pino's
 * numbers), logfmt `level=…`, or a level word near the start of the line — upper-case anywhere
 * in the first 80 characters (`ERROR`, `[WARN]`), or any case when it opens the line or is
 * bracketed (`error:`, `[debug]`). A word in the middle of a sentence ("no errors found") does
 * not count. Everything else is `info`: many programs write ordinary output to stderr.
 */

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const NAMES: Record<string, LogLevel> = {
  fatal: 'error',
  panic: 'error',
  crit: 'error',
  critical: 'error',
  emerg: 'error',
  alert: 'error',
  severe: 'error',
  error: 'error',
  err: 'error',
  eror: 'error',
  warning: 'warn',
  warn: 'warn',
  wrn: 'warn',
  notice: 'info',
  info: 'info',
  inf: 'info',
  debug: 'debug',
  dbg: 'debug',
  trace: 'debug',
  verbose: 'debug',
};

function fromName(name: string): LogLevel | undefined {
  return NAMES[name.toLowerCase()];
}

function fromPinoNumber(n: number): LogLevel {
  if (n >= 50) return 'error';
  if (n >= 40) return 'warn';
  if (n >= 30) return 'info';
  return 'debug';
}

const WORDS = Object.keys(NAMES).join('|');
/** Upper-case level word in the first 80 characters. */
const UPPER = new RegExp(`(?:^|[^A-Za-z])(${WORDS.toUpperCase()})(?![A-Za-z])`);
/** Any case, at the start (after a timestamp-ish prefix) followed by ':' or ']' or bracketed. */
const OPENING = new RegExp(`^[\\s\\d:.TZ+\\-/]*[\\[<(]?(${WORDS})[\\]>):]`, 'i');
const BRACKETED = new RegExp(`[\\[<(](${WORDS})[\\]>)]`, 'i');
const LOGFMT = /(?:^|\s)(?:level|lvl|severity)=["']?([A-Za-z]+)/i;

export function detectLevel(message: string): LogLevel {
  const text = message.trimStart();
  if (text.startsWith('{')) {
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      const v = o.level ?? o.severity ?? o.lvl;
      if (typeof v === 'number') return fromPinoNumber(v);
      if (typeof v === 'string') {
        const l = fromName(v);
        if (l) return l;
      }
    } catch {
      // not JSON after all: look at the words
    }
  }
  const logfmt = LOGFMT.exec(text);
  if (logfmt) {
    const l = fromName(logfmt[1]!);
    if (l) return l;
  }
  const head = text.slice(0, 80);
  const m = OPENING.exec(head) ?? BRACKETED.exec(head) ?? UPPER.exec(head);
  return (m && fromName(m[1]!)) || 'info';
}
