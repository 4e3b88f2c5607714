/**
 * The text forms of IP addresses, read and written once for the whole server: the 16-bit groups of an
 * IPv6 address (RFC 4291 §2.2) and its canonical text (RFC 5952 §4). The restrictions' CIDR tables
 * (src/policy/cidr.ts), SPF (src/authentication/spf/address.ts) and reverse names (reverse-name.ts)
 * each keep the representation they match with and convert through these.
 */

/** The four octets of a dotted quad that node:net's isIPv4 accepted (no leading zeros, none over 255). */
export function ipv4Octets(text: string): number[] {
  return text.split('.').map(Number);
}

/**
 * The eight 16-bit groups of an IPv6 address that node:net's isIPv6 accepted, without a zone: `::`
 * expanded, and a dotted IPv4 tail (form 3 of RFC 4291 §2.2, `::ffff:192.0.2.1`) as its two groups.
 */
export function ipv6Groups(text: string): number[] {
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    const [a = 0, b = 0, c = 0, d = 0] = ipv4Octets(s.slice(lastColon + 1));
    s = `${s.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const groups = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  return groups.map((group) => Number.parseInt(group, 16));
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run of two or more zero groups (the first if tied) as `::`. */
export function formatIpv6Groups(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** An IPv4-mapped IPv6 address ("::ffff:192.0.2.1", RFC 4291 §2.5.5.2, as a dual-stack socket gives it) as its IPv4 form. */
export function unmappedAddress(ip: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip) ? ip.slice(7) : ip;
}

/**
 * A socket's peer or local address as everything after the socket uses it: IPv4-mapped as IPv4, and
 * without a link-local zone ("fe80::1%eth0"): the zone names one of our interfaces (RFC 4007 §11), not
 * the client, and would make `Received:` an invalid literal and miss every fe80::/10 network.
 */
export function socketAddress(ip: string): string {
  const percent = ip.indexOf('%');
  return unmappedAddress(percent < 0 ? ip : ip.slice(0, percent));
}
