import { describe, expect, it } from 'vitest';
import { afterSince, logQuery, parseLogBody, parseLogLine } from './logs.ts';

describe('pod logs', () => {
  it('splits timestamped lines (nanosecond RFC 3339) into time and message', () => {
    expect(parseLogLine('2026-11-26T15:01:19.123456789Z hello world')).toEqual({
      stream: 'stdout',
      timestamp: '2026-11-26T15:01:19.123456789Z',
      message: 'hello world',
    });
    expect(parseLogLine('2026-11-26T15:01:19Z ')).toMatchObject({ message: '' });
    expect(parseLogBody('2026-11-26T15:01:19Z a\n2026-11-26T15:01:20Z b\n').map((l) => l.message)).toEqual([
      'a',
      'b',
    ]);
    expect(parseLogBody('')).toEqual([]);
  });

  it('turns tail/follow/since into the log API query', () => {
    const now = Date.parse('2026-11-26T16:00:00Z');
    expect(logQuery({ tail: 10 }, now)).toEqual({ timestamps: true, tailLines: 10 });
    expect(logQuery({ follow: true }, now)).toEqual({ timestamps: true, follow: true });
    expect(logQuery({ since: '2026-11-26T15:00:00.500Z' }, now)).toEqual({
      timestamps: true,
      sinceTime: '2026-11-26T15:00:00Z',
    });
    expect(logQuery({ since: String(Date.parse('2026-11-26T15:00:00Z') / 1000) }, now).sinceTime).toBe(
      '2026-11-26T15:00:00Z',
    );
    expect(() => logQuery({ since: 'yesterday' }, now)).toThrow(RangeError);
  });

  it('drops lines before since (the server rounds down to the second)', () => {
    const line = parseLogLine('2026-11-26T15:00:00.200000000Z early');
    expect(afterSince(line, { since: '2026-11-26T15:00:00.500Z' })).toBe(false);
    expect(
      afterSince(parseLogLine('2026-11-26T15:00:00.700000000Z late'), { since: '2026-11-26T15:00:00.500Z' }),
    ).toBe(true);
    expect(afterSince(line, {})).toBe(true);
  });
});
