/**
 * IP addresses for SPF: the client address as bytes, CIDR matching for ip4/ip6/a/mx (RFC 7208 §5.6) and
 * the forms the macros need (§7.3: "i" dotted or as nibbles, "c" readable, "v" in-addr or ip6).
 * An IPv4-mapped IPv6 client address (::ffff:a.b.c.d) is checked as the IPv4 address it carries, as the
 * OpenSPF suite's "*-ip4mapped" cases expect (RFC 4291 §2.5.5.2 defines the mapping).
 */

import { isIPv4, isIPv6 } from 'node:net';

export interface ClientAddress {
  family: 4 | 6;
  bytes: Uint8Array;
  /** The address as text, %{c} (§7.3). */
  text: string;
}

export function parseClientAddress(ip: string): ClientAddress | undefined {
  const v4 = parseIp4(ip);
  if (v4 !== undefined) return { family: 4, bytes: v4, text: ip };
  const v6 = parseIp6(ip);
  if (v6 === undefined) return undefined;
  const mapped = v6.subarray(0, 12).every((b, i) => b === (i < 10 ? 0 : 0xff));
  if (mapped) {
    const bytes = v6.slice(12);
    return { family: 4, bytes, text: bytes.join('.') };
  }
  return { family: 6, bytes: v6, text: formatIp6(v6) };
}

/** §12 ip4-network: dotted quad, no leading zeros (qnum). */
export function parseIp4(text: string): Uint8Array | undefined {
  if (!isIPv4(text)) return undefined;
  const parts = text.split('.');
  if (parts.some((p) => p.length > 1 && p[0] === '0')) return undefined;
  return Uint8Array.from(parts, Number);
}

/** RFC 4291 §2.2 text forms, including a trailing dotted quad. */
export function parseIp6(text: string): Uint8Array | undefined {
  if (!isIPv6(text) || text.includes('%')) return undefined;
  let head = text;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    const v4 = parseIp4(dotted[1] as string);
    if (v4 === undefined) return undefined;
    tail.push((v4[0] as number) * 256 + (v4[1] as number), (v4[2] as number) * 256 + (v4[3] as number));
    head = text.slice(0, dotted.index);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const [left = '', right] = head.split('::');
  const words = (s: string) => (s === '' ? [] : s.split(':').map((w) => Number.parseInt(w, 16)));
  const l = words(left);
  const r = [...(right === undefined ? [] : words(right)), ...tail];
  const all =
    right === undefined ? [...l, ...tail] : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  if (all.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  all.forEach((w, i) => {
    bytes[i * 2] = w >> 8;
    bytes[i * 2 + 1] = w & 0xff;
  });
  return bytes;
}

function formatIp6(bytes: Uint8Array): string {
  const words = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2] as number) << 8) | (bytes[i * 2 + 1] as number));
  // RFC 5952 §4.2.3: compress the longest run of two or more zero words, the first if tied
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** §5.6: the first `prefix` bits of both addresses are equal. */
export function inNetwork(address: Uint8Array, network: Uint8Array, prefix: number): boolean {
  if (address.length !== network.length) return false;
  let bits = prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((address[i] as number) & mask) !== ((network[i] as number) & mask)) return false;
  }
  return true;
}

/** §7.3 "i": dotted quad, or 32 dot-separated lower-case nibbles (§7.4's example) for IPv6. */
export function macroIp(client: ClientAddress): string {
  if (client.family === 4) return client.text;
  const nibbles: string[] = [];
  for (const b of client.bytes) nibbles.push((b >> 4).toString(16), (b & 15).toString(16));
  return nibbles.join('.');
}
