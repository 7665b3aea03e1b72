import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ForbiddenAddressError, isAddressOrRange, MediaAddressPolicy, type ForbiddenAddressClass } from '../../src/net/media-guard.js';

describe('MediaAddressPolicy: what media may never be fetched from', () => {
  const publicOnly = new MediaAddressPolicy([]);
  const refused: Array<[string, ForbiddenAddressClass]> = [
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared (CGNAT)'],
    ['100.127.255.255', 'shared (CGNAT)'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.10', 'documentation'],
    ['2001:db8::1', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    // IPv6 forms that carry an IPv4 address reach that address.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:a00:1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:c0a8:101::1', 'private'],
    ['::127.0.0.1', 'reserved'],
    ['not an address', 'unrecognized'],
    ['', 'unrecognized'],
  ];

  for (const [address, expected] of refused) {
    test(`${address || '(empty)'} is refused as ${expected}`, () => {
      assert.equal(publicOnly.refusalOf(address), expected);
    });
  }

  test('public addresses are allowed, embedded ones included', () => {
    for (const address of ['1.1.1.1', '8.8.8.8', '172.32.0.1', '100.128.0.1', '192.169.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::1.1.1.1', '2002:808:808::1']) {
      assert.equal(publicOnly.refusalOf(address), undefined, address);
    }
  });

  test('forbiddenError names the address, its class and the setting that allows it', () => {
    const error = publicOnly.forbiddenError('10.1.2.3');
    assert.ok(error instanceof ForbiddenAddressError);
    assert.equal(error.addressClass, 'private');
    assert.match(error.message, /^refusing to connect to 10\.1\.2\.3 \(private address\); allow it with ALLOWED_PRIVATE_MEDIA_HOSTS/);
    assert.equal(publicOnly.forbiddenError('8.8.8.8'), undefined);
  });
});

describe('MediaAddressPolicy: what the operator allows', () => {
  test('an allowed address is allowed, its neighbours are not', () => {
    const policy = new MediaAddressPolicy(['192.168.1.20']);
    assert.equal(policy.refusalOf('192.168.1.20'), undefined);
    assert.equal(policy.refusalOf('::ffff:192.168.1.20'), undefined);
    assert.equal(policy.refusalOf('192.168.1.21'), 'private');
  });

  test('an allowed range covers exactly its addresses', () => {
    const policy = new MediaAddressPolicy(['10.8.0.0/16', 'fd00:1::/32']);
    assert.equal(policy.refusalOf('10.8.255.1'), undefined);
    assert.equal(policy.refusalOf('10.9.0.1'), 'private');
    assert.equal(policy.refusalOf('fd00:1:2::3'), undefined);
    assert.equal(policy.refusalOf('fd00:2::3'), 'unique-local');
  });

  test('anything that is not an address or range is refused at construction', () => {
    assert.throws(() => new MediaAddressPolicy(['localhost']), /not an IP address or CIDR range: "localhost"/);
  });
});

describe('isAddressOrRange', () => {
  test('accepts IPv4 and IPv6 addresses and ranges', () => {
    for (const entry of ['127.0.0.1', '10.0.0.0/8', '0.0.0.0/0', '::1', 'fd00::/8', '::/0', '::ffff:10.0.0.1', '10.0.0.1/32', 'fe80::/128']) {
      assert.ok(isAddressOrRange(entry), entry);
    }
  });

  test('refuses names, bad addresses and prefixes out of range', () => {
    for (const entry of ['localhost', 'example.com', '300.0.0.1', '10.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/', '/8', '10.0.0.0/8/8', '10.0.0.0/-1', '']) {
      assert.ok(!isAddressOrRange(entry), entry);
    }
  });
});
