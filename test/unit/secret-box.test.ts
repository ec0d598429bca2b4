/**
 * SecretBox (AES-256-GCM with the storage context as associated data) and the key loading:
 * from config, from the key file, generated once (0600) — also when several processes start at
 * the same moment on one data dir.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSecretKey, SecretBox, SecretDecryptError } from '../../core/domain/secret-box.ts';

const box = new SecretBox(randomBytes(32));
const CTX = 'resource:res_0123:token';

/** Flip one base64url character of part `index` (1 nonce, 2 body, 3 tag) to another valid one. */
function tamper(sealed: string, index: number, at = 2): string {
  const parts = sealed.split('.');
  const part = parts[index]!;
  const c = part[at]!;
  parts[index] = part.slice(0, at) + (c === 'A' ? 'B' : 'A') + part.slice(at + 1);
  return parts.join('.');
}

describe('SecretBox', () => {
  it('round-trips, with a fresh nonce every time', () => {
    const a = box.encrypt('s3cret-token', CTX);
    const b = box.encrypt('s3cret-token', CTX);
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    expect(a).toMatch(/^v1\.[\w-]{16}\.[\w-]*\.[\w-]{22}$/);
    expect(box.decrypt(a, CTX)).toBe('s3cret-token');
    expect(box.decrypt(box.encrypt('', CTX), CTX)).toBe('');
    const pem = `-----BEGIN PRIVATE KEY-----\n${randomBytes(3000).toString('base64')}\n-----END PRIVATE KEY-----\n`;
    expect(box.decrypt(box.encrypt(pem, CTX), CTX)).toBe(pem);
    expect(box.decrypt(box.encrypt('ünïcødé ✓', CTX), CTX)).toBe('ünïcødé ✓');
  });

  it('does not open a ciphertext moved to another context (row or field)', () => {
    const sealed = box.encrypt('s3cret', CTX);
    expect(() => box.decrypt(sealed, 'resource:res_9999:token')).toThrow(SecretDecryptError);
    expect(() => box.decrypt(sealed, 'resource:res_0123:tls.key')).toThrow(SecretDecryptError);
  });

  it('refuses tampered nonce, body and tag', () => {
    const sealed = box.encrypt('a longer secret value to tamper with', CTX);
    for (const index of [1, 2, 3]) {
      expect(() => box.decrypt(tamper(sealed, index), CTX), `part ${index}`).toThrow(SecretDecryptError);
    }
  });

  it('refuses a shortened tag (GCM would otherwise check only its first bytes)', () => {
    const sealed = box.encrypt('s3cret', CTX);
    const parts = sealed.split('.');
    const shortTag = Buffer.from(parts[3]!, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => box.decrypt([...parts.slice(0, 3), shortTag].join('.'), CTX)).toThrow(SecretDecryptError);
  });

  it('refuses non-canonical base64url (characters Buffer.from would silently skip)', () => {
    const sealed = box.encrypt('s3cret', CTX);
    const parts = sealed.split('.');
    expect(() => box.decrypt([parts[0], parts[1], `${parts[2]}!`, parts[3]].join('.'), CTX)).toThrow(
      SecretDecryptError,
    );
  });

  it('refuses malformed input and another key', () => {
    for (const bad of [
      '',
      'plaintext',
      'v1.a.b',
      'v2.a.b.c',
      'v1.a.b.c.d',
      box.encrypt('x', CTX).replace('v1', 'v0'),
    ]) {
      expect(() => box.decrypt(bad, CTX), bad).toThrow(SecretDecryptError);
    }
    const other = new SecretBox(randomBytes(32));
    expect(() => other.decrypt(box.encrypt('x', CTX), CTX)).toThrow(SecretDecryptError);
  });

  it('never puts the plaintext in its error messages', () => {
    const sealed = box.encrypt('s3cret-value', CTX);
    try {
      box.decrypt(tamper(sealed, 2), CTX);
    } catch (e) {
      expect(String(e)).not.toContain('s3cret');
    }
  });

  it('requires a 32-byte key', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('loadSecretKey', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'iarnet-key-'));

  it('takes a base64 key from config and refuses other lengths', () => {
    const key = randomBytes(32);
    expect(loadSecretKey({ key: key.toString('base64'), keyFile: '/nonexistent/x' }).equals(key)).toBe(true);
    expect(() =>
      loadSecretKey({ key: randomBytes(16).toString('base64'), keyFile: '/nonexistent/x' }),
    ).toThrow(/32 bytes/);
  });

  it('generates the key file once (0600, no temp files left) and reads it afterwards', () => {
    const keyFile = join(dir(), 'sub', 'secrets.key');
    const first = loadSecretKey({ keyFile });
    expect(first.length).toBe(32);
    if (process.platform !== 'win32') expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(loadSecretKey({ keyFile }).equals(first)).toBe(true);
    expect(readdirSync(join(keyFile, '..'))).toEqual(['secrets.key']);
  });

  it('refuses a key file that does not hold a 32-byte key', () => {
    const keyFile = join(dir(), 'secrets.key');
    writeFileSync(keyFile, 'too-short\n');
    expect(() => loadSecretKey({ keyFile })).toThrow(/does not hold a 32-byte base64 key/);
  });

  it('gives every process the same key when they create the file at the same moment', async () => {
    const keyFile = join(dir(), 'secrets.key');
    const moduleUrl = new URL('../../core/domain/secret-box.ts', import.meta.url).href;
    const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
    const startAt = Date.now() + 1500;
    // Each child spins until the same instant, then races to create the key file.
    const script = `
      import(${JSON.stringify(moduleUrl)}).then(({ loadSecretKey }) => {
        while (Date.now() < ${startAt}) {}
        process.stdout.write(loadSecretKey({ keyFile: ${JSON.stringify(keyFile)} }).toString('base64'));
      });
    `;
    const runs = Array.from(
      { length: 6 },
      () =>
        new Promise<string>((resolve, reject) => {
          execFile(tsx, ['--eval', script], { timeout: 30_000 }, (err, stdout, stderr) =>
            err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()),
          );
        }),
    );
    const keys = await Promise.all(runs);
    expect(new Set(keys).size).toBe(1);
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(keys[0]);
    expect(readdirSync(join(keyFile, '..'))).toEqual(['secrets.key']);
  }, 60_000);
});
