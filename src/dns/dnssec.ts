/**
 * Whether a name's zone is DNSSEC-signed, as the configured resolver sees it: the AD ("authentic data") bit
 * of its answer (RFC 4035 §3.2.3). Our Resolver cannot tell (it shows no header bits), so this asks on
 * its own: over UDP, and again over TCP when the answer comes back truncated (RFC 7766 §5), with AD set in
 * the query (RFC 6840 §5.7: the asker understands AD) and EDNS0 DO=1 (RFC 3225 §3), since older validators
 * set AD only for DO queries.
 *
 * What is asked: the SOA of the name. The question is about the zone, not one record: in a signed zone every
 * answer is authenticated, the SOA itself at an apex or an authenticated NODATA or NXDOMAIN below it (NSEC
 * or NSEC3 denial, RFC 4035 §3.1.3, RFC 5155 §7.2), so one query type serves a domain, a mail host and a
 * TLSA owner name alike, whatever each holds, and the answer stays small.
 *
 * Trust: the AD bit is the resolver's word, worth what the resolver and the path to it are worth. A stub may
 * rely on it only from a validating resolver it trusts, over a channel it trusts (RFC 4033 §7, RFC 4035
 * §4.9.3, RFC 6698 §4.1): in practice one on loopback (systemd-resolved, unbound) or a validating resolver
 * on the local network. So each verdict names the resolver that gave it and whether it is on loopback, and
 * the checks say so. A resolver that does not validate never sets AD, which would read as "unsigned" for
 * every zone: when an answer lacks AD, the same resolver is asked for the root's SOA (the root is signed);
 * no AD there either means it does not validate, and the verdict says that instead of blaming the zone.
 */

import { randomInt } from 'node:crypto';
import dns from 'node:dns';
import { isIP } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { overTcp, overUdp, sameBytesIgnoringCase } from './transport.ts';

export type DnssecStatus =
  | {
      /** `not-validating`: the resolver sets AD on nothing, not even the root, so its silence says nothing. */
      status: 'signed' | 'unsigned' | 'not-validating';
      /** `host:port` of the resolver that answered. */
      resolver: string;
      /** The resolver is on this host (127.0.0.0/8, ::1): the one path RFC 6698 §4.1 lets us trust without more. */
      loopback: boolean;
    }
  /** Timeout, SERVFAIL, REFUSED or a network error at every resolver: try again later. */
  | { temperror: string };

export interface DnssecOptions {
  /** `host:port`, `[v6]:port` or a bare address (port 53); empty: the system's (node:dns getServers(), resolv.conf). */
  servers: string[];
  /** Per query. */
  timeoutMs: number;
  /** Rounds over the server list, each server asked in order until one answers; default 1 (dns.tries). */
  tries?: number;
}

export type DnssecLookupFn = (name: string) => Promise<DnssecStatus>;

/** The status of one name; `createDnssecLookup` for several, which asks whether a resolver validates once. */
export function dnssecStatus(name: string, options: DnssecOptions): Promise<DnssecStatus> {
  return createDnssecLookup(options)(name);
}

interface Server {
  host: string;
  port: number;
  /** As shown to the admin. */
  label: string;
}

/** A reply: its header bits. `ad` is meaningful only when rcode is NOERROR (0) or NXDOMAIN (3). */
type Reply = { rcode: number; ad: boolean } | { reason: string };

const RCODE_NAMES: Record<number, string> = { 1: 'EFORMERR', 2: 'ESERVFAIL', 4: 'ENOTIMP', 5: 'EREFUSED' };
/** RFC 1035 §4.1.1: the header's TC bit. */
const TRUNCATED = 0x0200;
/** The DNS Flag Day 2020 payload size, which avoids IP fragmentation on common paths (RFC 6891 §6.2.5). */
const UDP_PAYLOAD = 1232;

export function createDnssecLookup(options: DnssecOptions): DnssecLookupFn {
  // Whether each resolver validates, asked once per lookup (one `dns check` run); a failed probe is retried.
  const validates = new Map<string, Promise<boolean | { reason: string }>>();
  const validating = (server: Server) => {
    let probe = validates.get(server.label);
    if (probe === undefined) {
      probe = ask(server, '.', options.timeoutMs).then((reply) => {
        if ('reason' in reply) {
          validates.delete(server.label);
          return reply;
        }
        return isAnswer(reply) ? reply.ad : { reason: `${rcodeName(reply.rcode)} looking up SOA . at ${server.label}` };
      });
      validates.set(server.label, probe);
    }
    return probe;
  };

  return async (name) => {
    // dns.getServers at call time: dns.setServers rebinds the module's functions, not an ESM named import.
    const configured = options.servers.length > 0 ? options.servers : dns.getServers();
    const rounds = Array.from({ length: options.tries ?? 1 }, () => configured).flat();
    let reason = 'ENOSERVER: no DNS server configured (dns.servers is empty and resolv.conf names none)';
    for (const text of rounds) {
      const server = parseServer(text);
      if (server === undefined) {
        reason = `EBADSERVER: ${text} is not an IP address with an optional port`;
        continue;
      }
      const reply = await ask(server, name, options.timeoutMs);
      if ('reason' in reply) {
        reason = reply.reason;
        continue;
      }
      if (!isAnswer(reply)) {
        // A validating resolver answers SERVFAIL for data that fails validation (RFC 4035 §5.5), so this may
        // be a broken signature rather than an outage; either way it is not a verdict. Try the next server.
        reason = `${rcodeName(reply.rcode)} looking up SOA ${name} at ${server.label}`;
        continue;
      }
      const by = { resolver: server.label, loopback: isLoopback(server.host) };
      if (reply.ad) return { status: 'signed', ...by };
      const validator = await validating(server);
      if (typeof validator === 'object') {
        reason = validator.reason;
        continue;
      }
      return { status: validator ? 'unsigned' : 'not-validating', ...by };
    }
    return { temperror: reason };
  };
}

function isAnswer(reply: { rcode: number }): boolean {
  return reply.rcode === 0 || reply.rcode === 3; // NOERROR, NXDOMAIN: both can be authenticated
}

function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `ERCODE${rcode}`;
}

/** One query for `name` SOA at `server`: UDP, then TCP if the UDP answer is truncated. */
async function ask(server: Server, name: string, timeoutMs: number): Promise<Reply> {
  const bare = name === '.' ? '.' : name.replace(/\.$/, '');
  if (bare !== '.' && !validName(bare)) return { reason: `EBADNAME: ${name} is not a domain name` };
  const id = randomInt(0, 0x10000);
  const query = dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA,
    questions: [{ type: 'SOA', class: 'IN', name: bare }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: UDP_PAYLOAD,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: dnsPacket.DNSSEC_OK,
        flag_do: true,
        options: [],
      },
    ],
  });
  const questionEnd = 12 + wireNameLength(bare) + 4; // header, QNAME, QTYPE, QCLASS (RFC 1035 §4.1.2)
  // RFC 5452 §3: a reply counts only when it answers our ID and our question (and, over UDP, comes from the
  // address and port we asked: the socket is connected); anything else is ignored, as a stray or a spoofing attempt.
  const accepts = (reply: Buffer) =>
    reply.length >= questionEnd &&
    reply.readUInt16BE(0) === id &&
    (reply.readUInt8(2) & 0x80) !== 0 && // QR: a response
    reply.readUInt16BE(4) === 1 &&
    sameBytesIgnoringCase(reply, query, 12, questionEnd);
  const what = `SOA ${bare} at ${server.label}`;
  const failed = (code: string, tcp: boolean) => ({
    reason: `${code} looking up ${what}${tcp ? ' over TCP' : ''}${code === 'ETIMEOUT' ? ` (${timeoutMs} ms)` : ''}`,
  });
  let reply = await overUdp(server, query, accepts, timeoutMs);
  let tcp = false;
  if (Buffer.isBuffer(reply) && (reply.readUInt16BE(2) & TRUNCATED) !== 0) {
    reply = await overTcp(server, query, accepts, timeoutMs);
    tcp = true;
  }
  if (!Buffer.isBuffer(reply)) return failed(reply.code, tcp);
  const flags = reply.readUInt16BE(2);
  return { rcode: flags & 0x0f, ad: (flags & dnsPacket.AUTHENTIC_DATA) !== 0 };
}

/** RFC 1035 §2.3.4: labels of 1-63 octets, 255 octets in all on the wire. */
function validName(name: string): boolean {
  if (wireNameLength(name) > 255) return false;
  return name.split('.').every((label) => label.length > 0 && Buffer.byteLength(label) <= 63);
}

function wireNameLength(name: string): number {
  return name === '.' ? 1 : Buffer.byteLength(name) + 2;
}

/** `host:port`, `[v6]:port`, `[v6]`, a bare IPv4 or IPv6 address (port 53), as dns.servers and getServers() write them. */
export function parseServer(text: string): Server | undefined {
  let host: string;
  let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1] as string;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (isIP(text) !== 0) {
    host = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return undefined;
    host = text.slice(0, colon);
    port = Number(text.slice(colon + 1));
  }
  if (isIP(host) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port, label: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/** One spelling per address, so ::1 and 0:0::1 compare equal. */
function canonical(address: string): string {
  return isIP(address) === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

function isLoopback(host: string): boolean {
  const address = canonical(host);
  // 127.0.0.0/8 (RFC 1122 §3.2.1.3), ::1 (RFC 4291 §2.5.3), and 127/8 mapped into IPv6 (::ffff:7fxx:xxxx).
  return address === '::1' || /^127\./.test(address) || /^::ffff:7f[0-9a-f]{2}:/.test(address);
}
