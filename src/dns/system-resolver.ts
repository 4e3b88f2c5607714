/**
 * The production Resolver: a stub resolver (RFC 1123 §6.1.3.1) that asks the recursive servers of
 * `dns.servers` (or resolv.conf's) over UDP, and over TCP when an answer comes back truncated, plus an
 * answer cache that keeps each answer for its TTL, at most `cacheTtlMs`. Turns every outcome into a DnsAnswer
 * value: the one rule that matters to callers is that a timeout or server failure is `temperror`, never "no
 * record" (RFC 7208 §4.4, RFC 7489 §6.6.3). No DNSSEC validation.
 *
 * Not node:dns: Node runs c-ares with ARES_FLAG_NOCHECKRESP, so a SERVFAIL, REFUSED or NOTIMP from the first
 * listed server was final and the next one never asked; and c-ares reads RCODEs 6–11 (YXDOMAIN … DSOTYPENI)
 * as NOERROR, their records as an answer and their empty answer as "no data", with no RCODE shown to check.
 * Here the RCODE decides (RFC 1035 §4.1.1, RFC 6895 §2.3): NOERROR and NXDOMAIN are answers, anything else
 * is that server's failure and the next server is asked, as glibc's resolver does after SERVFAIL, NOTIMP and
 * REFUSED. What c-ares did that still matters is kept: the names it would not send (EBADNAME), its text for
 * names and addresses, no EDNS (TCP for long answers), and a silent server asked last for a while.
 */

import { randomInt } from 'node:crypto';
import dns from 'node:dns';
import { asciiName } from './a-labels.ts';
import { AnswerCache } from './cache.ts';
import { parseServer } from './dnssec.ts';
import type { DnsAnswer, MxRecord, Resolver, TlsaRecord } from './resolver.ts';
import { reverseName } from './reverse-name.ts';
import { overTcp, overUdp, type DnsServer as Server, sameBytesIgnoringCase } from './transport.ts';

export interface ResolverOptions {
  /** `host`, `host:port` or `[v6]:port`, asked in this order; empty means the system's resolv.conf servers. */
  servers: string[];
  /** The first round's timeout per server in milliseconds; each further round waits twice as long. */
  timeoutMs: number;
  /** Rounds over the servers: each round asks, in order, every server that has not answered yet. */
  tries: number;
  /**
   * The longest an answer is reused: each is kept for its TTL (RFC 1035 §3.2.1), the least of its records' and
   * its CNAMEs'; a negative one for its SOA's negative TTL (RFC 2308 §5), and not at all without an SOA; never
   * past this. 0 disables the cache. Default 10 s.
   */
  cacheTtlMs?: number;
  /** Default 10,000; the oldest entry goes first. */
  cacheMaxEntries?: number;
  /** What the cached answers may weigh together, about their bytes; default 16 MB. */
  cacheMaxBytes?: number;
  /** Clock for the cache, injectable for tests. */
  now?: () => number;
  /**
   * Told when the DNS servers themselves stop serving us (several look-ups in a row that every server let
   * time out or refused, none answered between) and when they answer again; one domain's SERVFAIL is not that.
   */
  health?: { failed(reason: string): void; succeeded(): void };
}

/** Look-ups in a row that the servers refused or let time out before they count as down. */
const FAILURES_FOR_OUTAGE = 5;
/**
 * A server that let a query time out (or whose port was closed) is asked after the others for this long, as
 * c-ares did (its retry delay), so one dead server listed first does not cost every look-up a timeout.
 */
const SILENT_SERVER_LAST_MS = 5_000;
/**
 * Errors of this process, not of the network or the server: no socket could be had (EBUSY: all the look-ups'
 * sockets were busy for the whole timeout, or too many queries waited for one, transport.ts).
 */
const LOCAL_FAILURES: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EBUSY']);

/** RFC 1035 §3.2.2 and the types' own RFCs: A, CNAME, PTR, MX, TXT; AAAA (RFC 3596 §2.1); TLSA (RFC 6698 §7.1); CAA (RFC 8659 §7.1). */
const TYPE_CODES = { A: 1, CNAME: 5, PTR: 12, MX: 15, TXT: 16, AAAA: 28, TLSA: 52, CAA: 257 } as const;
type RecordType = keyof typeof TYPE_CODES;
const NS = 2;
const SOA = 6;
const OPT = 41; // RFC 6891 §6.1.1: a server may add one unasked, and its EXTENDED-RCODE counts
const CLASS_IN = 1;
/** RFC 1035 §4.1.1 flag bits of the header's second 16-bit word. */
const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;
/** RFC 6895 §2.3 registry names of the RCODEs that are no answer, as c-ares names the first four. */
const RCODE_NAMES: Record<number, string> = {
  1: 'EFORMERR',
  2: 'ESERVFAIL',
  4: 'ENOTIMP',
  5: 'EREFUSED',
  6: 'EYXDOMAIN',
  7: 'EYXRRSET',
  8: 'ENXRRSET',
  9: 'ENOTAUTH',
  10: 'ENOTZONE',
  11: 'EDSOTYPENI',
  16: 'EBADVERS',
  23: 'EBADCOOKIE',
};

/** Characters no name we ask for may hold: C0 controls (NUL above all), space and DEL. */
const UNASKABLE = /[\x00-\x20\x7f]/;
/**
 * The characters c-ares sends in a label (letters, digits, '-', '_', '/', '*'); a name with any other is
 * EBADNAME and never asked, as before, which SPF and DMARC read as a name that cannot exist.
 */
const LABEL = /^[A-Za-z0-9_\-/*]{1,63}$/;

export function createResolver(options: ResolverOptions): Resolver {
  const exchange = createExchange(options);
  const cache = new AnswerCache<DnsAnswer<unknown>>({
    ttlMs: options.cacheTtlMs ?? 10_000,
    maxEntries: options.cacheMaxEntries ?? 10_000,
    weigh: answerWeight,
    maxWeight: options.cacheMaxBytes ?? 16 * 1024 * 1024,
    now: options.now,
  });
  // Concurrent identical lookups (several checks of one message asking for the same TXT) share one query.
  const inflight = new Map<string, Promise<DnsAnswer<unknown>>>();
  let failuresInARow = 0;
  /** The servers failed a probe: every failure is reported until one is served again. */
  let down = false;
  let probing = false;
  /**
   * Whether a server answered (any answer: "no such name" and one domain's SERVFAIL too), or none did: each
   * let the query time out, or refused it, which a resolver that does not serve us does for every query.
   * Look-ups in a row that time out may all be about one sender's domain whose own name servers are
   * silent (a recursive resolver gives up on them with a timeout of its own): so before the servers are
   * said to be down, they are asked about the root, which every recursive resolver answers from its
   * cache. Only if that fails too are they down; a stranger's five MAIL FROMs cannot make them look so.
   */
  const observe = (outcome: Exchanged<unknown>) => {
    const health = options.health;
    if (!health || outcome.served === undefined) return;
    const { answer } = outcome;
    if (outcome.served) {
      failuresInARow = 0;
      down = false;
      health.succeeded();
      return;
    }
    const servers = options.servers.length > 0 ? options.servers.join(', ') : 'of /etc/resolv.conf';
    const reason = !answer.ok && answer.error === 'temperror' ? answer.reason : '';
    const what = outcome.refused ? 'refuse to resolve names for us' : 'do not answer';
    const failed = () => health.failed(`the DNS servers ${servers} ${what} (${reason})`);
    if (down) failed();
    else if (++failuresInARow >= FAILURES_FOR_OUTAGE && !probing) {
      probing = true;
      // RFC 1034 §5.3.1: the root's data is what every resolver knows; an A question about it has a
      // quick answer (NODATA) from any that serves us.
      exchange('A', '.', readA).then(
        (probe) => {
          probing = false;
          if (probe.served === false && failuresInARow > 0) {
            down = true;
            failed();
          } else if (probe.served) failuresInARow = 0; // the names were the silent ones, not the servers
        },
        () => {
          probing = false; // this process failed to ask (no socket): the next failure asks again
        },
      );
    }
  };

  /**
   * The query is given the name as converted, never the caller's: the cache key and the name on the
   * wire must be one string, or an answer about one name is kept as another's (RFC 1035 §7.4).
   */
  function lookup<T>(type: RecordType, name: string, read: ReadRecord<T>): Promise<DnsAnswer<T>> {
    const asked = askableName(name);
    if (asked === undefined) return Promise.resolve({ ok: false, error: 'nxdomain' });
    name = asked;
    const key = `${type} ${name.toLowerCase().replace(/\.$/, '')}`; // names are case-insensitive (RFC 4343 §3)
    const cached = cache.get(key) as DnsAnswer<T> | undefined;
    if (cached !== undefined) return Promise.resolve(cached);
    const running = inflight.get(key) as Promise<DnsAnswer<T>> | undefined;
    if (running !== undefined) return running;
    const started = exchange(type, asked, read).then((outcome) => {
      inflight.delete(key);
      observe(outcome);
      const { answer } = outcome;
      // Never a temporary failure; an answer no longer than its TTL allows (RFC 1035 §3.2.1, RFC 2308 §5).
      if (answer.ok || answer.error !== 'temperror') cache.set(key, answer, (outcome.ttl ?? 0) * 1000);
      return answer;
    });
    inflight.set(key, started);
    return started;
  }

  return {
    a: (name) => lookup('A', name, readA),
    aaaa: (name) => lookup('AAAA', name, readAaaa),
    mx: (name) => lookup('MX', name, readMx),
    // A TXT record is a list of strings read as one (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
    txt: (name) => lookup('TXT', name, readTxt),
    ptr: (address) => {
      // The PTR of the arpa name, rather than a reverse lookup: it keeps NXDOMAIN and NODATA apart.
      const arpa = reverseName(address);
      return lookup('PTR', arpa, readName);
    },
    cname: (name) => lookup('CNAME', name, readName),
    tlsa: (name) => lookup('TLSA', name, readTlsa),
  };
}

/** RFC 8659 §4.1: flags (bit 128 "issuer critical"), tag, value. */
export interface CaaRecord {
  critical: boolean;
  tag: string;
  value: string;
}

/**
 * CAA look-ups (RFC 8659 §4.1) for `postern dns check`, asked as the Resolver asks (the next server after
 * an error RCODE, every such RCODE a temperror); not part of Resolver, since only the checker asks them, and
 * not cached.
 */
export function createCaaResolver(options: ResolverOptions): (name: string) => Promise<DnsAnswer<CaaRecord>> {
  const exchange = createExchange(options);
  return async (name) => {
    const asked = askableName(name);
    if (asked === undefined) return { ok: false, error: 'nxdomain' };
    return (await exchange('CAA', asked, readCaa)).answer;
  };
}

/**
 * The name as it goes on the wire, or undefined for one no DNS server can hold: so it is never asked,
 * and is "no such name" for good rather than a timeout to retry. Non-ASCII labels become A-labels
 * here (RFC 5891 §4.2), since a name that does not convert reached c-ares as the root "." and got the
 * root's answer; and a name is at most 253 characters as text, its labels 63 (RFC 1035 §2.3.4).
 */
export function askableName(name: string): string | undefined {
  // c-ares takes the name as a C string: a NUL would end it early, so that a name built from a
  // message (a DKIM selector) could be cut short at the sender's choosing. No host name holds a
  // control character or a space (RFC 1123 §2.1, RFC 2181 §11 leaves them to the application).
  if (UNASKABLE.test(name)) return undefined;
  const ascii = asciiName(name); // past ASCII: IDNA, label by label
  if (ascii === undefined || ascii === '') return undefined;
  const bare = ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
  if (bare.length > 253) return undefined;
  if (bare.length > 63 && bare.split('.').some((label) => label.length > 63)) return undefined;
  return ascii;
}

/** About what an answer holds in memory: its text, and a little for each record. */
function answerWeight(answer: DnsAnswer<unknown>): number {
  if (!answer.ok) return 64;
  let weight = 64;
  for (const record of answer.records) {
    if (typeof record === 'string') weight += 2 * record.length + 32;
    else if (record instanceof Object && 'data' in record && record.data instanceof Uint8Array)
      weight += record.data.byteLength + 64;
    else weight += 2 * JSON.stringify(record).length + 32;
  }
  return weight;
}

/** A record's data (RDATA, RFC 1035 §3.2.1) between `start` and `end` of the message, or undefined when malformed. */
type ReadRecord<T> = (message: Buffer, start: number, end: number) => T | undefined;

/**
 * A look-up's answer, and for the health report whether any server served it: true when one answered
 * (an NXDOMAIN, a SERVFAIL), false when each timed out or refused, undefined when no query went out.
 */
interface Exchanged<T> {
  answer: DnsAnswer<T>;
  /** Seconds the answer may be cached; 0 (or none, for a failure) not at all. */
  ttl?: number;
  served?: boolean;
  /** Every server that was asked refused (REFUSED, or a referral: it does not recurse for us). */
  refused?: boolean;
}

/** One server's reply to one query: the answer, or why there is none. */
type Try<T> =
  | { kind: 'answer'; answer: DnsAnswer<T>; ttl: number }
  | {
      /** silent: no DNS message came back; refused: the server will not resolve for us; failed: any other. */
      kind: 'silent' | 'refused' | 'failed';
      code: string;
    };

/** A listed server: its text, and its address unless the text is none (then it is never asked). */
interface Listed {
  label: string;
  server: Server | undefined;
}

function createExchange(options: ResolverOptions) {
  /** When each server last let a query go unanswered; gone once it answers again. */
  const silentSince = new Map<string, number>();
  const parsed = new Map<string, Listed>();
  const listedOf = (label: string): Listed => {
    const known = parsed.get(label);
    if (known !== undefined) return known;
    const listed = { label, server: parseServer(label) };
    parsed.set(label, listed);
    return listed;
  };

  /** The servers in their listed order, except that one silent of late goes after the others. */
  const ordered = (): Listed[] => {
    // dns.getServers at call time: resolv.conf's servers, or what dns.setServers gave the process.
    const listed = (options.servers.length > 0 ? options.servers : dns.getServers()).map(listedOf);
    const now = performance.now();
    const quiet = ({ label }: Listed) => now - (silentSince.get(label) ?? -Infinity) < SILENT_SERVER_LAST_MS;
    return [...listed.filter((s) => !quiet(s)), ...listed.filter(quiet)];
  };

  return async <T>(type: RecordType, name: string, read: ReadRecord<T>): Promise<Exchanged<T>> => {
    const question = encodeQuestion(name, TYPE_CODES[type]);
    const temperror = (code: string, detail = ''): DnsAnswer<T> => ({
      ok: false,
      error: 'temperror',
      reason: `${code} looking up ${type} ${name}${detail}`,
    });
    if (question === undefined) return { answer: temperror('EBADNAME') }; // never asked: no word on the servers
    const servers = ordered();
    if (servers.length === 0) return { answer: temperror('ENOSERVER'), served: false };
    const last = new Map<string, string>(); // each server's last failure, for the reason
    const answered = new Set<string>(); // servers that gave an RCODE: asking again at once would not change it
    let served = false;
    let refused = true;
    let code = '';
    for (let round = 0; round < options.tries; round++) {
      // RFC 1536 §1: back off exponentially rather than ask a slow server as fast again.
      const timeoutMs = options.timeoutMs * 2 ** round;
      for (const { label, server } of servers) {
        if (answered.has(label)) continue;
        const result: Try<T> =
          server === undefined
            ? { code: 'EBADSERVER', kind: 'silent' }
            : await askServer(server, question, type, name, read, timeoutMs);
        if (result.kind === 'silent') silentSince.set(label, performance.now());
        else silentSince.delete(label);
        if (result.kind === 'answer') return { answer: result.answer, ttl: result.ttl, served: true };
        code = result.code;
        last.set(label, code);
        if (result.kind === 'silent') refused = false;
        else answered.add(label);
        if (result.kind === 'failed') served = true;
      }
    }
    const detail = servers.length > 1 ? ` (${[...last].map(([label, c]) => `${label} ${c}`).join(', ')})` : '';
    return { answer: temperror(code, detail), served, refused: !served && refused };
  };
}

/** One query to one server: over UDP, then over TCP when the reply is truncated. */
async function askServer<T>(
  server: Server,
  question: Buffer,
  type: RecordType,
  name: string,
  read: ReadRecord<T>,
  timeoutMs: number,
): Promise<Try<T>> {
  const query = encodeQuery(question);
  const accepts = (reply: Buffer) => acceptable(reply, query, question.length);
  let reply = await overUdp(server, query, accepts, timeoutMs);
  // RFC 1035 §4.2.1, RFC 7766 §5: a truncated UDP reply is asked again over TCP, and its content never used.
  if (Buffer.isBuffer(reply) && (reply.readUInt16BE(2) & TC) !== 0) {
    // Truncated still over TCP: a broken server.
    reply = await overTcp(
      server,
      query,
      (message) => accepts(message) && (message.readUInt16BE(2) & TC) === 0,
      timeoutMs,
    );
  }
  if (!Buffer.isBuffer(reply)) {
    // Out of descriptors here (EMFILE, ENFILE): our failure, not the server's silence, which would put it
    // last and raise the "DNS servers do not answer" warning against a server that did nothing wrong.
    return { code: reply.code, kind: LOCAL_FAILURES.has(reply.code) ? 'failed' : 'silent' };
  }
  const message = parseMessage(reply);
  if (message === undefined) return { code: 'EBADRESP', kind: 'failed' };
  return interpret(message, reply, type, name, read);
}

/** A parsed reply: the full RCODE and the records of the answer and authority sections, by position. */
interface Message {
  flags: number;
  /** RFC 6891 §6.1.3: the header's four bits below OPT's EXTENDED-RCODE eight. */
  rcode: number;
  answers: RecordAt[];
  authorities: RecordAt[];
}

interface RecordAt {
  /** Lower-cased presentation form, for comparing (RFC 4343 §3). */
  owner: string;
  type: number;
  class: number;
  /** Seconds, the top bit's values read as 0 (RFC 2181 §8). */
  ttl: number;
  start: number;
  end: number;
}

/** What one server's reply says about the question, and how long that may be cached. */
function interpret<T>(message: Message, reply: Buffer, type: RecordType, name: string, read: ReadRecord<T>): Try<T> {
  const { rcode } = message;
  // RFC 1035 §4.1.1, RFC 6895 §2.3: any RCODE but NOERROR and NXDOMAIN is an error, and whatever records
  // came with it vouch for nothing: never read as data, nor their absence as "no data".
  if (rcode !== 0 && rcode !== 3) {
    return { code: RCODE_NAMES[rcode] ?? `ERCODE${rcode}`, kind: rcode === 5 ? 'refused' : 'failed' };
  }
  const wanted = TYPE_CODES[type];
  const chain = followChain(message, reply, name, wanted);
  if (rcode === 3) {
    // RFC 2308 §2.1: NXDOMAIN; after a CNAME it is about the chain's last name, as c-ares read it (RFC 6604 §3),
    // so a chain that does not add up changes nothing but that the answer is not kept.
    const ttl = 'code' in chain ? 0 : negativeTtl(message, reply, chain.ttl);
    return { kind: 'answer', answer: { ok: false, error: 'nxdomain' }, ttl };
  }
  if ('code' in chain) return { code: chain.code, kind: 'failed' };
  const { owner } = chain;
  const records: T[] = [];
  // RFC 2181 §5.2: the TTLs of one RRset should agree; where they do not, the least holds for all.
  let ttl = chain.ttl;
  for (const record of message.answers) {
    if (record.type !== wanted || record.class !== CLASS_IN || record.owner !== owner) continue;
    const value = read(reply, record.start, record.end);
    if (value === undefined) return { code: 'EBADRESP', kind: 'failed' };
    records.push(value);
    ttl = Math.min(ttl, record.ttl);
  }
  if (records.length > 0) return { kind: 'answer', answer: { ok: true, records }, ttl };
  // RFC 2308 §2.2: NODATA carries the zone's SOA, or no NS records, in the authority section. An empty
  // reply without an SOA from a server that neither recurses (RA) nor is authoritative (AA) says nothing
  // about the name (RFC 1035 §4.1.1): with NS records it is a referral, without them a server that does not
  // resolve for us. Taken for NODATA, the other servers were not asked and a sender's domain was "not
  // found" (550) for good.
  const unanswered = (message.flags & (RA | AA)) === 0 && !message.authorities.some((r) => r.type === SOA);
  if (unanswered) {
    const referral = message.authorities.some((r) => r.type === NS);
    return { code: referral ? 'EREFERRAL' : 'ENORECURSION', kind: 'refused' };
  }
  return { kind: 'answer', answer: { ok: false, error: 'nodata' }, ttl: negativeTtl(message, reply, chain.ttl) };
}

/**
 * The chain of CNAMEs from the name asked (RFC 1034 §3.6.2, §4.3.2 step 3a): the name at its end, whose
 * records of the type are the answer (records owned by any other name are not about the question and are
 * left alone), and the least TTL of its CNAMEs: the answer holds only as long as each of them does
 * (RFC 1035 §3.2.1).
 */
function followChain(
  message: Message,
  reply: Buffer,
  name: string,
  wanted: number,
): { owner: string; ttl: number } | { code: string } {
  let owner = lowerName(name.endsWith('.') ? name.slice(0, -1) : name);
  let ttl = Number.POSITIVE_INFINITY;
  if (wanted === TYPE_CODES.CNAME) return { owner, ttl };
  const seen = new Set([owner]);
  for (;;) {
    const alias = message.answers.find((r) => r.type === TYPE_CODES.CNAME && r.class === CLASS_IN && r.owner === owner);
    if (alias === undefined) return { owner, ttl };
    const target = readName(reply, alias.start, alias.end);
    if (target === undefined) return { code: 'EBADRESP' };
    owner = lowerName(target);
    if (seen.has(owner)) return { code: 'ECNAMELOOP' };
    seen.add(owner);
    ttl = Math.min(ttl, alias.ttl);
  }
}

/**
 * How long a negative answer may be cached: RFC 2308 §5, the lesser of the SOA's TTL and its MINIMUM (the
 * last field of its RDATA, RFC 1035 §3.3.13), and no longer than the CNAMEs that led to the name. RFC 2308 §5:
 * "negative responses without SOA records SHOULD NOT be cached", nor then with an SOA we cannot read.
 */
function negativeTtl(message: Message, reply: Buffer, chainTtl: number): number {
  let ttl = chainTtl;
  let found = false;
  for (const soa of message.authorities) {
    if (soa.type !== SOA || soa.class !== CLASS_IN) continue;
    const mname = nameAt(reply, soa.start);
    const rname = mname === undefined ? undefined : nameAt(reply, mname.end);
    // MNAME, RNAME, then SERIAL, REFRESH, RETRY, EXPIRE and MINIMUM, 32 bits each, and nothing more.
    if (rname === undefined || rname.end + 20 !== soa.end) return 0;
    // MINIMUM is the negative answer's TTL (RFC 2308 §4), so a TTL's range (RFC 2181 §8) holds for it too.
    ttl = Math.min(ttl, soa.ttl, ttlValue(reply.readUInt32BE(soa.end - 4)));
    found = true;
  }
  return found ? ttl : 0;
}

/** RFC 2181 §8: a TTL is 0 to 2^31 − 1; one received with the most significant bit set is read as 0. */
function ttlValue(raw: number): number {
  return raw > 0x7fffffff ? 0 : raw;
}

/** QNAME, QTYPE and QCLASS IN (RFC 1035 §4.1.2), or undefined for a name c-ares would not send either. */
function encodeQuestion(name: string, type: number): Buffer | undefined {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = bare === '' ? [] : bare.split('.'); // "" is the root
  if (!labels.every((label) => LABEL.test(label))) return undefined;
  const question = Buffer.alloc(bare.length + (bare === '' ? 1 : 2) + 4);
  let at = 0;
  for (const label of labels) {
    question[at++] = label.length;
    at += question.write(label, at, 'ascii');
  }
  question[at++] = 0;
  if (at > 255) return undefined; // RFC 1035 §2.3.4: 255 octets on the wire
  question.writeUInt16BE(type, at);
  question.writeUInt16BE(CLASS_IN, at + 2);
  return question;
}

/**
 * A query with a fresh random ID (RFC 5452 §4.3) and RD set (RFC 1035 §4.1.1). No OPT record, as c-ares
 * sent none: an answer over 512 octets comes over TCP (RFC 1035 §4.2.1) rather than depend on EDNS.
 */
function encodeQuery(question: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(randomInt(0, 0x10000), 0);
  header.writeUInt16BE(RD, 2);
  header.writeUInt16BE(1, 4); // QDCOUNT
  return Buffer.concat([header, question]);
}

/**
 * RFC 5452 §9.1: a reply counts only when it answers our ID and our question, case aside (RFC 4343 §3);
 * the connected socket already drops datagrams from any other address or port. A FORMERR may come without
 * the question, from a server that could not read it.
 */
function acceptable(reply: Buffer, query: Buffer, questionLength: number): boolean {
  if (reply.length < 12 || reply.readUInt16BE(0) !== query.readUInt16BE(0)) return false;
  const flags = reply.readUInt16BE(2);
  if ((flags & QR) === 0 || ((flags >> 11) & 0xf) !== 0) return false; // a response to a standard QUERY
  const count = reply.readUInt16BE(4);
  if (count === 0) return (flags & 0xf) === 1;
  if (count !== 1 || reply.length < 12 + questionLength) return false;
  return sameBytesIgnoringCase(reply, query, 12, 12 + questionLength);
}

/** ASCII letters only (RFC 4343 §3): other bytes are escaped in the presentation form anyway. */
function lowerName(name: string): string {
  return name.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/** The header and the answer and authority records (RFC 1035 §4.1); undefined when the message is malformed. */
function parseMessage(reply: Buffer): Message | undefined {
  if (reply.length < 12) return undefined;
  const flags = reply.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((at) => reply.readUInt16BE(at)) as [number, number, number, number];
  let at = 12;
  for (let i = 0; i < counts[0]; i++) {
    const question = skipName(reply, at);
    if (question === undefined || question + 4 > reply.length) return undefined;
    at = question + 4;
  }
  const sections: RecordAt[][] = [[], [], []];
  for (let section = 0; section < 3; section++) {
    for (let i = 0; i < counts[section + 1]!; i++) {
      const owner = nameAt(reply, at);
      if (owner === undefined || owner.end + 10 > reply.length) return undefined;
      const fixed = owner.end; // TYPE, CLASS, TTL, RDLENGTH (RFC 1035 §4.1.3)
      const length = reply.readUInt16BE(fixed + 8);
      const start = fixed + 10;
      if (start + length > reply.length) return undefined;
      const record = {
        owner: lowerName(owner.name),
        type: reply.readUInt16BE(fixed),
        class: reply.readUInt16BE(fixed + 2),
        ttl: ttlValue(reply.readUInt32BE(fixed + 4)),
        start,
        end: start + length,
      };
      sections[section]!.push(record);
      at = start + length;
    }
  }
  const opt = sections[2]!.find((r) => r.type === OPT);
  // RFC 6891 §6.1.3: EXTENDED-RCODE is the first octet of OPT's TTL field, which lies 6 octets before RDATA.
  const extended = opt === undefined ? 0 : (reply[opt.start - 6] as number);
  return {
    flags,
    rcode: (extended << 4) | (flags & 0xf),
    answers: sections[0]!,
    authorities: sections[1]!,
  };
}

function skipName(message: Buffer, offset: number): number | undefined {
  return nameAt(message, offset)?.end;
}

/**
 * The name at `offset` in presentation form (RFC 1035 §5.1) as c-ares wrote it, and where it ends in place.
 * RFC 1035 §4.1.4: a pointer leads to a prior occurrence; each must lead before the last, so none can loop.
 */
function nameAt(message: Buffer, offset: number): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let end: number | undefined;
  let at = offset;
  let limit = offset;
  let octets = 1;
  for (;;) {
    const length = message[at];
    if (length === undefined) return undefined;
    if (length === 0) return { name: labels.join('.'), end: end ?? at + 1 };
    if ((length & 0xc0) === 0xc0) {
      if (at + 1 >= message.length) return undefined;
      const target = ((length & 0x3f) << 8) | (message[at + 1] as number);
      if (target >= limit) return undefined;
      end ??= at + 2;
      at = target;
      limit = target;
      continue;
    }
    if ((length & 0xc0) !== 0) return undefined; // the other label types (RFC 6891 §5 retired them)
    octets += length + 1;
    if (octets > 255 || at + 1 + length > message.length) return undefined; // RFC 1035 §2.3.4
    labels.push(presentLabel(message.subarray(at + 1, at + 1 + length)));
    at += 1 + length;
  }
}

/**
 * RFC 1035 §5.1, RFC 4343 §2.1: a dot or backslash within a label, and the other characters special in
 * master files, are escaped with a backslash; bytes that do not print (and space) as \DDD. So a label
 * holding "mail.example.com" can never read as three labels.
 */
function presentLabel(bytes: Buffer): string {
  let text = '';
  for (const byte of bytes) {
    if (byte <= 0x20 || byte >= 0x7f) text += `\\${String(byte).padStart(3, '0')}`;
    else if ('."\\;()@$'.includes(String.fromCharCode(byte))) text += `\\${String.fromCharCode(byte)}`;
    else text += String.fromCharCode(byte);
  }
  return text;
}

/** A name in RDATA, which may point back into the message (RFC 1035 §4.1.4) but must end within the record. */
const readName: ReadRecord<string> = (message, start, end) => {
  const name = nameAt(message, start);
  return name !== undefined && name.end === end ? name.name : undefined;
};

/** RFC 1035 §3.4.1. */
const readA: ReadRecord<string> = (message, start, end) =>
  end - start === 4 ? [...message.subarray(start, end)].join('.') : undefined;

/** RFC 3596 §2.2, written as inet_ntop (and so c-ares) writes it. */
const readAaaa: ReadRecord<string> = (message, start, end) =>
  end - start === 16 ? ipv6Text(message.subarray(start, end)) : undefined;

/** RFC 1035 §3.3.9: PREFERENCE, EXCHANGE; the root (a null MX, RFC 7505) is "", as c-ares gave it. */
const readMx: ReadRecord<MxRecord> = (message, start, end) => {
  if (end - start < 3) return undefined;
  const exchange = readName(message, start + 2, end);
  return exchange === undefined ? undefined : { exchange, priority: message.readUInt16BE(start) };
};

/** RFC 1035 §3.3.14: <character-string>s, joined; one character per byte (latin1), as node:dns gave them. */
const readTxt: ReadRecord<string> = (message, start, end) => {
  let text = '';
  let at = start;
  while (at < end) {
    const length = message[at] as number;
    if (at + 1 + length > end) return undefined;
    text += message.toString('latin1', at + 1, at + 1 + length);
    at += 1 + length;
  }
  return text;
};

/** RFC 6698 §2.1: certificate usage, selector, matching type, certificate association data. */
const readTlsa: ReadRecord<TlsaRecord> = (message, start, end) => {
  if (end - start < 3) return undefined;
  return {
    usage: message[start] as number,
    selector: message[start + 1] as number,
    matchingType: message[start + 2] as number,
    data: new Uint8Array(message.subarray(start + 3, end)),
  };
};

/** RFC 8659 §4.1.1: Flags, Tag Length, Tag (at least one octet), Value (the rest; one character a byte). */
const readCaa: ReadRecord<CaaRecord> = (message, start, end) => {
  if (end - start < 3) return undefined;
  const flags = message[start] as number;
  const tagLength = message[start + 1] as number;
  if (tagLength === 0 || start + 2 + tagLength > end) return undefined;
  return {
    critical: (flags & 128) !== 0,
    tag: message.toString('latin1', start + 2, start + 2 + tagLength),
    value: message.toString('latin1', start + 2 + tagLength, end),
  };
};

/**
 * RFC 5952 §4: lower case, no leading zeros, the first longest run of two or more zero groups as "::";
 * and, as inet_ntop writes them, IPv4-compatible and IPv4-mapped addresses with a dotted tail (RFC 4291 §2.5.5).
 */
function ipv6Text(bytes: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(2 * i));
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  if (best === 0 && (bestLength === 6 || (bestLength === 5 && groups[5] === 0xffff))) {
    return `::${bestLength === 5 ? 'ffff:' : ''}${[...bytes.subarray(12)].join('.')}`;
  }
  const hex = groups.map((group) => group.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}
