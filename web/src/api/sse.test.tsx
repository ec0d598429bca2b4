import { describe, expect, it } from 'vitest';
import { createSseParser, type SseMessage } from './sse';

describe('SSE parser', () => {
  it('splits events across chunks, ignores comments, keeps ids', () => {
    const got: SseMessage[] = [];
    const parse = createSseParser((m) => got.push(m));
    parse(': connected\n\nid: 7\nevent: run:started\nda');
    parse('ta: {"a":1}\n\nevent: log\r\ndata: line 1\r\ndata: line 2\r\n\r\n');
    expect(got).toEqual([
      { id: '7', event: 'run:started', data: '{"a":1}' },
      { id: '7', event: 'log', data: 'line 1\nline 2' },
    ]);
  });
});
