/**
 * Resource URL rules per type (parseResourceUrl) and pinning to the checked address.
 */
import { describe, expect, it } from 'vitest';
import { AddressPolicy } from '../../core/domain/address-policy.ts';
import {
  checkAddress,
  parseResourceUrl,
  pinnedUrl,
  ResourceUrlError,
} from '../../core/domain/resources/endpoint.ts';
import type { ResourceType } from '../../core/domain/resources/types.ts';

describe('parseResourceUrl accepts and normalises', () => {
  const cases: [ResourceType, string, string][] = [
    ['docker', 'unix:///var/run/docker.sock', 'unix:///var/run/docker.sock'],
    ['docker', 'UNIX:///run/user/1000/docker.sock', 'unix:///run/user/1000/docker.sock'],
    ['docker', 'tcp://Docker.Example.COM:2375', 'tcp://docker.example.com:2375'],
    ['docker', 'tcp://docker.example.com.:2375', 'tcp://docker.example.com:2375'],
    ['docker', 'tcp://10.0.0.5:2375/', 'tcp://10.0.0.5:2375'],
    ['docker', 'tcp://0x7f.1:2375', 'tcp://127.0.0.1:2375'],
    ['docker', 'tcp://%31%32%37.0.0.1:2375', 'tcp://127.0.0.1:2375'],
    ['docker', 'tcp://[::1]:2375', 'tcp://[::1]:2375'],
    ['docker', 'https://docker.example.com:2376', 'https://docker.example.com:2376'],
    ['docker', 'https://docker.example.com:443', 'https://docker.example.com'],
    ['docker', 'tcp://bücher.example:2375', 'tcp://xn--bcher-kva.example:2375'],
    ['vm', 'ssh://root@vm1.example:2222', 'ssh://root@vm1.example:2222'],
    ['vm', 'ssh://vm1.example', 'ssh://vm1.example:22'],
    ['kubernetes', 'https://k8s.example:6443', 'https://k8s.example:6443'],
    ['kubernetes', 'https://k8s.example', 'https://k8s.example'],
    ['kubernetes', 'http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['kubernetes', 'http://localhost:8080', 'http://localhost:8080'],
  ];
  it.each(cases)('%s %s → %s', (type, raw, normal) => {
    expect(parseResourceUrl(type, raw).url).toBe(normal);
  });

  it('reports host, port and whether the port was written', () => {
    expect(parseResourceUrl('vm', 'ssh://u@h.example')).toMatchObject({
      scheme: 'ssh',
      host: 'h.example',
      port: 22,
      explicitPort: false,
      user: 'u',
    });
    expect(parseResourceUrl('docker', 'https://10.0.0.1:2376')).toMatchObject({
      scheme: 'https',
      port: 2376,
      tls: true,
      isIp: true,
    });
  });
});

describe('parseResourceUrl refuses', () => {
  const cases: [ResourceType, string, RegExp][] = [
    ['docker', 'file:///etc/passwd', /must look like/],
    ['docker', 'gopher://127.0.0.1:70/_x', /must look like/],
    ['docker', 'ftp://127.0.0.1:21', /must look like/],
    ['docker', 'ext::sh -c id', /spaces|must look like/],
    ['docker', 'javascript:alert(1)', /must look like/],
    ['docker', 'http://127.0.0.1:2375', /must look like/],
    ['docker', 'ssh://u@h:22', /must look like/],
    ['vm', 'tcp://h:2375', /must look like/],
    ['kubernetes', 'tcp://h:6443', /must look like/],
    ['kubernetes', 'http://k8s.example:8080', /only allowed for loopback/],
    ['kubernetes', 'http://10.0.0.1:8080', /only allowed for loopback/],
    ['docker', 'tcp://h:2375\r\nHost: evil', /control characters/],
    ['docker', 'tcp://h:2375\n', /control characters/],
    ['docker', 'tcp://h\u0000:2375', /control characters/],
    ['docker', 'tcp://h :2375', /spaces/],
    ['docker', 'tcp://h:2375\\x', /backslashes/],
    ['docker', 'https://user:pw@h:2376', /password/],
    ['vm', 'ssh://root:pw@h:22', /password/],
    ['docker', 'tcp://user@h:2375', /user name/],
    ['docker', 'tcp://h:2375/v1.41', /path/],
    ['docker', 'tcp://h:2375?x=1', /query or fragment/],
    ['docker', 'tcp://h:2375#f', /query or fragment/],
    ['docker', 'tcp://h', /needs a port/],
    ['docker', 'https://h', /needs a port/],
    ['docker', 'tcp://h:0', /between 1 and 65535/],
    ['docker', 'tcp://h:70000', /valid URL|between/],
    ['docker', 'tcp:h:2375', /tcp:\/\/host:port/],
    ['docker', 'tcp://:2375', /host|valid URL/],
    ['docker', 'tcp://exa_mple..com:2375', /invalid host/],
    ['docker', 'unix://host/var/run/docker.sock', /unix:\/\/\/absolute/],
    ['docker', 'unix://var/run/docker.sock', /unix:\/\/\/absolute/],
    ['docker', 'unix:///var/run/../../etc/x.sock', /segments/],
    ['docker', 'unix:///var/run/docker.sock?x', /query/],
    ['docker', 'unix:///var/run/$(id).sock', /letters, digits/],
    ['docker', `unix:///${'a'.repeat(120)}.sock`, /at most 107 bytes/],
    ['docker', `tcp://${'a'.repeat(2100)}:2375`, /at most 2048/],
    ['docker', '', /required/],
    ['vm', 'ssh://bad$user@h:22', /user name/],
  ];
  it.each(cases)('%s %j', (type, raw, message) => {
    let err: unknown;
    try {
      parseResourceUrl(type, raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ResourceUrlError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('checkAddress and pinnedUrl', () => {
  const policy = new AddressPolicy();

  it.each([
    'tcp://169.254.169.254:2375',
    'tcp://0251.0376.0251.0376:2375',
    'https://0251.0376.0251.0376:2376',
    'tcp://2852039166:2375',
    'tcp://0xa9fea9fe:2375',
    'tcp://[::ffff:169.254.169.254]:2375',
    'tcp://[::ffff:a9fe:a9fe]:2375',
    'tcp://[64:ff9b::a9fe:a9fe]:2375',
    'tcp://[fe80::1]:2375',
    'tcp://100.100.100.200:2375',
    'tcp://0.0.0.0:2375',
  ])('refuses %s (metadata, link-local, unspecified)', async (url) => {
    await expect(checkAddress(parseResourceUrl('docker', url), policy, 1000)).rejects.toThrow(
      /never connects/,
    );
  });

  it('pins a name to the address it resolved to', async () => {
    const endpoint = parseResourceUrl('docker', 'tcp://localhost:2375');
    const checked = await checkAddress(endpoint, policy, 1000);
    expect(checked?.address).toBe('127.0.0.1');
    expect(pinnedUrl(endpoint, checked?.address)).toBe('tcp://127.0.0.1:2375');
    expect(pinnedUrl(parseResourceUrl('vm', 'ssh://u@localhost:2222'), '::1')).toBe('ssh://u@[::1]:2222');
  });

  it('leaves unix sockets alone', async () => {
    const endpoint = parseResourceUrl('docker', 'unix:///var/run/docker.sock');
    expect(await checkAddress(endpoint, policy, 1000)).toBeUndefined();
    expect(pinnedUrl(endpoint, undefined)).toBe('unix:///var/run/docker.sock');
  });

  it('requires http:// kubernetes names to resolve to loopback only', async () => {
    const endpoint = parseResourceUrl('kubernetes', 'http://localhost:8080');
    await expect(checkAddress(endpoint, policy, 1000)).resolves.toBeDefined();
  });
});
