import { describe, it, expect } from 'vitest';
import { classifyAddress, isPublicAddress } from '../../../src/ssrf/classify-ip.ts';

// [address, expected public?, expected range]
type Row = [string, boolean, string];

const ipv4: Row[] = [
  ['8.8.8.8', true, 'unicast'],
  ['1.1.1.1', true, 'unicast'],
  ['93.184.215.14', true, 'unicast'],
  ['0.0.0.0', false, 'unspecified'],
  ['0.1.2.3', false, 'unspecified'],
  ['127.0.0.1', false, 'loopback'],
  ['127.255.255.254', false, 'loopback'],
  ['10.0.0.1', false, 'private'],
  ['172.16.0.1', false, 'private'],
  ['172.31.255.255', false, 'private'],
  ['172.32.0.1', true, 'unicast'],
  ['192.168.1.1', false, 'private'],
  ['169.254.0.1', false, 'linkLocal'],
  ['169.254.169.254', false, 'cloud-metadata'],
  ['100.64.0.1', false, 'carrierGradeNat'],
  ['100.127.255.255', false, 'carrierGradeNat'],
  ['100.128.0.1', true, 'unicast'],
  ['100.100.100.200', false, 'cloud-metadata'],
  ['255.255.255.255', false, 'broadcast'],
  ['224.0.0.1', false, 'multicast'],
  ['239.255.255.250', false, 'multicast'],
  ['240.0.0.1', false, 'reserved'],
  ['192.0.2.1', false, 'reserved'],
  ['198.51.100.7', false, 'reserved'],
  ['203.0.113.9', false, 'reserved'],
  ['198.18.0.1', false, 'reserved'],
  ['198.19.255.255', false, 'reserved'],
  ['192.0.0.9', false, 'reserved'],
  ['192.88.99.1', false, 'reserved'],
];

const ipv6: Row[] = [
  ['2606:4700:4700::1111', true, 'unicast'],
  ['2001:4860:4860::8888', true, 'unicast'],
  ['::', false, 'unspecified'],
  ['::1', false, 'loopback'],
  ['fe80::1', false, 'linkLocal'],
  ['fc00::1', false, 'uniqueLocal'],
  ['fd12:3456::1', false, 'uniqueLocal'],
  ['fd00:ec2::254', false, 'cloud-metadata'],
  ['ff02::1', false, 'multicast'],
  ['fec0::1', false, 'deprecatedSiteLocal'],
  ['100::1', false, 'discard'],
  ['2001:db8::1', false, 'reserved'],
  ['2001:2::1', false, 'benchmarking'],
  ['2001:5::1', false, 'reserved'], // 2001::/23 IETF protocol assignments
  ['2001:20::1', false, 'orchid2'],
  ['3fff::1', false, 'reserved'],
  ['4000::1', false, 'outside-global-unicast'],
  ['::ffff:0:0:1', false, 'rfc6145'],
  // IPv4-mapped
  ['::ffff:127.0.0.1', false, 'ipv4Mapped/loopback'],
  ['::ffff:7f00:1', false, 'ipv4Mapped/loopback'],
  ['::ffff:10.0.0.1', false, 'ipv4Mapped/private'],
  ['::ffff:169.254.169.254', false, 'ipv4Mapped/cloud-metadata'],
  ['::ffff:8.8.8.8', true, 'ipv4Mapped/unicast'],
  // IPv4-compatible (deprecated): judged by the low 32 bits
  ['::127.0.0.1', false, 'ipv4-compatible/loopback'],
  ['::7f00:1', false, 'ipv4-compatible/loopback'],
  ['::10.0.0.1', false, 'ipv4-compatible/private'],
  ['::8.8.8.8', true, 'ipv4-compatible/unicast'],
  // 6to4: 2002:AABB:CCDD::/48 embeds AA.BB.CC.DD
  ['2002:7f00:1::', false, '6to4/loopback'],
  ['2002:0a00:0001::1', false, '6to4/private'],
  ['2002:c058:6301::', false, '6to4/reserved'], // 192.88.99.1, the relay anycast
  ['2002:0808:0808::1', true, '6to4/unicast'],
  // NAT64 well-known prefix
  ['64:ff9b::127.0.0.1', false, 'nat64/loopback'],
  ['64:ff9b::a9fe:a9fe', false, 'nat64/cloud-metadata'],
  ['64:ff9b::c0a8:101', false, 'nat64/private'],
  ['64:ff9b::8.8.8.8', true, 'nat64/unicast'],
  // NAT64 local-use: embedding position is operator-defined, always refused
  ['64:ff9b:1::808:808', false, 'nat64-local'],
  // Teredo: client IPv4 = low 32 bits XOR 0xffffffff
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', false, 'teredo/loopback'], // ~80ff:fffe = 127.0.0.1
  ['2001:0:4136:e378:8000:63bf:f5ff:fffe', false, 'teredo/private'], // 10.0.0.1
  ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', true, 'teredo/unicast'], // 8.8.8.8
];

describe('classifyAddress: IPv4', () => {
  it.each(ipv4)('%s → public=%s (%s)', (ip, pub, range) => {
    expect(classifyAddress(ip)).toEqual({ public: pub, range });
    expect(isPublicAddress(ip)).toBe(pub);
  });
});

describe('classifyAddress: IPv6', () => {
  it.each(ipv6)('%s → public=%s (%s)', (ip, pub, range) => {
    expect(classifyAddress(ip)).toEqual({ public: pub, range });
    expect(isPublicAddress(ip)).toBe(pub);
  });

  it('teredo: decodes the inverted client address', () => {
    // 3fff:fdd2 ^ ffff:ffff = c000:022d → 192.0.2.45 (documentation range)
    expect(classifyAddress('2001:0:4136:e378:8000:63bf:3fff:fdd2')).toEqual({
      public: false,
      range: 'teredo/reserved',
    });
    // The Teredo *server* field (here 10.0.0.1) is not where traffic goes.
    expect(classifyAddress('2001:0:a00:1:8000:63bf:f7f7:f7f7').public).toBe(true);
  });
});

describe('classifyAddress: zone ids and brackets', () => {
  it.each<Row>([
    ['fe80::1%eth0', false, 'linkLocal'],
    ['[fe80::1%eth0]', false, 'linkLocal'],
    ['[::1]', false, 'loopback'],
    ['[::ffff:127.0.0.1]', false, 'ipv4Mapped/loopback'],
    ['[2606:4700:4700::1111]', true, 'unicast'],
    ['2606:4700:4700::1111%1', true, 'unicast'],
  ])('%s → public=%s (%s)', (ip, pub, range) => {
    expect(classifyAddress(ip)).toEqual({ public: pub, range });
  });
});

describe('classifyAddress: unparsable input is never public', () => {
  it.each([
    '',
    'localhost',
    'example.com',
    'not an ip',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '127.1', // non-canonical IPv4 spellings are refused, not guessed at
    '0x7f.0.0.1',
    '0177.0.0.1',
    '010.0.0.1',
    '2130706433',
    ' 8.8.8.8',
    '8.8.8.8 ',
    '8.8.8.8%eth0',
    '[8.8.8.8]',
    '[::1',
    '::1]',
    'fe80::1%',
    '2001:db8::g',
    ':::',
    '1::2::3',
    'http://8.8.8.8/',
  ])('%j', (ip) => {
    expect(classifyAddress(ip)).toEqual({ public: false, range: 'invalid' });
    expect(isPublicAddress(ip)).toBe(false);
  });

  it('non-string input', () => {
    expect(isPublicAddress(undefined as unknown as string)).toBe(false);
    expect(isPublicAddress(123 as unknown as string)).toBe(false);
  });
});
