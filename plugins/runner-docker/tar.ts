/**
 * A build context as a tar stream (POSIX ustar, with PAX records for long names), written here
 * rather than by a general tar library so the rules are ours: entries come from lstat (a symlink
 * is sent as a link, never followed), files are opened with O_NOFOLLOW and must still have the
 * size lstat saw, nothing but regular files, directories and symlinks is sent, and the total is
 * bounded before a byte leaves the machine.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
} from 'node:fs';
import { join } from 'node:path';
import type { ContextFilter } from './dockerignore.ts';

export interface TarEntry {
  /** Relative, '/'-separated. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mode: number;
  mtime: number;
  linkname?: string;
}

export class ContextError extends Error {
  override name = 'ContextError';
}

const BLOCK = 512;
const MAX_ENTRIES = 100_000;
const CHUNK = 64 * 1024;

/** Every entry under `root` (depth first, sorted so the tar is reproducible). */
export function collectEntries(
  root: string,
  opts: { exclude?: string[]; maxBytes?: number; filter?: ContextFilter } = {},
): { entries: TarEntry[]; bytes: number } {
  const filter = opts.filter;
  const exclude = new Set(opts.exclude ?? []);
  const entries: TarEntry[] = [];
  let bytes = 0;
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (!rel && exclude.has(name)) continue;
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, name));
      if (filter?.ignores(path)) {
        // Left out; a directory is still walked when a `!` pattern may bring parts of it back
        // (the daemon creates the parents of what it receives).
        if (st.isDirectory() && filter.walkIgnored(path)) walk(join(dir, name), path);
        continue;
      }
      const base = { path, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) };
      if (st.isSymbolicLink()) {
        entries.push({ ...base, type: 'symlink', size: 0, linkname: readlinkSync(join(dir, name)) });
      } else if (st.isDirectory()) {
        entries.push({ ...base, type: 'dir', size: 0 });
        walk(join(dir, name), path);
      } else if (st.isFile()) {
        bytes += st.size;
        if (opts.maxBytes !== undefined && bytes > opts.maxBytes) {
          throw new ContextError(`the build context is larger than ${opts.maxBytes} bytes`);
        }
        entries.push({ ...base, type: 'file', size: st.size });
      }
      // Sockets, FIFOs and devices are never sent.
      if (entries.length > MAX_ENTRIES) {
        throw new ContextError(`the build context has more than ${MAX_ENTRIES} files`);
      }
    }
  };
  walk(root, '');
  return { entries, bytes };
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function paxRecord(key: string, value: string): string {
  // The length counts the whole record, its own digits included.
  const rest = ` ${key}=${value}\n`;
  const restLen = Buffer.byteLength(rest);
  let len = restLen + 1;
  while (len !== restLen + String(len).length) len = restLen + String(len).length;
  return `${len}${rest}`;
}

function header(e: {
  path: string;
  type: string;
  size: number;
  mode: number;
  mtime: number;
  linkname?: string;
}) {
  const buf = Buffer.alloc(BLOCK);
  buf.write(e.path, 0, 100, 'utf8');
  buf.write(octal(e.mode, 8), 100, 8, 'ascii');
  buf.write(octal(0, 8), 108, 8, 'ascii');
  buf.write(octal(0, 8), 116, 8, 'ascii');
  buf.write(octal(e.size, 12), 124, 12, 'ascii');
  buf.write(octal(e.mtime, 12), 136, 12, 'ascii');
  buf.write('        ', 148, 8, 'ascii');
  buf.write(e.type, 156, 1, 'ascii');
  if (e.linkname) buf.write(e.linkname, 157, 100, 'utf8');
  buf.write('ustar\u000000', 257, 8, 'ascii');
  let sum = 0;
  for (const b of buf) sum += b;
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return buf;
}

const pad = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** The header block(s) of one entry: a PAX record first when a name does not fit ustar. */
export function entryHeader(e: TarEntry): Buffer {
  const name = e.type === 'dir' ? `${e.path}/` : e.path;
  const type = e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2';
  const long = Buffer.byteLength(name) > 100 || Buffer.byteLength(e.linkname ?? '') > 100;
  const main = header({ ...e, path: long ? name.slice(0, 99) : name, type });
  if (!long) return main;
  const records = paxRecord('path', name) + (e.linkname ? paxRecord('linkpath', e.linkname) : '');
  const body = Buffer.from(records, 'utf8');
  const pax = header({ path: 'PaxHeader', type: 'x', size: body.length, mode: 0o644, mtime: e.mtime });
  return Buffer.concat([pax, body, pad(body.length), main]);
}

/** The tar bytes of `entries` under `root`. A file that changed since it was listed fails the stream. */
export async function* tarStream(root: string, entries: TarEntry[]): AsyncGenerator<Buffer> {
  for (const e of entries) {
    yield entryHeader(e);
    if (e.type !== 'file') continue;
    // O_NOFOLLOW: a file swapped for a symlink after the walk is refused, not followed.
    const fd = openSync(join(root, e.path), constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    try {
      if (fstatSync(fd).size !== e.size) throw new ContextError(`${e.path} changed while it was being sent`);
      let left = e.size;
      while (left > 0) {
        const buf = Buffer.alloc(Math.min(CHUNK, left));
        const n = readSync(fd, buf, 0, buf.length, e.size - left);
        if (n <= 0) throw new ContextError(`${e.path} changed while it was being sent`);
        left -= n;
        yield n === buf.length ? buf : buf.subarray(0, n);
      }
    } finally {
      closeSync(fd);
    }
    yield pad(e.size);
  }
  yield Buffer.alloc(BLOCK * 2);
}
