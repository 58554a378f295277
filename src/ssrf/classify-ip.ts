// Decides whether an IP address is a safe destination for an outbound webhook.
//
// Policy (product SPEC): an address is public only if it lies outside every
// IANA special-purpose block. IPv6 must additionally sit inside global unicast
// 2000::/3. IPv6 forms that carry an IPv4 address (mapped, compatible, 6to4,
// NAT64 well-known prefix, Teredo) are judged by that embedded IPv4, because
// that is where the packets end up.
//
// Decision: when the embedded IPv4 of a 6to4 / Teredo / NAT64 / compatible
// address is itself public, the address is allowed. The SPEC says "judged by
// that address", and refusing would break customers behind real 6to4/NAT64
// deployments while protecting nothing the plain IPv4 check does not.
// Exception: the NAT64 local-use prefix 64:ff9b:1::/48 (RFC 8215) is always
// refused: operators choose the prefix length inside it, so we cannot know
// where the IPv4 is embedded and must not guess.
import net from 'node:net';
import ipaddr from 'ipaddr.js';

export interface AddressClassification {
  public: boolean;
  /** ipaddr.js range name, or one of ours: 'invalid', 'cloud-metadata',
   * 'nat64-local', 'outside-global-unicast', or '<wrapper>/<inner range>'
   * for embedded-IPv4 forms, e.g. '6to4/private', 'teredo/unicast'. */
  range: string;
}

type V4 = ipaddr.IPv4;
type V6 = ipaddr.IPv6;

const cidr4 = (s: string): [V4, number] => ipaddr.IPv4.parseCIDR(s);
const cidr6 = (s: string): [V6, number] => ipaddr.IPv6.parseCIDR(s);

// The SPEC's list, kept explicitly so an ipaddr.js upgrade that reshuffles its
// own tables can never silently turn one of these into 'unicast'.
const SPEC_BLOCKS_V4: ReadonlyArray<[string, [V4, number]]> = [
  ['unspecified', cidr4('0.0.0.0/8')],
  ['private', cidr4('10.0.0.0/8')],
  ['carrierGradeNat', cidr4('100.64.0.0/10')],
  ['loopback', cidr4('127.0.0.0/8')],
  ['linkLocal', cidr4('169.254.0.0/16')],
  ['private', cidr4('172.16.0.0/12')],
  ['reserved', cidr4('192.0.0.0/24')],
  ['reserved', cidr4('192.0.2.0/24')],
  ['reserved', cidr4('192.88.99.0/24')],
  ['private', cidr4('192.168.0.0/16')],
  ['reserved', cidr4('198.18.0.0/15')],
  ['reserved', cidr4('198.51.100.0/24')],
  ['reserved', cidr4('203.0.113.0/24')],
  ['multicast', cidr4('224.0.0.0/4')],
  ['reserved', cidr4('240.0.0.0/4')],
];

const SPEC_BLOCKS_V6: ReadonlyArray<[string, [V6, number]]> = [
  ['reserved', cidr6('2001:db8::/32')],
  ['reserved', cidr6('2001::/23')],
  ['6to4', cidr6('2002::/16')],
];

const GLOBAL_UNICAST = cidr6('2000::/3');
const IPV4_COMPATIBLE = cidr6('::/96');
const NAT64_WELL_KNOWN = cidr6('64:ff9b::/96');

// Named separately only so refusals say *why*; they are already non-public
// (link-local / CGNAT / ULA). AWS, Alibaba and AWS-over-IPv6 metadata services.
const CLOUD_METADATA = new Set(['169.254.169.254', '100.100.100.200', 'fd00:ec2::254']);

export function isPublicAddress(ip: string): boolean {
  return classifyAddress(ip).public;
}

export function classifyAddress(ip: string): AddressClassification {
  const addr = parseAddress(ip);
  if (!addr) return { public: false, range: 'invalid' };
  if (CLOUD_METADATA.has(addr.toNormalizedString()) || CLOUD_METADATA.has(addr.toString())) {
    return { public: false, range: 'cloud-metadata' };
  }
  return addr.kind() === 'ipv4' ? classifyV4(addr as V4) : classifyV6(addr as V6);
}

function classifyV4(addr: V4): AddressClassification {
  const range = addr.range();
  if (range !== 'unicast') return { public: false, range };
  for (const [name, block] of SPEC_BLOCKS_V4) {
    if (addr.match(block)) return { public: false, range: name };
  }
  return { public: true, range };
}

function classifyV6(addr: V6): AddressClassification {
  const range = addr.range();
  const p = addr.parts;
  switch (range) {
    case 'ipv4Mapped':
      return embedded('ipv4Mapped', addr.toIPv4Address());
    case '6to4':
      return embedded('6to4', v4FromWords(p[1], p[2]));
    case 'teredo':
      // RFC 4380: the client address is stored inverted in the low 32 bits.
      return embedded('teredo', v4FromWords(p[6] ^ 0xffff, p[7] ^ 0xffff));
    case 'rfc6052':
      if (addr.match(NAT64_WELL_KNOWN)) return embedded('nat64', v4FromWords(p[6], p[7]));
      return { public: false, range: 'nat64-local' };
    case 'unicast':
      break;
    default:
      // '::' and '::1' land here before the IPv4-compatible check below, so
      // they are reported as unspecified/loopback rather than 0.0.0.x.
      return { public: false, range };
  }
  if (addr.match(IPV4_COMPATIBLE)) return embedded('ipv4-compatible', v4FromWords(p[6], p[7]));
  for (const [name, block] of SPEC_BLOCKS_V6) {
    if (addr.match(block)) return { public: false, range: name };
  }
  if (!addr.match(GLOBAL_UNICAST)) return { public: false, range: 'outside-global-unicast' };
  return { public: true, range };
}

function embedded(wrapper: string, inner: V4): AddressClassification {
  const verdict = CLOUD_METADATA.has(inner.toString())
    ? { public: false, range: 'cloud-metadata' }
    : classifyV4(inner);
  return { public: verdict.public, range: `${wrapper}/${verdict.range}` };
}

function v4FromWords(hi: number, lo: number): V4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

/**
 * Strict parse. IPv4 must be canonical dotted-quad: ipaddr.js alone would
 * accept '127.1', '0x7f.1' or '010.0.0.1' and its reading of such spellings
 * need not match the OS resolver's, so those are treated as unparsable.
 */
function parseAddress(input: unknown): V4 | V6 | null {
  if (typeof input !== 'string' || input.length === 0 || input.length > 100) return null;
  let s = input;
  // Brackets are IPv6 URL syntax ('[::1]'); '[1.2.3.4]' is not an address.
  const bracketed = s.startsWith('[') && s.endsWith(']');
  if (bracketed) s = s.slice(1, -1);
  else if (net.isIP(s) === 4) return ipaddr.IPv4.parse(s);

  // Zone ids only make sense on IPv6 ('fe80::1%eth0'); they do not change
  // which address is meant, so drop them before judging.
  const pct = s.indexOf('%');
  if (pct >= 0) {
    if (pct === s.length - 1) return null;
    s = s.slice(0, pct);
  }
  if (net.isIP(s) !== 6) return null;
  try {
    // ipaddr.js reads '::a.b.c.d' as IPv4-*mapped* (::ffff:a.b.c.d), which is
    // not what the RFCs or the OS mean. Let the WHATWG parser rewrite the
    // dotted tail into hex groups first so the bits we judge are the real ones.
    const canonical = new URL(`http://[${s}]/`).hostname.slice(1, -1);
    return ipaddr.IPv6.parse(canonical);
  } catch {
    return null;
  }
}
