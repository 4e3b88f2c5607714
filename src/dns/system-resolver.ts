/**
 * The production Resolver, on node:dns/promises (c-ares) with a configurable server list, timeout and
 * retry count, plus a short answer cache. Turns every outcome into a DnsAnswer value: the one rule that
 * matters to callers is that a timeout or server failure is `temperror`, never "no record"
 * (RFC 7208 §4.4, RFC 7489 §6.6.3). No DNSSEC validation: c-ares does not do it.
 */

import { Resolver as NodeResolver } from 'node:dns/promises';
import { asciiName } from './a-labels.ts';
import { AnswerCache } from './cache.ts';
import type { DnsAnswer, MxRecord, Resolver, TlsaRecord } from './resolver.ts';
import { reverseName } from './reverse-name.ts';

export interface ResolverOptions {
  /** `host`, `host:port` or `[v6]:port`; empty means the system's resolv.conf servers. */
  servers: string[];
  /** Per-try timeout in milliseconds. */
  timeoutMs: number;
  /** Tries per server before giving up. */
  tries: number;
  /** How long an answer (positive or negative) is reused; 0 disables the cache. Default 10 s. */
  cacheTtlMs?: number;
  /** Default 10,000; the oldest entry goes first. */
  cacheMaxEntries?: number;
  /** What the cached answers may weigh together, about their bytes; default 16 MB. */
  cacheMaxBytes?: number;
  /** Clock for the cache, injectable for tests. */
  now?: () => number;
  /**
   * Told when the DNS servers themselves stop answering (several look-ups in a row refused or timed
   * out, none answered between) and when they answer again; one domain's SERVFAIL is not that.
   */
  health?: { failed(reason: string): void; succeeded(): void };
}

/** Look-ups in a row that the servers refused or let time out before they count as down. */
const FAILURES_FOR_OUTAGE = 5;

type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CNAME' | 'TLSA';

/** Characters no name we ask for may hold: C0 controls (NUL above all), space and DEL. */
const UNASKABLE = /[\x00-\x20\x7f]/;

export function createResolver(options: ResolverOptions): Resolver {
  const node = new NodeResolver({ timeout: options.timeoutMs, tries: options.tries });
  if (options.servers.length > 0) node.setServers(options.servers);
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
  /** Whether the servers answered (any answer: "no such name" and one domain's SERVFAIL too), or not at all. */
  const observe = (answer: DnsAnswer<unknown>) => {
    if (!options.health) return;
    const reason = !answer.ok && answer.error === 'temperror' ? answer.reason : '';
    if (!/^(ECONNREFUSED|ETIMEOUT)\b/.test(reason)) {
      failuresInARow = 0;
      options.health.succeeded();
    } else if (++failuresInARow >= FAILURES_FOR_OUTAGE) {
      const servers = options.servers.length > 0 ? options.servers.join(', ') : 'of /etc/resolv.conf';
      options.health.failed(`the DNS servers ${servers} do not answer (${reason})`);
    }
  };

  /**
   * The query is given the name as converted, never the caller's: the cache key and the name on the
   * wire must be one string, or an answer about one name is kept as another's (RFC 1035 §7.4).
   */
  function lookup<T>(type: RecordType, name: string, query: (asked: string) => Promise<T[]>): Promise<DnsAnswer<T>> {
    const asked = askableName(name);
    if (asked === undefined) return Promise.resolve({ ok: false, error: 'nxdomain' });
    name = asked;
    const key = `${type} ${name.toLowerCase().replace(/\.$/, '')}`; // names are case-insensitive (RFC 4343 §3)
    const cached = cache.get(key) as DnsAnswer<T> | undefined;
    if (cached !== undefined) return Promise.resolve(cached);
    const running = inflight.get(key) as Promise<DnsAnswer<T>> | undefined;
    if (running !== undefined) return running;
    const started = ask(type, name, () => query(asked)).then((answer) => {
      inflight.delete(key);
      observe(answer);
      if (answer.ok || answer.error !== 'temperror') cache.set(key, answer); // never cache a temporary failure
      return answer;
    });
    inflight.set(key, started);
    return started;
  }

  return {
    a: (name) => lookup('A', name, (asked) => node.resolve4(asked)),
    aaaa: (name) => lookup('AAAA', name, (asked) => node.resolve6(asked)),
    mx: (name) =>
      lookup('MX', name, async (asked): Promise<MxRecord[]> => {
        const records = await node.resolveMx(asked);
        return records.map((r) => ({ exchange: r.exchange, priority: r.priority }));
      }),
    // A TXT record is a list of strings read as one (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
    txt: (name) =>
      lookup('TXT', name, async (asked) => (await node.resolveTxt(asked)).map((chunks) => chunks.join(''))),
    ptr: (address) => {
      // resolvePtr on the arpa name rather than reverse(): it keeps NXDOMAIN and NODATA apart.
      const arpa = reverseName(address);
      return lookup('PTR', arpa, (asked) => node.resolvePtr(asked));
    },
    cname: (name) => lookup('CNAME', name, (asked) => node.resolveCname(asked)),
    tlsa: (name) =>
      lookup('TLSA', name, async (asked): Promise<TlsaRecord[]> => {
        // RFC 6698 §2.1; node names the fields certUsage / selector / match and gives data as an ArrayBuffer.
        const records = await node.resolveTlsa(asked);
        return records.map((r) => ({
          usage: r.certUsage,
          selector: r.selector,
          matchingType: r.match,
          data: new Uint8Array(r.data),
        }));
      }),
  };
}

/**
 * The name as it goes to c-ares, or undefined for one no DNS server can hold: so it is never asked,
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

async function ask<T>(type: RecordType, name: string, query: () => Promise<T[]>): Promise<DnsAnswer<T>> {
  try {
    const records = await query();
    // An empty success should not happen with c-ares, but it means the same as NODATA (RFC 2308 §2.2).
    return records.length > 0 ? { ok: true, records } : { ok: false, error: 'nodata' };
  } catch (err) {
    return fromError(err, type, name);
  }
}

/** c-ares error codes to DnsAnswer; anything unrecognized is temporary, so a doubt never becomes a "no". */
export function fromError<T>(err: unknown, type: string, name: string): DnsAnswer<T> {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOTFOUND': // RCODE 3, NXDOMAIN (RFC 2308 §2.1)
      return { ok: false, error: 'nxdomain' };
    case 'ENODATA': // NOERROR with no records of the type (RFC 2308 §2.2)
      return { ok: false, error: 'nodata' };
    default: // ETIMEOUT, ESERVFAIL, ECONNREFUSED, EREFUSED, EBADRESP, ECANCELLED, …
      return { ok: false, error: 'temperror', reason: `${code ?? String(err)} looking up ${type} ${name}` };
  }
}
