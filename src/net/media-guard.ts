import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction, type Socket } from 'node:net';
import { Agent, buildConnector } from 'undici';

/**
 * Kinds of address a media download must not reach: the bot's own host and the networks behind
 * it. Media URLs come from upstream answers (and their redirects), so anyone who controls one
 * could otherwise make the bot fetch from its operator's network.
 */
export type ForbiddenAddressClass =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'shared (CGNAT)'
  | 'link-local'
  | 'unique-local'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'benchmarking'
  | 'reserved'
  | 'unrecognized';

/** Checked in order: more specific ranges before the wider ones that contain them. */
const FORBIDDEN_RANGES: ReadonlyArray<readonly [ForbiddenAddressClass, readonly string[]]> = [
  ['unspecified', ['0.0.0.0/8', '::/128']],
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fec0::/10']],
  ['shared (CGNAT)', ['100.64.0.0/10']],
  ['link-local', ['169.254.0.0/16', 'fe80::/10']],
  ['unique-local', ['fc00::/7']],
  ['multicast', ['224.0.0.0/4', 'ff00::/8']],
  ['broadcast', ['255.255.255.255/32']],
  ['documentation', ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32']],
  ['benchmarking', ['198.18.0.0/15', '2001:2::/48']],
  // IETF protocol assignments, the old class E, IPv4-compatible IPv6, discard-only.
  ['reserved', ['192.0.0.0/24', '240.0.0.0/4', '::/96', '100::/64']],
];

const FORBIDDEN: ReadonlyArray<[ForbiddenAddressClass, BlockList]> = FORBIDDEN_RANGES.map(([addressClass, ranges]) => [
  addressClass,
  rangeList(ranges),
]);

export class ForbiddenAddressError extends Error {
  override readonly name = 'ForbiddenAddressError';
  constructor(
    readonly address: string,
    readonly addressClass: ForbiddenAddressClass,
  ) {
    super(
      `refusing to connect to ${address || 'an unknown address'} (${addressClass} address); ` +
        'allow it with ALLOWED_PRIVATE_MEDIA_HOSTS if it is on your own network',
    );
  }
}

/** True for an IPv4 or IPv6 address, or such an address with a CIDR prefix length (`10.0.0.0/8`). */
export function isAddressOrRange(entry: string): boolean {
  return parseRange(entry) !== undefined;
}

/** Which addresses media may be fetched from: anything public, plus what the operator allowed. */
export class MediaAddressPolicy {
  private readonly allowed: BlockList;

  /** `allowed`: addresses or CIDR ranges (see `isAddressOrRange`); throws on anything else. */
  constructor(allowed: readonly string[]) {
    this.allowed = rangeList(allowed);
  }

  /** Why `address` may not be connected to, or undefined when it may. */
  refusalOf(address: string): ForbiddenAddressClass | undefined {
    const bare = address.replace(/%.*$/, '');
    const version = isIP(bare);
    if (version === 0) return 'unrecognized';
    // An IPv6 address that carries an IPv4 one reaches that IPv4 host: judge that one.
    const embedded = version === 6 ? embeddedIpv4(bare) : undefined;
    if (embedded) return this.refusalOf(embedded);
    const family = version === 4 ? 'ipv4' : 'ipv6';
    if (this.allowed.check(bare, family)) return undefined;
    return FORBIDDEN.find(([, ranges]) => ranges.check(bare, family))?.[0];
  }

  /** The error to fail a connection to `address` with, or undefined when it may be connected to. */
  forbiddenError(address: string): ForbiddenAddressError | undefined {
    const refusal = this.refusalOf(address);
    return refusal && new ForbiddenAddressError(address, refusal);
  }
}

/**
 * An undici dispatcher for fetching media that refuses to connect to forbidden addresses. The
 * check is made where connections are made, so it covers every redirect hop and a name that
 * resolves differently each time (DNS rebinding): resolved addresses are checked before
 * connecting, and the address actually connected to is checked again before any request is
 * written (a literal-IP hostname is never looked up).
 */
export function createMediaDispatcher(allowed: readonly string[]): Agent {
  const policy = new MediaAddressPolicy(allowed);
  const connect = buildConnector({ lookup: guardedLookup(policy) });
  return new Agent({
    connect(options, callback) {
      const literalRefused = isIP(options.hostname) ? policy.forbiddenError(options.hostname) : undefined;
      if (literalRefused) return callback(literalRefused, null);
      connect(options, (error, socket) => {
        if (error) return callback(error, null);
        const refused = policy.forbiddenError(socket.remoteAddress ?? '');
        if (!refused) return callback(null, socket);
        socket.destroy();
        callback(refused, null);
      });
    },
  });
}

/** dns.lookup that fails when any address the name resolves to is forbidden. */
function guardedLookup(policy: MediaAddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const refused = addresses.map(({ address }) => policy.forbiddenError(address)).find((refusal) => refusal !== undefined);
      if (refused) return callback(refused, '', 0);
      if (options.all) return callback(null, addresses);
      const [first] = addresses;
      callback(null, first!.address, first!.family);
    });
  };
}

function parseRange(entry: string): { address: string; prefix: number | undefined; family: 'ipv4' | 'ipv6' } | undefined {
  const match = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry.trim());
  if (!match) return undefined;
  const address = match[1]!;
  const version = isIP(address);
  if (version === 0) return undefined;
  const prefix = match[2] === undefined ? undefined : Number(match[2]);
  if (prefix !== undefined && prefix > (version === 4 ? 32 : 128)) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

function rangeList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const range = parseRange(entry);
    if (!range) throw new Error(`not an IP address or CIDR range: "${entry}"`);
    if (range.prefix === undefined) list.addAddress(range.address, range.family);
    else list.addSubnet(range.address, range.prefix, range.family);
  }
  return list;
}

/**
 * The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) or 6to4
 * (2002:aabb:ccdd::) address, as a dotted quad.
 */
function embeddedIpv4(address: string): string | undefined {
  const words = ipv6Words(address);
  const isMapped = words.slice(0, 5).every((word) => word === 0) && words[5] === 0xffff;
  const isNat64 = words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((word) => word === 0);
  if (isMapped || isNat64) return dottedQuad(words[6]!, words[7]!);
  if (words[0] === 0x2002) return dottedQuad(words[1]!, words[2]!);
  return undefined;
}

/** The eight 16-bit words of a valid IPv6 address. */
function ipv6Words(address: string): number[] {
  const hexOnly = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a: string, b: string, c: string, d: string) =>
    [(Number(a) << 8) | Number(b), (Number(c) << 8) | Number(d)].map((word) => word.toString(16)).join(':'),
  );
  const [head = '', tail] = hexOnly.split('::');
  const words = (part: string) => (part === '' ? [] : part.split(':').map((word) => parseInt(word, 16)));
  const left = words(head);
  const right = tail === undefined ? [] : words(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function dottedQuad(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}
