/**
 * .dockerignore applied to a build context before it is sent: Docker's rules (root-relative
 * patterns, `*` within one directory, `**` across, `!` re-includes, even inside an ignored
 * directory), the Dockerfile and .dockerignore always sent, and a link named .dockerignore not read.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDockerignore } from '../../plugins/runner-docker/dockerignore.ts';
import { collectEntries } from '../../plugins/runner-docker/tar.ts';

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'iarnet-dockerignore-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

const sent = (dir: string, keep = ['Dockerfile']) => {
  const filter = readDockerignore(dir, keep);
  return collectEntries(dir, filter ? { filter } : {})
    .entries.filter((e) => e.type === 'file')
    .map((e) => e.path)
    .sort();
};

describe('.dockerignore', () => {
  it('leaves out what it lists, with Docker’s pattern rules and exceptions', () => {
    const dir = context({
      Dockerfile: 'FROM x\n',
      '.dockerignore':
        '# comment\nnode_modules\n*.log\nsecrets/**\n!secrets/public.txt\nDockerfile\n.dockerignore\n',
      'app.js': '',
      'debug.log': '',
      'sub/debug.log': '',
      'node_modules/a/index.js': '',
      'secrets/key.pem': '',
      'secrets/public.txt': '',
    });
    expect(sent(dir)).toEqual([
      '.dockerignore',
      'Dockerfile',
      'app.js',
      // `*.log` is root-relative: a log one level down is sent, as docker build sends it.
      'secrets/public.txt',
      'sub/debug.log',
    ]);
  });

  it('skips an ignored directory unread when nothing can bring parts of it back', () => {
    const dir = context({ Dockerfile: '', '.dockerignore': 'big\n', 'big/a': 'x', 'big/deep/b': 'y', c: '' });
    const filter = readDockerignore(dir, ['Dockerfile'])!;
    expect(filter.walkIgnored('big')).toBe(false);
    expect(collectEntries(dir, { filter }).entries.map((e) => e.path)).toEqual([
      '.dockerignore',
      'Dockerfile',
      'c',
    ]);
  });

  it('keeps a Dockerfile at another path, and has no effect without a .dockerignore', () => {
    const dir = context({ 'build/App.Dockerfile': '', '.dockerignore': 'build\n', x: '' });
    expect(sent(dir, ['build/App.Dockerfile'])).toEqual(['.dockerignore', 'build/App.Dockerfile', 'x']);
    const plain = context({ Dockerfile: '', x: '' });
    expect(readDockerignore(plain, ['Dockerfile'])).toBeUndefined();
  });

  it('does not follow a .dockerignore that is a link, and refuses an absurdly large one', () => {
    const outside = context({ patterns: 'x\n' });
    const dir = context({ Dockerfile: '', x: '' });
    symlinkSync(join(outside, 'patterns'), join(dir, '.dockerignore'));
    expect(readDockerignore(dir, ['Dockerfile'])).toBeUndefined();
    const big = context({ Dockerfile: '', '.dockerignore': 'x\n'.repeat(40_000) });
    expect(() => readDockerignore(big, ['Dockerfile'])).toThrow(/larger than/);
  });
});
