/**
 * The answering half of the loopback test DNS server, without sockets: one query message in, one response
 * message (or deliberate silence) out. Authoritative only (RFC 1034 §4.3.2 step 3): no recursion,
 * delegation, wildcards or DNSSEC.
 */

import type { Answer, DecodedPacket, OptAnswer, Packet, Question } from 'dns-packet';
import * as dnsPacket from 'dns-packet';
import {
  type CompiledZone,
  canonicalName,
  matchesCondition,
  rcodeFor,
  soaFor,
  type TestRecords,
  ttlFor,
} from './test-zone.ts';

/** Short, so a test that swaps zones is not fooled by a caching client for long; a zone may set others. */
const TTL = 60;
/** RFC 1035 §2.3.4: a UDP message without EDNS is at most 512 bytes. */
const UDP_LIMIT = 512;
/** Our OPT pseudo-record (RFC 6891 §6.1.2), advertising the DNS Flag Day 2020 payload size. */
const OUR_OPT: OptAnswer = {
  type: 'OPT',
  name: '.',
  udpPayloadSize: 1232,
  extendedRcode: 0,
  ednsVersion: 0,
  flags: 0,
  flag_do: false,
  options: [],
};
/** CNAME hops followed within the zone before calling it a loop. */
const MAX_CHAIN = 8;
const RCODE = { noerror: 0, formerr: 1, servfail: 2, nxdomain: 3, notimp: 4 } as const;

export interface QueryOutcome {
  question?: { name: string; type: string };
  /** The encoded response, or null for no reply at all (a timeout fixture, or bytes too broken to answer). */
  reply: Buffer | null;
}

/** Answers one DNS message. `transport` decides only the size limit: TCP has none below 64 KiB. */
export function answerMessage(zone: CompiledZone, message: Buffer, transport: 'udp' | 'tcp'): QueryOutcome {
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(message);
  } catch {
    return { reply: null }; // not a DNS message we can echo an id for
  }
  const flags = query.flags ?? 0;
  const opt = query.additionals?.find((a) => a.type === 'OPT');
  const response: Packet = {
    type: 'response',
    id: query.id ?? 0,
    questions: query.questions ?? [],
    answers: [],
    authorities: [],
    // RFC 6891 §7: a query with OPT gets OPT back, advertising our own payload size.
    additionals: opt ? [OUR_OPT] : [],
  };
  // RFC 1035 §4.1.1: RD is copied into the response; RA stays clear because we never recurse.
  const header = dnsPacket.AUTHORITATIVE_ANSWER | (flags & dnsPacket.RECURSION_DESIRED);
  const question = query.questions?.[0];
  if ((flags >> 11) & 0xf) return encoded(response, header | RCODE.notimp, transport, opt); // only QUERY (opcode 0)
  if (!question || query.questions?.length !== 1) return encoded(response, header | RCODE.formerr, transport, opt);

  const asked = { name: question.name, type: question.type };
  const name = canonicalName(question.name);
  if (matchesCondition(zone.timeout, name, question.type)) return { question: asked, reply: null };
  if (matchesCondition(zone.servfail, name, question.type)) {
    return { question: asked, ...encoded(response, header | RCODE.servfail, transport, opt) };
  }
  const rcode = resolve(zone, question, response);
  const forced = rcodeFor(zone, name, question.type);
  if (forced === undefined) return { question: asked, ...encoded(response, header | rcode, transport, opt) };
  // RFC 6891 §6.1.3: a 12-bit RCODE keeps its low four bits in the header and the rest in OPT's EXTENDED-RCODE,
  // so an RCODE past 15 needs an OPT record even when the query had none.
  const extended = forced >> 4;
  if (extended > 0) response.additionals = [{ ...OUR_OPT, extendedRcode: extended }];
  return { question: asked, ...encoded(response, header | (forced & 0xf), transport, opt) };
}

/** Fills `response` with the answer for `question`, following CNAMEs inside the zone; returns the RCODE. */
function resolve(zone: CompiledZone, question: Question, response: Packet): number {
  const { type } = question;
  const answers = response.answers!;
  let owner = question.name; // answer with the name as asked, so a 0x20-randomizing client sees its own case
  for (let hop = 0; hop < MAX_CHAIN; hop++) {
    const set = zone.records.get(canonicalName(owner));
    if (set === undefined) {
      // RFC 2308 §2.1: name error. After a CNAME the RCODE describes the last name in the chain (RFC 6604 §3).
      response.authorities = negativeSoa(zone, owner, type);
      return RCODE.nxdomain;
    }
    if (set.CNAME !== undefined && type !== 'CNAME') {
      // RFC 1034 §3.6.2 / §4.3.2: return the CNAME and restart the lookup at its target.
      const ttl = ttlFor(zone, canonicalName(owner), 'CNAME') ?? TTL;
      answers.push({ type: 'CNAME', name: owner, ttl, data: set.CNAME });
      owner = set.CNAME;
      continue;
    }
    const found = recordsOf(set, type, owner, ttlFor(zone, canonicalName(owner), type) ?? TTL);
    answers.push(...found);
    // RFC 2308 §2.2: the name exists but has no data of this type (NODATA): NOERROR with an empty answer.
    if (found.length === 0) response.authorities = negativeSoa(zone, owner, type);
    return RCODE.noerror;
  }
  return RCODE.servfail; // a CNAME loop in the fixture
}

function recordsOf(set: TestRecords, type: string, name: string, ttl: number): Answer[] {
  const base = { name, ttl };
  switch (type) {
    case 'A':
      return (set.A ?? []).map((data) => ({ ...base, type: 'A', data }));
    case 'AAAA':
      return (set.AAAA ?? []).map((data) => ({ ...base, type: 'AAAA', data }));
    case 'MX':
      return (set.MX ?? []).map((mx) => ({
        ...base,
        type: 'MX',
        data: { preference: mx.priority, exchange: mx.exchange },
      }));
    case 'TXT':
      return (set.TXT ?? []).map((txt) => ({ ...base, type: 'TXT', data: txtChunks(txt) }));
    case 'PTR':
      return (set.PTR ?? []).map((data) => ({ ...base, type: 'PTR', data }));
    case 'CNAME':
      return set.CNAME === undefined ? [] : [{ ...base, type: 'CNAME', data: set.CNAME }];
    case 'TLSA': // RFC 6698 §2.1: usage, selector, matching type, association data
      return (set.TLSA ?? []).map((t) => ({
        ...base,
        type: 'TLSA',
        data: {
          usage: t.usage,
          selector: t.selector,
          matchingType: t.matchingType,
          certificate: Buffer.from(t.data, 'hex'),
        },
      }));
    case 'CAA': // RFC 8659 §4.1
      // dns-packet's types know three tags; its encoder writes any (a test may need an unknown one).
      return (set.CAA ?? []).map((c) => ({
        ...base,
        type: 'CAA',
        data: { flags: c.flags, tag: c.tag as 'issue', value: c.value },
      }));
    default:
      return []; // a type the test zone cannot hold: NODATA
  }
}

/**
 * RFC 1035 §3.3.14: a TXT record is a sequence of <character-string>s of at most 255 bytes each. A long
 * string is cut at 255 bytes, backing off so no UTF-8 sequence is split across chunks.
 */
export function txtChunks(txt: string | string[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (const part of typeof txt === 'string' ? [txt] : txt) {
    const bytes = Buffer.from(part, 'utf8');
    let start = 0;
    do {
      let end = Math.min(start + 255, bytes.length);
      while (end < bytes.length && end > start && (bytes[end]! & 0xc0) === 0x80) end--; // continuation byte
      chunks.push(bytes.subarray(start, end));
      start = end;
    } while (start < bytes.length);
  }
  return chunks;
}

/**
 * RFC 2308 §3: a negative answer carries the zone's SOA in the authority section; the lesser of its TTL and
 * MINIMUM bounds how long the negative answer may be cached (§5). The zone may set both, or send no SOA (§5:
 * such an answer should not be cached). The test zone has no apexes, so the apex is the nearest listed ancestor
 * of the name, else its last two labels.
 */
function negativeSoa(zone: CompiledZone, owner: string, type: string): Answer[] {
  const chosen = soaFor(zone, canonicalName(owner), type);
  if (chosen === null) return [];
  const labels = canonicalName(owner).split('.');
  let apex = labels.slice(-2).join('.');
  for (let i = 1; i < labels.length - 1; i++) {
    const candidate = labels.slice(i).join('.');
    if (zone.records.has(candidate)) {
      apex = candidate;
      break;
    }
  }
  const data = {
    mname: `ns.${apex}`,
    rname: `hostmaster.${apex}`,
    serial: 1,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    minimum: chosen?.minimum ?? TTL,
  };
  return [{ type: 'SOA', name: apex, ttl: chosen?.ttl ?? TTL, data }];
}

function encoded(
  response: Packet,
  flags: number,
  transport: 'udp' | 'tcp',
  opt: Answer | undefined,
): { reply: Buffer } {
  // RFC 1035 §4.2.2: a TCP message is at most 65,535 octets (its length is two octets), and an RR's data
  // as much (§3.2.1 RDLENGTH); a zone answer past that cannot be sent at all and is SERVFAIL (the test
  // server crashed on it: dns-packet throws, or the TCP framing did).
  let full: Buffer | undefined;
  try {
    full = dnsPacket.encode({ ...response, flags });
  } catch {
    full = undefined;
  }
  if (full === undefined || full.length > 0xffff) {
    const failed = (flags & ~0xf) | RCODE.servfail;
    // Our own OPT again, so that no EXTENDED-RCODE of a forced RCODE turns the SERVFAIL into another (RFC 6891 §6.1.3).
    const additionals = opt?.type === 'OPT' ? [OUR_OPT] : [];
    return { reply: dnsPacket.encode({ ...response, flags: failed, answers: [], authorities: [], additionals }) };
  }
  const limit = opt?.type === 'OPT' ? Math.max(UDP_LIMIT, opt.udpPayloadSize) : UDP_LIMIT; // RFC 6891 §6.2.5
  if (transport === 'tcp' || full.length <= limit) return { reply: full };
  // RFC 2181 §9 / RFC 1035 §4.2.1: too big for UDP; set TC with no partial RRset so the client retries over TCP.
  const flagsTc = flags | dnsPacket.TRUNCATED_RESPONSE;
  return { reply: dnsPacket.encode({ ...response, flags: flagsTc, answers: [], authorities: [] }) };
}
