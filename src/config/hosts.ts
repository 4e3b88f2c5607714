/**
 * What a host in the config may be: the checks the main schema (listeners, DNS servers, serverAddresses)
 * and the filter schema (milter sockets) share. A leaf module: schema.ts imports filter-schema.ts, so a
 * helper both need lives here rather than in either.
 */
import { BlockList, isIP, isIPv6 } from 'node:net';

/**
 * A name whose rightmost label is all digits reads as an IPv4 address (203.0.113.25; WHATWG URL parsing
 * even turns 1.2.3 into 1.2.0.3): RFC 1123 §2.1 keeps host names apart from dotted-decimal addresses by
 * requiring the highest-level label to be alphabetic.
 */
export function isAddressShaped(name: string): boolean {
  return /(^|\.)[0-9]+\.?$/.test(name);
}

/** A host name (RFC 1123 §2.1): letters, digits and inner hyphens per label, at most 253 characters, not address-shaped. */
export function isHostName(host: string): boolean {
  const name = /^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.?$/;
  return host.length <= 253 && name.test(host) && !isAddressShaped(host);
}

/**
 * A name a resolver looks up: a host name, or one with underscores in its labels, which RFC 1123 host
 * names lack but DNS (RFC 2181 §11) and container networks allow (a Docker service `rspamd_milter`).
 * For a peer we connect to; a listener's host stays a host name.
 */
export function isResolvableName(host: string): boolean {
  const name = /^([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?\.)*[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?\.?$/;
  return host.length <= 253 && name.test(host) && !isAddressShaped(host);
}

/** RFC 4291 §2.5.5.2: the IPv4 address an IPv4-mapped IPv6 address (in any spelling) stands for; else undefined. */
export function ipv4Mapped(address: string): string | undefined {
  if (!isIPv6(address)) return undefined;
  const canonical = new URL(`http://[${address}]/`).hostname; // RFC 5952 form: [::ffff:7f00:1]
  const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(canonical);
  if (!mapped) return undefined;
  const [high, low] = [Number.parseInt(mapped[1] ?? '0', 16), Number.parseInt(mapped[2] ?? '0', 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Multicast groups: 224.0.0.0/4 (RFC 5771 §1) and ff00::/8 (RFC 4291 §2.7). A group is no one host. */
export const MULTICAST = new BlockList();
MULTICAST.addSubnet('224.0.0.0', 4);
MULTICAST.addSubnet('ff00::', 8, 'ipv6');

const LINK_LOCAL6 = new BlockList();
LINK_LOCAL6.addSubnet('fe80::', 10, 'ipv6');

/**
 * Why an IP address cannot be one socket's own end or its peer, or undefined: a multicast group, the
 * limited broadcast address, or an IPv6 link-local address, which names a host only together with a
 * zone (the config takes none). A listener on 224.0.0.1 binds and hears nothing; one on fe80::1 fails
 * with a bare "listen EINVAL".
 */
export function notOneHostProblem(ip: string): string | undefined {
  const v4 = ipv4Mapped(ip) ?? (isIP(ip) === 4 ? ip : undefined);
  if (v4 !== undefined) {
    if (MULTICAST.check(v4, 'ipv4')) return `${ip} is a multicast group (224.0.0.0/4, RFC 5771 §1), not one host`;
    // RFC 919 §7, RFC 6890 §2.2.2: every host of the local network at once, never one of them.
    if (v4 === '255.255.255.255') return `${ip} is the limited broadcast address (RFC 919), not one host`;
    return undefined;
  }
  if (isIP(ip) !== 6) return undefined;
  if (MULTICAST.check(ip, 'ipv6')) return `${ip} is a multicast group (ff00::/8, RFC 4291 §2.7), not one host`;
  // RFC 4007 §6: a link-local address is ambiguous without the link it is on (a zone, "%eth0").
  if (LINK_LOCAL6.check(ip, 'ipv6')) {
    return `${ip} is link-local (fe80::/10, RFC 4291 §2.5.6): it names a host only with a zone (%eth0, RFC 4007 §11), which the config does not take`;
  }
  return undefined;
}
