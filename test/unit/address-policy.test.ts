/**
 * The outbound address policy (SSRF defence): metadata and link-local addresses are refused in
 * every spelling and embedding, admin allow/deny lists apply, names are resolved and every
 * address checked.
 */
import { describe, expect, it } from 'vitest';
import {
  AddressPolicy,
  AddressRefusedError,
  AddressUnresolvedError,
} from '../../core/domain/address-policy.ts';

const open = new AddressPolicy();

describe('AddressPolicy.checkIp', () => {
  const alwaysRefused = [
    '169.254.169.254',
    '169.254.0.1',
    // other spellings inet_aton() accepts for 169.254.169.254
    '0251.0376.0251.0376',
    '2852039166',
    '0xa9fea9fe',
    '0xa9.0xfe.0xa9.0xfe',
    '169.254.43518',
    // IPv6 embeddings of it
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::ffff:0:a9fe:a9fe',
    '::a9fe:a9fe',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b:1::a9fe:a9fe',
    '2002:a9fe:a9fe::1',
    'fe80::1',
    'fe80::1%eth0',
    'FE80::abcd',
    '100.100.100.200',
    'fd00:ec2::254',
    '0.0.0.0',
    '::',
    '::ffff:0.0.0.0',
    '224.0.0.1',
    'ff02::1',
    '255.255.255.255',
  ];
  it.each(alwaysRefused)('refuses %s', (ip) => {
    expect(() => open.checkIp(ip)).toThrow(AddressRefusedError);
  });

  it('refuses the IPv4 client address inside a Teredo address', () => {
    // Teredo stores the client address inverted in the last 32 bits: ~169.254.169.254 = 5601:5601.
    expect(() => open.checkIp('2001:0:4136:e378:8000:63bf:5601:5601')).toThrow(/link-local/);
    expect(() => open.checkIp('2001:0:4136:e378:8000:63bf:3fff:fdd2')).not.toThrow();
  });

  it('names the reason, and that the address is never connected to', () => {
    expect(() => open.checkIp('169.254.169.254')).toThrow(
      '169.254.169.254 is a link-local (cloud metadata) address, which IARNet never connects to',
    );
  });

  it.each(['127.0.0.1', '::1', '10.1.2.3', '192.168.0.10', '8.8.8.8', '2001:db8::1', '::ffff:10.0.0.1'])(
    'allows %s with the default policy',
    (ip) => {
      expect(() => open.checkIp(ip)).not.toThrow();
    },
  );

  it('refuses what is not an IP literal', () => {
    expect(() => open.checkIp('example.com')).toThrow(/not an IP address/);
    expect(() => open.checkIp('08.1.1.1')).toThrow(/not an IP address/);
  });

  it('applies deny lists to every encoding', () => {
    const policy = new AddressPolicy({ deny: ['10.0.0.0/8', '::1'] });
    for (const ip of ['10.9.8.7', '::ffff:10.9.8.7', '::ffff:a09:807', '64:ff9b::a09:807', '::1']) {
      expect(() => policy.checkIp(ip), ip).toThrow(/administrator denied/);
    }
    expect(() => policy.checkIp('127.0.0.1')).not.toThrow();
  });

  it('applies allow lists: only listed ranges, and never the always-refused ones', () => {
    const policy = new AddressPolicy({ allow: ['192.168.0.0/16', '169.254.0.0/16'] });
    expect(() => policy.checkIp('192.168.1.1')).not.toThrow();
    expect(() => policy.checkIp('10.0.0.1')).toThrow(/outside the ranges/);
    expect(() => policy.checkIp('169.254.169.254')).toThrow(/never connects/);
  });

  it('accepts single addresses as CIDRs and rejects bad ones at construction', () => {
    expect(() => new AddressPolicy({ deny: ['10.0.0.1'] }).checkIp('10.0.0.1')).toThrow();
    expect(() => new AddressPolicy({ deny: ['not-a-cidr'] })).toThrow();
  });
});

describe('AddressPolicy.resolve', () => {
  it('checks IP literals without DNS, with or without brackets', async () => {
    expect(await open.resolve('127.0.0.1')).toEqual(['127.0.0.1']);
    expect(await open.resolve('[::1]')).toEqual(['::1']);
    await expect(open.resolve('[fe80::1]')).rejects.toThrow(AddressRefusedError);
    await expect(open.resolve('0251.0376.0251.0376')).rejects.toThrow(/link-local/);
  });

  it('resolves names and checks every address', async () => {
    const addresses = await open.resolve('localhost');
    expect(addresses.length).toBeGreaterThan(0);
    const deny = new AddressPolicy({ deny: ['127.0.0.0/8', '::1/128'] });
    await expect(deny.resolve('localhost')).rejects.toThrow(/administrator denied/);
  });

  it('reports a name that does not resolve as AddressUnresolvedError (an AddressRefusedError)', async () => {
    const err = await open.resolve('no-such-host.invalid').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddressUnresolvedError);
    expect(err).toBeInstanceOf(AddressRefusedError);
    expect((err as Error).message).toBe('no-such-host.invalid does not resolve');
  });
});
