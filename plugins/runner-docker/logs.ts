/**
 * Docker log decoding. Without a TTY the engine multiplexes stdout and stderr into frames:
 *
 *   [stream: 1 byte (0 stdin, 1 stdout, 2 stderr)] [0 0 0] [size: uint32 big-endian] [payload]
 *
 * With `timestamps: true` every log entry starts with an RFC 3339 (nanosecond) timestamp and a
 * space. `logs({follow: false})` hands back all frames in one Buffer; `follow: true` a stream
 * whose chunks cut frames anywhere. Containers with a TTY send raw bytes (no frames) instead.
 */
import { StringDecoder } from 'node:string_decoder';
import type { LogLine } from '../../core/slots/runner.ts';

export interface Frame {
  stream: 0 | 1 | 2;
  payload: Buffer;
  /** Unframed bytes (the input turned out not to be multiplexed). */
  raw?: true;
}

const HEADER = 8;
/** A frame larger than this is not a log frame: treat the input as raw (it would be a TTY stream). */
const MAX_FRAME = 64 * 1024 * 1024;

/** Incremental frame parser; switches to raw pass-through when the input is not framed. */
export class FrameDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private rawMode = false;

  /** True once the input turned out not to be multiplexed; later payloads are raw stdout bytes. */
  get raw(): boolean {
    return this.rawMode;
  }

  push(chunk: Uint8Array): Frame[] {
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.rawMode) return data.length ? [{ stream: 1, payload: Buffer.from(data), raw: true }] : [];
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    const frames: Frame[] = [];
    let off = 0;
    while (this.pending.length - off >= HEADER) {
      const type = this.pending[off]!;
      const size = this.pending.readUInt32BE(off + 4);
      const framed =
        type <= 2 &&
        this.pending[off + 1] === 0 &&
        this.pending[off + 2] === 0 &&
        this.pending[off + 3] === 0;
      if (!framed || size > MAX_FRAME) {
        // Not a frame header: the stream is raw (TTY) from here on, this chunk included.
        this.rawMode = true;
        const rest = this.pending.subarray(off);
        this.pending = Buffer.alloc(0);
        if (rest.length) frames.push({ stream: 1, payload: Buffer.from(rest), raw: true });
        return frames;
      }
      if (this.pending.length - off - HEADER < size) break;
      frames.push({
        stream: type as 0 | 1 | 2,
        payload: Buffer.from(this.pending.subarray(off + HEADER, off + HEADER + size)),
      });
      off += HEADER + size;
    }
    this.pending = off ? Buffer.from(this.pending.subarray(off)) : this.pending;
    return frames;
  }

  /** End of input: a truncated trailing frame is returned with what arrived of it. */
  end(): Frame[] {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    if (!rest.length) return [];
    const type = rest[0]!;
    const headerLike = type <= 2 && rest.subarray(1, Math.min(4, rest.length)).every((b) => b === 0);
    // A short input that cannot start a frame was raw text all along (a tiny TTY log).
    if (!headerLike) return [{ stream: 1, payload: Buffer.from(rest), raw: true }];
    if (rest.length <= HEADER) return [];
    return [{ stream: type === 2 ? 2 : 1, payload: Buffer.from(rest.subarray(HEADER)) }];
  }
}

const TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) ?/;

/** Splits Docker's "<RFC 3339 timestamp> <message>" into its parts; no timestamp → undefined. */
export function splitTimestamp(line: string): { timestamp: string | undefined; message: string } {
  const m = TIMESTAMP.exec(line);
  if (!m) return { timestamp: undefined, message: line };
  return { timestamp: m[1], message: line.slice(m[0].length) };
}

export interface LogDecoderOptions {
  /** The container has a TTY: input is raw bytes, not frames. */
  tty: boolean;
  /** Timestamp for a line that carries none (only when the engine omits them). */
  now?: () => string;
}

/**
 * Bytes in, LogLines out. Each multiplexed frame is one log entry (the engine writes one frame
 * per entry, the timestamp inside it), so frames are decoded on their own: an over-long line
 * that the engine split into partial entries comes out as several LogLines rather than as one
 * line with timestamps pasted into its middle. Raw (TTY) input is cut into lines at '\n'.
 */
export class LogDecoder {
  private readonly demuxer = new FrameDemuxer();
  private readonly tty: boolean;
  private readonly now: () => string;
  private readonly text = new StringDecoder('utf8');
  private partial = '';
  private lastTimestamp: string | undefined;

  constructor(opts: LogDecoderOptions) {
    this.tty = opts.tty;
    this.now = opts.now ?? (() => new Date().toISOString());
  }

  push(chunk: Uint8Array): LogLine[] {
    if (this.tty) return this.rawLines(this.text.write(Buffer.from(chunk)));
    const out: LogLine[] = [];
    for (const frame of this.demuxer.push(chunk)) this.decodeFrame(frame, out);
    return out;
  }

  end(): LogLine[] {
    const out: LogLine[] = [];
    if (!this.tty) for (const frame of this.demuxer.end()) this.decodeFrame(frame, out);
    const tail = this.partial + this.text.end();
    this.partial = '';
    if (tail) out.push(this.line('stdout', tail.replace(/\r+$/, '')));
    return out;
  }

  private decodeFrame(frame: Frame, out: LogLine[]): void {
    if (frame.raw) {
      out.push(...this.rawLines(this.text.write(frame.payload)));
      return;
    }
    const stream = frame.stream === 2 ? 'stderr' : 'stdout';
    let text = frame.payload.toString('utf8');
    if (text.endsWith('\n')) text = text.slice(0, -1);
    for (const piece of text.split('\n')) out.push(this.line(stream, piece.replace(/\r+$/, '')));
  }

  private rawLines(text: string): LogLine[] {
    const all = this.partial + text;
    const parts = all.split('\n');
    this.partial = parts.pop() ?? '';
    return parts.map((p) => this.line('stdout', p.replace(/\r+$/, '')));
  }

  private line(stream: 'stdout' | 'stderr', raw: string): LogLine {
    const { timestamp, message } = splitTimestamp(raw);
    if (timestamp) this.lastTimestamp = timestamp;
    return { stream, timestamp: timestamp ?? this.lastTimestamp ?? this.now(), message };
  }
}

/** All lines of a `logs({follow: false})` Buffer. */
export function decodeLogBuffer(buf: Uint8Array, opts: LogDecoderOptions): LogLine[] {
  const decoder = new LogDecoder(opts);
  return [...decoder.push(buf), ...decoder.end()];
}

/** Lines of a `logs({follow: true})` stream as they arrive. */
export async function* decodeLogStream(
  source: AsyncIterable<Uint8Array | string>,
  opts: LogDecoderOptions,
): AsyncGenerator<LogLine> {
  const decoder = new LogDecoder(opts);
  for await (const chunk of source) {
    yield* decoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  yield* decoder.end();
}
