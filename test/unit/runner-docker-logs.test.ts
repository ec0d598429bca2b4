/** Docker log frame demultiplexing, on frames recorded from Docker 20.10 (json-file driver). */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeLogBuffer,
  decodeLogStream,
  FrameDemuxer,
  LogDecoder,
  splitTimestamp,
} from '../../plugins/runner-docker/logs.ts';

// logs({follow:false, timestamps:true}) of `echo "héllo wörld"; echo "to err" >&2; echo; printf "no newline"`.
const MUX = Buffer.from(
  'AgAAAAAAACYyMDI2LTExLTI2VDEyOjUyOjQ5LjQ2MTg4NTM3OVogdG8gZXJyCgEAAAAAAAAtMjAyNi0xMS0yNlQxMjo1Mjo0OS40NjIwMDQ0ODZaIGjDqWxsbyB3w7ZybGQKAQAAAAAAACAyMDI2LTExLTI2VDEyOjUyOjQ5LjQ2MjAwODUwNVogCgEAAAAAAAApMjAyNi0xMS0yNlQxMjo1Mjo0OS40ODA5NzY0NzJaIG5vIG5ld2xpbmU=',
  'base64',
);
const MUX_LINES = [
  { stream: 'stderr', timestamp: '2026-11-26T12:52:49.461885379Z', message: 'to err' },
  { stream: 'stdout', timestamp: '2026-11-26T12:52:49.462004486Z', message: 'héllo wörld' },
  { stream: 'stdout', timestamp: '2026-11-26T12:52:49.462008505Z', message: '' },
  { stream: 'stdout', timestamp: '2026-11-26T12:52:49.480976472Z', message: 'no newline' },
];

// The same for a TTY container (no frames): `echo one; printf "two\r\nthree"`.
const TTY = Buffer.from(
  'MjAyNi0xMS0yNlQxMjo1Mjo0OS4xNjk1MzQ5ODZaIG9uZQ0KMjAyNi0xMS0yNlQxMjo1Mjo0OS4xNjk1NjUzNDFaIHR3bw0NCjIwMjYtMTEtMjZUMTI6NTI6NDkuMTkwMDgyMzMzWiB0aHJlZQ==',
  'base64',
);
const TTY_LINES = [
  { stream: 'stdout', timestamp: '2026-11-26T12:52:49.169534986Z', message: 'one' },
  { stream: 'stdout', timestamp: '2026-11-26T12:52:49.169565341Z', message: 'two' },
  { stream: 'stdout', timestamp: '2026-11-26T12:52:49.190082333Z', message: 'three' },
];

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Cuts `buf` at the given offsets. */
function cut(buf: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (buf.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    parts.push(buf.subarray(prev, p));
    prev = p;
  }
  parts.push(buf.subarray(prev));
  return parts;
}

describe('FrameDemuxer', () => {
  it('splits the recorded buffer into its four frames', () => {
    const d = new FrameDemuxer();
    const frames = d.push(MUX);
    expect(frames.map((f) => f.stream)).toEqual([2, 1, 1, 1]);
    expect(frames[1]?.payload.toString()).toBe('2026-11-26T12:52:49.462004486Z héllo wörld\n');
    expect(d.end()).toEqual([]);
    expect(d.raw).toBe(false);
  });

  it('waits for the rest of a frame cut anywhere, even inside the header', () => {
    const d = new FrameDemuxer();
    expect(d.push(MUX.subarray(0, 3))).toEqual([]);
    expect(d.push(MUX.subarray(3, 20))).toEqual([]);
    const rest = d.push(MUX.subarray(20));
    expect(rest).toHaveLength(4);
  });

  it('returns a truncated last frame at the end instead of losing it', () => {
    const d = new FrameDemuxer();
    const f = frame(2, 'partial line');
    expect(d.push(f.subarray(0, f.length - 4))).toEqual([]);
    const tail = d.end();
    expect(tail).toHaveLength(1);
    expect(tail[0]).toMatchObject({ stream: 2 });
    expect(tail[0]?.payload.toString()).toBe('partial ');
  });

  it('switches to raw pass-through when the input is not framed', () => {
    const d = new FrameDemuxer();
    const out = d.push(Buffer.from('hello\nworld\n'));
    expect(d.raw).toBe(true);
    expect(out).toEqual([{ stream: 1, payload: Buffer.from('hello\nworld\n'), raw: true }]);
    expect(d.push(Buffer.from('more'))[0]).toMatchObject({ raw: true });
  });

  it('returns a short unframed input at the end as raw text', () => {
    const d = new FrameDemuxer();
    expect(d.push(Buffer.from('hi\n'))).toEqual([]);
    expect(d.end()).toEqual([{ stream: 1, payload: Buffer.from('hi\n'), raw: true }]);
    const lines = decodeLogBuffer(Buffer.from('2026-01-01T00:00:00Z hi\n'), { tty: false });
    expect(lines).toEqual([{ stream: 'stdout', timestamp: '2026-01-01T00:00:00Z', message: 'hi' }]);
  });

  it('keeps frames that came before garbage as frames', () => {
    const d = new FrameDemuxer();
    const out = d.push(Buffer.concat([frame(1, 'ok\n'), Buffer.from('garbage!')]));
    expect(out[0]).toEqual({ stream: 1, payload: Buffer.from('ok\n') });
    expect(out[1]).toMatchObject({ stream: 1, raw: true });
  });
});

describe('splitTimestamp', () => {
  it('separates the RFC 3339 nano timestamp from the message', () => {
    expect(splitTimestamp('2026-11-26T12:52:49.461885379Z to err')).toEqual({
      timestamp: '2026-11-26T12:52:49.461885379Z',
      message: 'to err',
    });
    expect(splitTimestamp('2026-11-26T12:52:49+02:00 x')).toEqual({
      timestamp: '2026-11-26T12:52:49+02:00',
      message: 'x',
    });
  });
  it('leaves a line without a timestamp alone', () => {
    expect(splitTimestamp('2026 was a year')).toEqual({ timestamp: undefined, message: '2026 was a year' });
  });
});

describe('log decoding', () => {
  it('decodes the recorded multiplexed buffer', () => {
    expect(decodeLogBuffer(MUX, { tty: false })).toEqual(MUX_LINES);
  });

  it('decodes the recorded TTY buffer (raw bytes, CR LF endings)', () => {
    expect(decodeLogBuffer(TTY, { tty: true })).toEqual(TTY_LINES);
  });

  it('gives the same lines however the stream is chunked', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), (offsets, tty) => {
        const input = tty ? TTY : MUX;
        const decoder = new LogDecoder({ tty });
        const lines = cut(input, offsets).flatMap((c) => decoder.push(c));
        lines.push(...decoder.end());
        expect(lines).toEqual(tty ? TTY_LINES : MUX_LINES);
      }),
    );
  });

  it('keeps multi-byte characters split across chunks intact in TTY mode', () => {
    const text = Buffer.from('2026-11-26T12:52:49.1Z wörld\n');
    const at = text.indexOf(0xc3) + 1; // inside the two-byte ö
    const d = new LogDecoder({ tty: true });
    const lines = [...d.push(text.subarray(0, at)), ...d.push(text.subarray(at)), ...d.end()];
    expect(lines).toEqual([{ stream: 'stdout', timestamp: '2026-11-26T12:52:49.1Z', message: 'wörld' }]);
  });

  it('decodes a follow stream as chunks arrive', async () => {
    const chunks = cut(MUX, [5, 30, 31, 90]);
    const lines = [];
    for await (const l of decodeLogStream(Readable.from(chunks), { tty: false })) lines.push(l);
    expect(lines).toEqual(MUX_LINES);
  });

  it('does not paste partial entries together (each frame is one entry)', () => {
    const buf = Buffer.concat([
      frame(1, '2026-01-01T00:00:00.1Z aaaa'),
      frame(1, '2026-01-01T00:00:00.2Z bbbb\n'),
    ]);
    expect(decodeLogBuffer(buf, { tty: false }).map((l) => l.message)).toEqual(['aaaa', 'bbbb']);
  });

  it('falls back to the previous timestamp, then to now, for lines without one', () => {
    const d = new LogDecoder({ tty: false, now: () => 'NOW' });
    const lines = d.push(Buffer.concat([frame(1, 'bare\n'), frame(1, '2026-01-01T00:00:00Z a\nb\n')]));
    expect(lines).toEqual([
      { stream: 'stdout', timestamp: 'NOW', message: 'bare' },
      { stream: 'stdout', timestamp: '2026-01-01T00:00:00Z', message: 'a' },
      { stream: 'stdout', timestamp: '2026-01-01T00:00:00Z', message: 'b' },
    ]);
  });
});
