/**
 * Walks an SPF record and everything it includes or redirects to, as check_host() might (RFC 7208 §4.6),
 * counting what §4.6.4 limits: terms that query DNS (include, a, mx, ptr, exists and redirect; at most 10)
 * and lookups that find nothing (at most 2 "void lookups"). It counts every term a sender could reach, an
 * upper bound of any one evaluation, which is what an admin must keep under the limits. Terms after `all`
 * are never reached (§5.1). Macros (§7) depend on the message, so their targets are counted, not resolved.
 * Void lookups are counted per client address family, as receivers count them: `a` asks for A or AAAA
 * after the client's family (§5.3), `exists` always for A (§5.7), so a name with only AAAA records is void
 * for every `exists` and for IPv4 clients' `a`. Syntax comes from our SPF evaluator's parser
 * (src/authentication/spf/record.ts).
 */

import { parseRecord } from '../../authentication/spf/record.ts';
import type { DnsAnswer, Resolver } from '../../dns/resolver.ts';

export type AllQualifier = '+' | '-' | '~' | '?';

export interface SpfWalk {
  /** DNS-querying terms (§4.6.4: more than 10 is a permerror). */
  lookups: number;
  /** Queries answered with no records or NXDOMAIN (§4.6.4: more than 2 is a permerror): the larger of `voids`. */
  voidLookups: number;
  /** Void lookups for a client of each address family (§5.3: `a` asks for A or AAAA after it). */
  voids: { ipv4: number; ipv6: number };
  /** Errors that make check_host() return permerror, in the record or what it includes. */
  problems: SpfProblem[];
  /** The first lookup that could not be answered; the counts are then incomplete. */
  temperror?: string;
  /**
   * Included or redirected-to records whose TXT lookup was a temperror (§4.4): their syntax, and whatever
   * they include in turn, is unknown.
   */
  unread: Unread[];
  /** The qualifier of the `all` the evaluation ends in, following redirect= (§6.1); undefined: none. */
  all: AllQualifier | undefined;
  /** Set instead of `all` when a redirect= on the way to the final `all` could not be read: the ending is unknown. */
  allUnread?: Unread;
  /** A ptr mechanism somewhere (§5.5: "SHOULD NOT be used"). */
  usesPtr: boolean;
}

/** What makes check_host() end in permerror, and what the admin changes to end that. */
export interface SpfProblem {
  text: string;
  fix: string;
}

/** A record the walk needed but DNS did not give (timeout, SERVFAIL). */
export interface Unread {
  name: string;
  reason: string;
}

/** Where one record's evaluation ends: an all, none (§4.7), or a redirect target that could not be read. */
type Ending = AllQualifier | undefined | Unread;

/** Walking stops past this many lookups: the verdict (over 10) is known and a huge tree costs time. */
const WALK_LIMIT = 30;
/** RFC 7208 §4.6.4: an mx term whose name has more than 10 MX records is a permerror. */
const MAX_MX = 10;

export function isSpfRecord(text: string): boolean {
  return /^v=spf1( |$)/i.test(text); // §4.5
}

/** Syntax of one record's terms (§4.6.1: separated by one or more SP), or the first error. */
export function spfSyntaxError(record: string): string | false {
  if (/[^\x20-\x7e]/.test(record)) return 'characters outside printable US-ASCII (§3)';
  // The evaluator's own parser: what it refuses, check_host() would answer with permerror.
  const parsed = parseRecord(record);
  return parsed.ok ? false : parsed.error;
}

export async function walkSpf(resolver: Resolver, domain: string, record: string): Promise<SpfWalk> {
  const walk: SpfWalk = {
    lookups: 0,
    voidLookups: 0,
    voids: { ipv4: 0, ipv6: 0 },
    problems: [],
    unread: [],
    all: undefined,
    usesPtr: false,
  };
  const ending = await walkRecord(resolver, walk, domain, record, [domain]);
  if (typeof ending === 'object') walk.allUnread = ending;
  else walk.all = ending;
  walk.voidLookups = Math.max(walk.voids.ipv4, walk.voids.ipv6);
  return walk;
}

/**
 * One query's outcome for the counts: a temperror is remembered, an empty answer or NXDOMAIN is a void
 * lookup (§4.6.4) for the client families given. Returns whether records came back.
 */
function counted<T>(walk: SpfWalk, answer: DnsAnswer<T>, families: readonly ('ipv4' | 'ipv6')[]): boolean {
  if (answer.ok && answer.records.length > 0) return true;
  if (!answer.ok && answer.error === 'temperror') walk.temperror ??= answer.reason;
  else for (const family of families) walk.voids[family]++;
  return false;
}

function terms(record: string): string[] {
  return record.trim().split(/ +/).slice(1);
}

async function walkRecord(
  resolver: Resolver,
  walk: SpfWalk,
  domain: string,
  record: string,
  chain: string[],
): Promise<Ending> {
  const syntax = spfSyntaxError(record);
  if (syntax) {
    const parent = chain.at(-2) ?? domain;
    walk.problems.push({
      text: `the SPF record of ${domain}: ${syntax}`,
      fix: `Have the SPF record of ${domain} corrected (its owner's job when ${domain} is not yours), or remove the include/redirect of it from the record of ${parent}.`,
    });
    return undefined;
  }
  let redirect: string | undefined;
  for (const term of terms(record)) {
    if (walk.lookups > WALK_LIMIT) return undefined;
    const modifier = /^([a-z][a-z0-9._-]*)=(.*)$/i.exec(term);
    if (modifier) {
      if (modifier[1]?.toLowerCase() === 'redirect') redirect = modifier[2];
      continue;
    }
    const [, qualifier = '', name = '', rest = ''] = /^([+\-~?]?)([a-z0-9]+)(.*)$/i.exec(term) ?? [];
    const target = (spec: string) => spec.replace(/^:/, '').replace(/\/.*$/, '') || domain;
    switch (name.toLowerCase()) {
      case 'all':
        return (qualifier || '+') as AllQualifier; // §5.1: evaluation ends at all; redirect is then ignored (§6.1)
      case 'include':
        walk.lookups++;
        await follow(resolver, walk, rest.slice(1), chain, 'include');
        break;
      case 'a': {
        walk.lookups++;
        const host = target(rest);
        if (host.includes('%')) break;
        // §5.3: an IPv4 client's receiver asks for A, an IPv6 client's for AAAA; each may be void alone.
        const [a, aaaa] = await Promise.all([resolver.a(host), resolver.aaaa(host)]);
        counted(walk, a, ['ipv4']);
        counted(walk, aaaa, ['ipv6']);
        break;
      }
      case 'exists': {
        walk.lookups++;
        const host = target(rest);
        if (host.includes('%')) break;
        // §5.7: "The lookup type is A even when the connection type is IPv6"; AAAA records do not count.
        counted(walk, await resolver.a(host), ['ipv4', 'ipv6']);
        break;
      }
      case 'mx': {
        walk.lookups++;
        const host = target(rest);
        if (host.includes('%')) break;
        const mx = await resolver.mx(host);
        if (counted(walk, mx, ['ipv4', 'ipv6']) && mx.ok && mx.records.length > MAX_MX) {
          walk.problems.push({
            text: `mx:${host} has ${mx.records.length} MX records, more than ${MAX_MX} (§4.6.4)`,
            fix: `Replace mx:${host} in the record of ${domain} by ip4:/ip6: ranges of the hosts that send, or by a/mx terms naming at most ${MAX_MX} hosts (RFC 7208 §4.6.4).`,
          });
        }
        break;
      }
      case 'ptr':
        walk.lookups++;
        walk.usesPtr = true;
        break;
    }
  }
  if (redirect === undefined) return undefined; // §4.7: no all and no redirect ends in neutral
  walk.lookups++;
  return follow(resolver, walk, redirect, chain, 'redirect');
}

/** include: (§5.2) or redirect= (§6.1): the target must have exactly one SPF record, else permerror. */
async function follow(
  resolver: Resolver,
  walk: SpfWalk,
  target: string,
  chain: string[],
  how: 'include' | 'redirect',
): Promise<Ending> {
  const name = target.replace(/\.$/, '').toLowerCase();
  if (name.includes('%')) return undefined;
  const term = how === 'include' ? `include:${name}` : `redirect=${name}`;
  if (chain.includes(name)) {
    const from = chain.at(-1) as string;
    // Receivers follow the loop until the limit of 10 lookups ends it in permerror (§4.6.4).
    walk.problems.push({
      text: `${term} loops back to ${chain.join(' → ')}`,
      fix: `Remove ${term} from the record of ${from}: ${name} is already being evaluated, so the evaluation never ends and receivers stop it with permerror (RFC 7208 §4.6.4).`,
    });
    return undefined;
  }
  const txt = await resolver.txt(name);
  if (!txt.ok) {
    if (txt.error === 'temperror') {
      walk.temperror ??= txt.reason;
      const unread = { name, reason: txt.reason };
      walk.unread.push(unread);
      // §6.1: the redirect target's record decides how the evaluation ends; §4.4: unknown while DNS fails.
      return how === 'redirect' ? unread : undefined;
    }
    walk.voids.ipv4++;
    walk.voids.ipv6++;
  }
  const records = txt.ok ? txt.records.filter(isSpfRecord) : [];
  if (records.length !== 1) {
    const found = records.length === 0 ? 'no SPF record' : `${records.length} SPF records`;
    const section = how === 'include' ? '5.2' : '6.1';
    walk.problems.push({
      text: `${term}: ${name} has ${found} (permerror, RFC 7208 §${section})`,
      fix: `Remove ${term} from the record of ${chain.at(-1)}, or have ${name} publish exactly one SPF record (RFC 7208 §${section}).`,
    });
    return undefined;
  }
  const all = await walkRecord(resolver, walk, name, records[0] as string, [...chain, name]);
  return how === 'redirect' ? all : undefined; // an included record's all only ends the include (§5.2)
}
