/**
 * Where a declared gRPC target may connect. App settings are written by studio developers, so a
 * target is untrusted: `127.0.0.1:<control-plane port>`, `10.0.0.5:6379` or `169.254.169.254:80`
 * would point the platform's own network position at its internals. Every address a target
 * resolves to must be public unicast (ipaddr.js range `unicast`), unless an operator lists its
 * network in `privateNetworkAllowlist` (tests list `127.0.0.1/32`).
 *
 * The host resolves the name itself and hands grpc-js the checked addresses (`ipv4:a:p,b:p`), with
 * `grpc.default_authority` (and the TLS name) kept as the declared host, so DNS cannot answer one
 * address to the check and another to the connection (DNS rebinding). Names are re-resolved
 * after `dnsRefreshMs`.
 */
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { builtinError } from '../errors.ts';
import type { ParsedTarget } from './config.ts';

/** A parsed CIDR an operator allows although it is not public. */
export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Parse the operator's allowlist of non-public networks.
 * @param list CIDRs such as `10.20.0.0/16`, `127.0.0.1/32`, `fd00::/8`
 * @throws TypeError naming the entry that is not a CIDR
 */
export function parseAllowlist(list: readonly string[]): readonly Cidr[] {
  return Object.freeze(list.map((entry, i) => {
    if (typeof entry !== 'string' || !ipaddr.isValidCIDR(entry)) throw new TypeError(`createGrpcHost: privateNetworkAllowlist[${i}] must be a CIDR like "10.0.0.0/8", got ${JSON.stringify(entry)}`);
    return ipaddr.parseCIDR(entry);
  }));
}

/**
 * Why `address` may not be reached, or null when it may: public unicast addresses always may;
 * others (loopback, private, link-local, unique-local, CGNAT, multicast, reserved, 6to4/Teredo …)
 * only inside an allowed CIDR. IPv4-mapped IPv6 addresses are judged as IPv4.
 */
export function addressRefusal(address: string, allow: readonly Cidr[]): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.process(address);
  } catch {
    return 'not an IP address';
  }
  if (allow.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits))) return null;
  const range = ip.range();
  return range === 'unicast' ? null : `${range} address`;
}

/** The addresses grpc-js is given for a target. */
export interface PinnedTarget {
  /** grpc-js target naming the checked addresses, e.g. `ipv4:93.184.216.34:443`. */
  channelTarget: string;
  /** Sorted addresses, to notice a DNS change. */
  addresses: readonly string[];
}

/**
 * Resolve a target and check every address against the policy.
 * @param target the parsed declared target
 * @param allow non-public networks the operator allows
 * @param describe the service and target, for messages (`service "inventory" (inv.example.com:443)`)
 * @throws PlatformError E_GRPC_TARGET_REFUSED when any address is not allowed (the message says
 *   which and why), E_GRPC_UNAVAILABLE when the name does not resolve
 */
export async function pinTarget(target: ParsedTarget, allow: readonly Cidr[], describe: string): Promise<PinnedTarget> {
  let found: { address: string; family: number }[];
  if (target.family !== 0) {
    found = [{ address: target.host, family: target.family }];
  } else {
    try {
      found = await lookup(target.host, { all: true, order: 'verbatim' });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw builtinError('E_GRPC_UNAVAILABLE', `${describe} is unavailable: its host name "${target.host}" does not resolve (${typeof code === 'string' ? code : 'DNS error'}); check the target in the app's grpcServices settings`, { target: `${target.host}:${target.port}` });
    }
  }
  for (const { address } of found) {
    const reason = addressRefusal(address, allow);
    if (reason !== null) {
      const via = target.family === 0 ? ` ("${target.host}" resolves to ${address})` : '';
      throw builtinError('E_GRPC_TARGET_REFUSED', `${describe} may not be called: ${address} is a ${reason}${via}; functions may only reach public addresses (an operator can allow a private network with the gRPC host's privateNetworkAllowlist)`, { target: `${target.host}:${target.port}`, address });
    }
  }
  if (found.length === 0) throw builtinError('E_GRPC_UNAVAILABLE', `${describe} is unavailable: its host name "${target.host}" has no address`, { target: `${target.host}:${target.port}` });
  // grpc-js takes one family per target: use the family of the first answer (the resolver's preference).
  const ips = found.map((a) => ipaddr.process(a.address));
  const kind = ips[0].kind();
  const addresses = [...new Set(ips.filter((ip) => ip.kind() === kind).map((ip) => ip.toString()))].sort();
  const list = addresses.map((a) => (kind === 'ipv6' ? `[${a}]:${target.port}` : `${a}:${target.port}`)).join(',');
  return { channelTarget: `${kind}:${list}`, addresses };
}
