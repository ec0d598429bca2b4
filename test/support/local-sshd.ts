/**
 * A real OpenSSH server on 127.0.0.1:<free port> for the vm-over-SSH tests, run as a
 * non-daemon child (`sshd -D -e`) with its own host key, one authorized client key, no
 * passwords, and its pid file in a temp folder. It runs as the current user (root in CI), whose
 * login shell has the `docker` CLI, so `docker system dial-stdio` reaches the local engine.
 *
 *   const missing = sshdMissing();            // a reason, or undefined
 *   const sshd = await startLocalSshd();      // waits until it listens (bounded)
 *   sshd.url, sshd.clientKey, sshd.hostKeyFingerprint
 *   await sshd.stop();                        // SIGTERM to the pid this helper started
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const SSHD = '/usr/sbin/sshd';
const SSH_KEYGEN = '/usr/bin/ssh-keygen';

export interface SshKeyPair {
  /** OpenSSH private key (PEM-armoured: -----BEGIN OPENSSH PRIVATE KEY-----). */
  privateKey: string;
  publicKey: string;
  /** `SHA256:...`, as sshd logs it when it accepts the key. */
  fingerprint: string;
}

export interface LocalSshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  /** `ssh://<user>@127.0.0.1:<port>` */
  readonly url: string;
  /** The key sshd accepts. */
  readonly client: SshKeyPair;
  /** The server's host key fingerprint, as `ssh-keygen -lf` prints it (SHA256:...). */
  readonly hostKeyFingerprint: string;
  readonly dir: string;
  /** sshd's log lines so far (-e: stderr). */
  log(): string;
  /** Accept this key too (sshd reads authorized_keys at each login). */
  authorize(key: SshKeyPair): void;
  /** Stop sshd (only the pid this helper started) and delete its folder. */
  stop(): Promise<void>;
}

/** Why an sshd cannot run here, or undefined when it can. */
export function sshdMissing(): string | undefined {
  if (!existsSync(SSHD)) return `${SSHD} is missing (apt-get install openssh-server)`;
  if (!existsSync(SSH_KEYGEN)) return `${SSH_KEYGEN} is missing (apt-get install openssh-client)`;
  if (process.getuid?.() !== 0) return 'sshd with its own config must run as root here';
  return undefined;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A fresh ed25519 key pair (no passphrase), made by ssh-keygen in `dir`. */
export async function generateKeyPair(dir: string, name: string): Promise<SshKeyPair> {
  const path = join(dir, name);
  await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', `iarnet-test-${name}`, '-f', path]);
  return {
    privateKey: readFileSync(path, 'utf8'),
    publicKey: readFileSync(`${path}.pub`, 'utf8'),
    fingerprint: await fingerprint(`${path}.pub`),
  };
}

async function fingerprint(publicKeyFile: string): Promise<string> {
  return (await run(SSH_KEYGEN, ['-l', '-E', 'sha256', '-f', publicKeyFile])).split(' ')[1]!;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startLocalSshd(opts: { timeoutMs?: number } = {}): Promise<LocalSshd> {
  const missing = sshdMissing();
  if (missing) throw new Error(`cannot start sshd: ${missing}`);
  // sshd refuses to start without its privilege-separation directory.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync('/tmp/iarnet-sshd-');
  const user = userInfo().username;
  const hostKey = join(dir, 'host_ed25519');
  await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', 'iarnet-test-host', '-f', hostKey]);
  const hostKeyFingerprint = (await run(SSH_KEYGEN, ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`])).split(
    ' ',
  )[1]!;
  const client = await generateKeyPair(dir, 'client_ed25519');
  const authorized = join(dir, 'authorized_keys');
  writeFileSync(authorized, client.publicKey, { mode: 0o600 });

  const lines: string[] = [];
  let lastError: Error | undefined;
  // The free port is found before sshd binds it: retry when another process took it meanwhile.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorized}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'UsePAM no',
        // The key files live in /tmp (world-writable): skip the owner/mode walk up the path.
        'StrictModes no',
        'AllowTcpForwarding no',
        'X11Forwarding no',
        'PrintMotd no',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    createInterface({ input: child.stderr! }).on('line', (l) => lines.push(l));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    let listening = false;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      if (lines.some((l) => l.includes(`Server listening on 127.0.0.1 port ${port}`))) {
        listening = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (listening) {
      return {
        host: '127.0.0.1',
        port,
        user,
        url: `ssh://${user}@127.0.0.1:${port}`,
        client,
        hostKeyFingerprint,
        dir,
        log: () => lines.join('\n'),
        authorize(key: SshKeyPair) {
          appendFileSync(authorized, key.publicKey);
        },
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            const done = await Promise.race([
              exited.then(() => true),
              new Promise<boolean>((r) => setTimeout(() => r(false), 5_000)),
            ]);
            if (!done) child.kill('SIGKILL');
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    lastError = new Error(
      `sshd did not listen on 127.0.0.1:${port} within ${timeoutMs} ms:\n${lines.join('\n')}`,
    );
    if (!lines.some((l) => /Address already in use/i.test(l))) break;
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error('sshd did not start');
}
