/**
 * Encryption at rest for credentials (resource tokens, TLS and SSH keys, Git tokens, secret env):
 * AES-256-GCM with a random 96-bit nonce per value and the owner's context as associated data, so
 * a ciphertext copied into another row or column does not decrypt. The key comes from config/env
 * or is generated once into the data dir (0600). Tampered ciphertext fails authentication and is
 * reported as such; nothing is ever returned in plaintext by the API.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const VERSION = 'v1';

export class SecretDecryptError extends Error {
  override name = 'SecretDecryptError';
}

export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the encryption key must be 32 bytes (256 bits)');
    this.#key = key;
  }

  /** `context` binds the ciphertext to where it is stored, e.g. `resource:<id>:token`. */
  encrypt(plaintext: string, context: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      VERSION,
      nonce.toString('base64url'),
      body.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  decrypt(sealed: string, context: string): string {
    const parts = sealed.split('.');
    const [version, nonce, body, tag] = parts;
    if (parts.length !== 4 || version !== VERSION || !nonce || body === undefined || !tag)
      throw new SecretDecryptError('not a sealed secret');
    const nonceBytes = Buffer.from(nonce, 'base64url');
    const bodyBytes = Buffer.from(body, 'base64url');
    const tagBytes = Buffer.from(tag, 'base64url');
    // Buffer.from skips characters that are not base64url, so insist on the canonical spelling;
    // and GCM accepts tags down to 4 bytes, which would make forgeries far cheaper.
    if (
      nonceBytes.length !== 12 ||
      tagBytes.length !== 16 ||
      nonceBytes.toString('base64url') !== nonce ||
      bodyBytes.toString('base64url') !== body ||
      tagBytes.toString('base64url') !== tag
    )
      throw new SecretDecryptError('the secret was tampered with or sealed with another key');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, nonceBytes, { authTagLength: 16 });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(tagBytes);
      return Buffer.concat([decipher.update(bodyBytes), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretDecryptError('the secret was tampered with or sealed with another key');
    }
  }
}

/** The key from a base64 string, or from `keyFile`, generated there (0600) on first use. */
export function loadSecretKey(opts: { key?: string; keyFile: string }): Buffer {
  if (opts.key) {
    const key = Buffer.from(opts.key.trim(), 'base64');
    if (key.length !== 32) throw new Error('encryption.key must be 32 bytes, base64-encoded');
    return key;
  }
  const existing = readKeyFile(opts.keyFile);
  if (existing) return existing;

  mkdirSync(dirname(opts.keyFile), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  // Written in full under a private name first, then linked into place: link() fails when the
  // name exists, so two processes starting at once never overwrite each other's key, and the
  // loser never reads a half-written file (what `wx` straight onto keyFile allowed).
  const tmp = `${opts.keyFile}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    chmodSync(tmp, 0o600);
    linkSync(tmp, opts.keyFile);
    return key;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return waitForKeyFile(opts.keyFile);
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
      return createWithoutLink(opts.keyFile, key);
    }
    throw e;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}

/** For file systems without hard links: exclusive create; on EEXIST the other process's key wins. */
function createWithoutLink(keyFile: string, key: Buffer): Buffer {
  try {
    writeFileSync(keyFile, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(keyFile, 0o600);
    return key;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return waitForKeyFile(keyFile);
    throw e;
  }
}

/** The key in `keyFile`, or undefined when there is no such file. A malformed file is an error. */
function readKeyFile(keyFile: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(keyFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw new Error(`${keyFile} does not hold a 32-byte base64 key`);
  return key;
}

/**
 * Another process created the key file: use its key. Without hard links the file can exist
 * before its content is written, so an empty file is read again for a short while.
 */
function waitForKeyFile(keyFile: string): Buffer {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const text = readFileSync(keyFile, 'utf8');
    if (text.trim() || Date.now() > deadline) {
      const key = Buffer.from(text.trim(), 'base64');
      if (key.length !== 32) throw new Error(`${keyFile} does not hold a 32-byte base64 key`);
      return key;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}
