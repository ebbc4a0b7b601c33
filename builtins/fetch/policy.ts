/**
 * Where `ctx.fetch` may go: the app's host allowlist (names and wildcards), host names that are
 * never reachable (cloud metadata, localhost), and which IP addresses a connection may be made to
 * (public unicast only, classified with ipaddr.js's `range()`). Pure functions; `host.ts` applies
 * them before each request (names) and inside the connector (addresses, after DNS resolution).
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';

/**
 * Host names refused whatever the allowlist says: cloud metadata services (GCP, AWS, Azure,
 * Alibaba, OpenStack…) answer on these names inside their networks, and `localhost` is the host
 * itself. Their addresses are refused anyway; the names are refused first for a clearer message.
 */
const BLOCKED_HOSTNAMES: ReadonlySet<string> = new Set([
  'localhost',
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.com',
  'metadata.internal',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
  'metadata.platformequinix.com',
]);

/** ipaddr.js range name → what it is, for refusal messages. */
const RANGE_TEXT: Readonly<Record<string, string>> = {
  unspecified: 'an unspecified address (0.0.0.0/8, ::)',
  broadcast: 'the broadcast address (255.255.255.255)',
  multicast: 'a multicast address (224.0.0.0/4, ff00::/8)',
  linkLocal: 'a link-local address (169.254.0.0/16, fe80::/10; includes the cloud metadata service 169.254.169.254)',
  loopback: 'a loopback address (127.0.0.0/8, ::1)',
  carrierGradeNat: 'a carrier-grade NAT address (100.64.0.0/10, RFC 6598)',
  private: 'a private address (RFC 1918: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)',
  reserved: 'a reserved or documentation address (e.g. 192.0.0.0/24, 198.18.0.0/15, 240.0.0.0/4, 2001:db8::/32)',
  uniqueLocal: 'a unique local IPv6 address (fc00::/7)',
  deprecatedSiteLocal: 'a site-local IPv6 address (fec0::/10)',
  ipv4Compatible: 'an IPv4-compatible IPv6 address (::/96, deprecated)',
  rfc6145: 'an IPv4-translated IPv6 address (::ffff:0:0:0/96)',
  rfc6052: 'a NAT64 address (64:ff9b::/96) that embeds an IPv4 address',
  '6to4': 'a 6to4 address (2002::/16) that embeds an IPv4 address',
  teredo: 'a Teredo address (2001::/32) that embeds an IPv4 address',
};

/** The verdict on one address: `allowed`, or the range it is in and a phrase naming it. */
export type AddressVerdict =
  | { allowed: true; address: string }
  | { allowed: false; address: string; range: string; description: string };

/**
 * Classify an IP address for outbound connections. Only public unicast addresses are allowed:
 * ipaddr.js `range()` must be `'unicast'`. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is judged as the
 * IPv4 address it maps; IPv4-compatible `::a.b.c.d` (::/96) is refused.
 * @param address an IPv4 or IPv6 literal (no brackets, no zone id)
 * @returns the verdict; `address` is the canonical form (IPv4-mapped addresses as IPv4)
 * @throws TypeError when `address` is not an IP literal (a caller bug)
 */
export function classifyAddress(address: string): AddressVerdict {
  if (isIP(address) === 0) throw new TypeError(`classifyAddress: not an IP address: ${JSON.stringify(address)}`);
  const ip = ipaddr.process(address);
  const canonical = ip.toString();
  let range: string = ip.range();
  if (ip.kind() === 'ipv6' && range === 'unicast' && (ip as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0)) range = 'ipv4Compatible';
  if (range === 'unicast') return { allowed: true, address: canonical };
  return { allowed: false, address: canonical, range, description: RANGE_TEXT[range] ?? `a special-purpose address (${range})` };
}

/** `[::1]` → `::1`; other hosts unchanged. */
function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Lower-case, ASCII (punycode), no trailing dot; `''` when the name is not a valid host name. */
function normalizeName(name: string): string {
  const trimmed = name.trim().replace(/\.$/, '');
  return trimmed === '' ? '' : domainToASCII(trimmed);
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/**
 * Check one allowlist entry as an operator or studio would type it: an exact host name
 * (`api.example.com`), a wildcard (`*.example.com`: any name one label or more below
 * `example.com`, not `example.com` itself; at least two labels after `*.`), or an IP literal
 * (`203.0.113.7`, `2001:db8::1` or `[2001:db8::1]`). No scheme, port or path; any port is allowed.
 * @returns null when the entry is usable, else what is wrong with it and how to write it
 */
export function checkAllowlistEntry(entry: string): string | null {
  if (typeof entry !== 'string' || entry.trim() === '') return 'an allowlist entry must be a non-empty host name';
  const trimmed = entry.trim();
  if (isIP(unbracket(trimmed)) !== 0) return null;
  if (/[/:@?#\s[\]\\]/.test(trimmed)) return `${JSON.stringify(entry)} is not a host name: write only the host (e.g. "api.example.com"), without scheme, port or path`;
  const wildcard = trimmed.startsWith('*.');
  const rest = wildcard ? trimmed.slice(2) : trimmed;
  if (rest.includes('*')) return `${JSON.stringify(entry)}: only a leading "*." wildcard is supported (e.g. "*.example.com")`;
  const name = normalizeName(rest);
  if (name === '' || !name.split('.').every((l) => LABEL.test(l))) return `${JSON.stringify(entry)} is not a valid host name`;
  if (wildcard && name.split('.').length < 2) return `${JSON.stringify(entry)} is too broad: a wildcard needs at least two labels after "*." (e.g. "*.example.com")`;
  return null;
}

/**
 * Find the allowlist entry that lets `hostname` through.
 * - A name matches an equal entry (case-insensitive, trailing dot ignored, IDN compared as punycode)
 *   or a wildcard `*.suffix` when it ends with `.suffix` (so `*.example.com` matches
 *   `a.example.com` and `a.b.example.com`, not `example.com`).
 * - An IP literal matches only an entry naming the same address (wildcards never match IPs).
 * Entries that `checkAllowlistEntry` refuses never match.
 * @param hostname the URL's host name (WHATWG-normalised; IPv6 with or without brackets)
 * @param allowlist the app's `fetchAllowlist`
 * @returns the matching entry, or null
 */
export function matchAllowlist(hostname: string, allowlist: readonly string[]): string | null {
  const host = unbracket(hostname);
  if (isIP(host) !== 0) {
    const wanted = ipaddr.process(host).toString();
    for (const entry of allowlist) {
      const literal = typeof entry === 'string' ? unbracket(entry.trim()) : '';
      if (isIP(literal) !== 0 && ipaddr.process(literal).toString() === wanted) return entry;
    }
    return null;
  }
  const name = normalizeName(host);
  if (name === '') return null;
  for (const entry of allowlist) {
    if (checkAllowlistEntry(entry) !== null) continue;
    const trimmed = entry.trim();
    if (trimmed.startsWith('*.')) {
      const suffix = normalizeName(trimmed.slice(2));
      if (name.endsWith(`.${suffix}`)) return entry;
    } else if (normalizeName(trimmed) === name) {
      return entry;
    }
  }
  return null;
}

/**
 * True for host names that are never reachable, allowlisted or not: cloud metadata names
 * (`metadata.google.internal`, `instance-data`, …) and `localhost` / `*.localhost`.
 * @param hostname a host name (any case, trailing dot allowed)
 */
export function isBlockedHostname(hostname: string): boolean {
  const name = normalizeName(unbracket(hostname));
  return BLOCKED_HOSTNAMES.has(name) || name.endsWith('.localhost');
}

/**
 * Parse the test-only `allowAddresses` option: exact `ip:port` pairs (`127.0.0.1:8080`,
 * `[::1]:8080`) whose address may be connected to although the address policy refuses it.
 * @returns a set of `canonical-ip|port` keys (see `addressKey`)
 * @throws TypeError naming the first malformed entry
 */
export function parseAllowAddresses(entries: readonly string[]): ReadonlySet<string> {
  const keys = new Set<string>();
  for (const entry of entries) {
    const match = typeof entry === 'string' ? /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(entry) : null;
    const ip = match === null ? '' : (match[1] ?? match[2]);
    const port = match === null ? 0 : Number(match[3]);
    if (match === null || isIP(ip) === 0 || port < 1 || port > 65535) {
      throw new TypeError(`createFetchHost: allowAddresses entries must be "ip:port" (IPv6 as "[::1]:port"), got ${JSON.stringify(entry)}`);
    }
    keys.add(addressKey(ip, port));
  }
  return keys;
}

/** The key of one address and port in the set `parseAllowAddresses` returns. */
export function addressKey(ip: string, port: number): string {
  return `${ipaddr.process(ip).toString()}|${port}`;
}
