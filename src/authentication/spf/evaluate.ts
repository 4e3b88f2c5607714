/**
 * check_host(), RFC 7208 §4, on our Resolver: record selection (§4.5), mechanisms (§5) in order, then
 * redirect= (§6.1), within the processing limits of §4.6.4. Returns a result, never throws for an outcome
 * the RFC names. Not here: syntax (record.ts), macros (macro.ts), the exp= text (explanation.ts).
 */

import type { DnsAnswer, Resolver } from '../../dns/resolver.ts';
import { type ClientAddress, inNetwork, macroIp, parseIp4, parseIp6 } from './address.ts';
import { explain } from './explanation.ts';
import { expandMacro, type MacroLetter, type MacroToken, type MacroValues, usesLetter } from './macro.ts';
import { isSpfRecord, type Mechanism, parseRecord, type Qualifier } from './record.ts';

export type SpfResultCode = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror'; // §2.6

export interface HostResult {
  result: SpfResultCode;
  mechanism?: string;
  explanation?: string;
  reason: string;
}

/** One check_host() run and its nested include/redirect calls, which share the limits (§4.6.4). */
export interface Evaluation {
  client: ClientAddress;
  /** <sender> as given to check_host(): local-part@domain (§4.3 supplies "postmaster"). */
  sender: string;
  helo: string;
  hostname: string;
  resolver: Resolver;
  /** Mechanisms and modifiers that query DNS, at most 10 (§4.6.4). */
  lookups: number;
  /** Queries that gave NXDOMAIN or no answers, at most 2 (§4.6.4). */
  voidLookups: number;
  /** %{p}, computed on first use (§7.3). */
  validatedName?: string;
  /** Date.now() past which no DNS query is sent and the result is temperror (§4.6.4). */
  deadline: number;
  /** The time limit the deadline came from, for the reason. */
  timeLimitMs: number;
  /**
   * Set when a macro used the sender's address, local part or HELO, or the time (§7.3): the result,
   * or its explanation, holds for this check only.
   */
  senderSpecific: boolean;
}

/** §4.6.4: "SHOULD impose a limit on the maximum amount of elapsed time … at least 20 seconds". */
export const DEFAULT_TIME_LIMIT_MS = 20_000;

const MAX_LOOKUPS = 10; // §4.6.4
const MAX_VOID_LOOKUPS = 2; // §4.6.4
const MAX_NAMES = 10; // §4.6.4: MX and PTR records looked at

const RESULT: Record<Qualifier, SpfResultCode> = { '+': 'pass', '-': 'fail', '~': 'softfail', '?': 'neutral' }; // §4.6.2

/** A result that ends evaluation from inside a mechanism (§4.6.4 limits, §5 DNS errors). */
class Abort {
  readonly result: 'permerror' | 'temperror';
  readonly reason: string;
  constructor(result: 'permerror' | 'temperror', reason: string) {
    this.result = result;
    this.reason = reason;
  }
}

export async function checkHost(domain: string, ev: Evaluation): Promise<HostResult> {
  // §4.3: a malformed or single-label <domain> gives "none" at once
  if (!isQueryable(domain) || !domain.includes('.'))
    return { result: 'none', reason: `${domain} is not a domain name` };
  try {
    const txt = await ask(ev, (resolver) => resolver.txt(domain));
    if (!txt.ok) {
      // §4.4: a DNS error other than NXDOMAIN is temperror; NXDOMAIN or no TXT is "none" (§4.3, §4.5)
      if (txt.error === 'temperror' && !unqueryable(txt.reason)) return { result: 'temperror', reason: txt.reason };
      return { result: 'none', reason: `no SPF record at ${domain}` };
    }
    const records = txt.records.filter(isSpfRecord);
    if (records.length === 0) return { result: 'none', reason: `no SPF record at ${domain}` }; // §4.5
    if (records.length > 1) return { result: 'permerror', reason: `several SPF records at ${domain}` }; // §4.5
    const parsed = parseRecord(records[0] as string);
    if (!parsed.ok) return { result: 'permerror', reason: parsed.error }; // §4.6
    const { record } = parsed;
    for (const mechanism of record.mechanisms) {
      if (await matches(mechanism, domain, ev)) {
        const result = RESULT[mechanism.qualifier];
        const out: HostResult = { result, mechanism: mechanism.text, reason: `matched ${mechanism.text}` };
        if (result === 'fail' && record.exp !== undefined) {
          // §6.2: exp= only on fail, from the record that produced it; the result is known by then, so
          // running out of time (§4.6.4) costs only the explanation
          const explanation = await explain(
            record.exp,
            (name) => ask(ev, (resolver) => resolver.txt(name)),
            (tokens) => values(domain, ev, tokens),
          ).catch((err: unknown) => {
            if (err instanceof Abort) return undefined;
            throw err;
          });
          if (explanation !== undefined) out.explanation = explanation;
        }
        return out;
      }
    }
    if (record.redirect === undefined) return { result: 'neutral', reason: `${domain}: no mechanism matched` }; // §4.7
    // §6.1: redirect= counts against the limit; its result is the result, but "none" is a permerror
    count(ev);
    const target = await targetName(record.redirect, domain, ev);
    const redirected = await checkHost(target ?? '', ev);
    if (redirected.result === 'none')
      return { result: 'permerror', reason: `redirect=${target}: ${redirected.reason}` };
    return redirected;
  } catch (err) {
    if (err instanceof Abort) return { result: err.result, reason: err.reason };
    throw err;
  }
}

async function matches(m: Mechanism, domain: string, ev: Evaluation): Promise<boolean> {
  switch (m.kind) {
    case 'all': // §5.1
      return true;
    case 'ip4': // §5.6
    case 'ip6':
      return (m.kind === 'ip4') === (ev.client.family === 4) && inNetwork(ev.client.bytes, m.network, m.prefix);
    case 'include': {
      // §5.2: only pass matches; temperror stays temperror; permerror and none become permerror
      count(ev);
      const target = await targetName(m.domain, domain, ev);
      const inner = await checkHost(target ?? '', ev);
      switch (inner.result) {
        case 'pass':
          return true;
        case 'fail':
        case 'softfail':
        case 'neutral':
          return false;
        case 'temperror':
          throw new Abort('temperror', `include:${target}: ${inner.reason}`);
        case 'permerror':
        case 'none':
          throw new Abort('permerror', `include:${target}: ${inner.reason}`);
        default:
          return inner.result satisfies never;
      }
    }
    case 'a': {
      // §5.3: the A or AAAA records of the target, whichever the client's family is
      count(ev);
      const target = m.domain === undefined ? domain : await targetName(m.domain, domain, ev);
      if (target === undefined) return false;
      return inAddresses(await addresses(target, ev, true), m, ev);
    }
    case 'mx': {
      // §5.4: each MX host's addresses; more than 10 MX records is a permerror (§4.6.4)
      count(ev);
      const target = m.domain === undefined ? domain : await targetName(m.domain, domain, ev);
      if (target === undefined) return false;
      const mx = answer(await ask(ev, (resolver) => resolver.mx(target)), ev, true);
      if (mx.length > MAX_NAMES) throw new Abort('permerror', `mx:${target} has more than ${MAX_NAMES} MX records`);
      for (const { exchange } of mx) {
        if (exchange === '' || exchange === '.') continue; // RFC 7505 null MX
        if (inAddresses(await addresses(exchange, ev, false), m, ev)) return true;
      }
      return false;
    }
    case 'ptr': {
      // §5.5: a validated reverse name equal to or under the target
      count(ev);
      const target = m.domain === undefined ? domain : await targetName(m.domain, domain, ev);
      if (target === undefined) return false;
      const names = await validatedNames(ev, true);
      const want = target.toLowerCase();
      return names.some((n) => n === want || n.endsWith(`.${want}`));
    }
    case 'exists': {
      // §5.7: any A record matches, whatever the client's family
      count(ev);
      const target = await targetName(m.domain, domain, ev);
      if (target === undefined) return false;
      return answer(await lookupA(target, ev, 4), ev, true).length > 0;
    }
    default:
      return m satisfies never;
  }
}

function count(ev: Evaluation): void {
  ev.lookups++;
  if (ev.lookups > MAX_LOOKUPS) throw new Abort('permerror', `more than ${MAX_LOOKUPS} DNS lookups (RFC 7208 §4.6.4)`);
}

/**
 * Records of an answer. §5: a DNS error other than NXDOMAIN is temperror; NXDOMAIN or no answers is a
 * void lookup when `counted`, and a third one is a permerror (§4.6.4).
 */
function answer<T>(a: DnsAnswer<T>, ev: Evaluation, counted: boolean): T[] {
  if (a.ok && a.records.length > 0) return a.records;
  if (!a.ok && a.error === 'temperror' && !unqueryable(a.reason)) throw new Abort('temperror', a.reason);
  if (counted && ++ev.voidLookups > MAX_VOID_LOOKUPS) {
    throw new Abort('permerror', `more than ${MAX_VOID_LOOKUPS} void lookups (RFC 7208 §4.6.4)`);
  }
  return [];
}

function inAddresses(list: Uint8Array[], m: { cidr4: number; cidr6: number }, ev: Evaluation): boolean {
  const prefix = ev.client.family === 4 ? m.cidr4 : m.cidr6; // §5.6 dual-cidr-length
  return list.some((a) => inNetwork(ev.client.bytes, a, prefix));
}

async function addresses(name: string, ev: Evaluation, counted: boolean): Promise<Uint8Array[]> {
  if (!isQueryable(name)) return [];
  const records = answer(await lookupA(name, ev, ev.client.family), ev, counted);
  const parse = ev.client.family === 4 ? parseIp4 : parseIp6;
  return records.map(parse).filter((a) => a !== undefined);
}

function lookupA(name: string, ev: Evaluation, family: 4 | 6): Promise<DnsAnswer<string>> {
  if (!isQueryable(name)) return Promise.resolve({ ok: false, error: 'nxdomain' });
  return ask(ev, (resolver) => (family === 4 ? resolver.a(name) : resolver.aaaa(name)));
}

/**
 * Every DNS query of the evaluation goes through here. §4.6.4: "SHOULD impose a limit on the maximum
 * amount of elapsed time to evaluate check_host() … the result … SHOULD be temperror". Without it, ten
 * ptr mechanisms whose names' lookups time out one by one hold the session for minutes.
 */
async function ask<T>(ev: Evaluation, query: (resolver: Resolver) => Promise<DnsAnswer<T>>): Promise<DnsAnswer<T>> {
  const left = ev.deadline - Date.now();
  if (left <= 0) throw outOfTime(ev);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(outOfTime(ev)), left);
  });
  try {
    return await Promise.race([query(ev.resolver), expired]);
  } finally {
    clearTimeout(timer);
  }
}

function outOfTime(ev: Evaluation): Abort {
  return new Abort('temperror', `SPF evaluation took longer than ${ev.timeLimitMs / 1000} s (RFC 7208 §4.6.4)`);
}

/**
 * §5.5: PTR names whose A/AAAA records include the client address, at most 10 PTR names looked at
 * (§4.6.4). Any DNS error means no match (§5.5: "fails to match"; a name whose lookup fails is skipped).
 */
async function validatedNames(ev: Evaluation, counted: boolean): Promise<string[]> {
  const ptr = await ask(ev, (resolver) => resolver.ptr(ev.client.text));
  if (!ptr.ok || ptr.records.length === 0) {
    // a PTR lookup with no answer is a void lookup for the ptr mechanism (§4.6.4); an error, no match (§5.5)
    const empty = ptr.ok || ptr.error !== 'temperror';
    if (counted && empty && ++ev.voidLookups > MAX_VOID_LOOKUPS) {
      throw new Abort('permerror', `more than ${MAX_VOID_LOOKUPS} void lookups (RFC 7208 §4.6.4)`);
    }
    return [];
  }
  const out: string[] = [];
  for (const raw of ptr.records.slice(0, MAX_NAMES)) {
    const name = raw.replace(/\.$/, '').toLowerCase();
    if (!isQueryable(name)) continue;
    const a = await lookupA(name, ev, ev.client.family);
    if (!a.ok) continue;
    const parse = ev.client.family === 4 ? parseIp4 : parseIp6;
    const bits = ev.client.family === 4 ? 32 : 128;
    if (a.records.some((r) => inNetwork(ev.client.bytes, parse(r) ?? new Uint8Array(), bits))) out.push(name);
  }
  return out;
}

/**
 * A mechanism's or modifier's target-name (§4.8): the domain-spec expanded (§7), its trailing dot
 * dropped and, over 253 octets, left-hand labels dropped (§7.3). undefined when no query can be made for
 * it (an empty or over-long label): the suite lets that be "no match" (§4.3 by analogy; §4.8 leaves it open).
 */
async function targetName(spec: MacroToken[], domain: string, ev: Evaluation): Promise<string | undefined> {
  let name = expandMacro(spec, await values(domain, ev, spec)).replace(/\.$/, '');
  while (name.length > 253 && name.includes('.')) name = name.slice(name.indexOf('.') + 1);
  return isQueryable(name) ? name : undefined;
}

const SENDER_LETTERS: readonly MacroLetter[] = ['s', 'l', 'h', 't'];

/** The macro values for the current <domain> (§7.3); %{p} only if the tokens use it. */
export async function values(domain: string, ev: Evaluation, tokens: MacroToken[]): Promise<MacroValues> {
  const at = ev.sender.lastIndexOf('@');
  // the result cache holds a result for an (IP, domain): these letters make it this sender's own
  if (SENDER_LETTERS.some((letter) => usesLetter(tokens, letter))) ev.senderSpecific = true;
  let p = 'unknown';
  if (usesLetter(tokens, 'p')) {
    if (ev.validatedName === undefined) {
      // §7.3: prefer a validated name equal to or under <domain>, else any validated name, else "unknown"
      const names = await validatedNames(ev, false);
      const d = domain.toLowerCase();
      ev.validatedName = names.find((n) => n === d || n.endsWith(`.${d}`)) ?? names[0] ?? 'unknown';
    }
    p = ev.validatedName;
  }
  return {
    s: ev.sender,
    l: ev.sender.slice(0, at),
    o: ev.sender.slice(at + 1),
    d: domain,
    i: macroIp(ev.client),
    p,
    v: ev.client.family === 4 ? 'in-addr' : 'ip6',
    h: ev.helo,
    c: ev.client.text,
    r: ev.hostname,
    t: String(Math.floor(Date.now() / 1000)),
  };
}

/** RFC 1035 §2.3.4: labels of 1 to 63 octets, 253 in all (a trailing dot allowed). */
function isQueryable(name: string): boolean {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  if (bare === '' || bare.length > 253) return false;
  for (const label of bare.split('.')) if (label.length === 0 || label.length > 63) return false;
  return true;
}

/** The resolver, as c-ares did, refuses to send some names ('%', ':' or a space in them): no such name can hold records. */
function unqueryable(reason: string): boolean {
  return reason.startsWith('EBADNAME');
}
