/**
 * DNS blocklists (RFC 5782): reject_rbl_client asks an IP-based list about the client's address,
 * reject_rhsbl_sender a domain-based list about the sender's domain. Postfix's syntax: `zone`, or
 * `zone=filter` where the filter is an address whose octets may be `[2..11]` ranges or `[2;4;6]`
 * lists, so only some of a list's codes count. A lookup that fails counts as not listed, with a
 * warning, as in Postfix: a list that does not answer must not hold up all mail. Not done: Postfix's rbl_reply_maps templates and the IPv6-only and whitelist variants.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { reverseName } from '../../dns/reverse-name.ts';
import { reply } from '../../smtp/replies.ts';
import { DUNNO, type PolicyContext, type Restriction, type RuleFactory, type RuleSpec } from '../restriction.ts';
import { asciiDomain } from './domains.ts';

/** One octet's allowed values, as inclusive ranges. */
type OctetPattern = [low: number, high: number][];

interface ListSpec {
  zone: string;
  /** The `=filter` as written, for the label; undefined: any 127.0.0.0/8 answer counts. */
  filterText?: string;
  filter?: OctetPattern[];
}

type Lookup =
  | { listed: true; code: string; text?: string }
  | { listed: false; temporary: false }
  | { listed: false; temporary: true; reason: string };

const ZONE = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
/** The object form's keys besides `rule` and `warnOnly` (registry.ts refuses any other). */
export const DNSBL_OPTIONS: readonly string[] = ['zone', 'match'];
const OPTIONS = new Set(DNSBL_OPTIONS);

function parseSpec(name: string, spec: RuleSpec): ListSpec {
  const example = `${name} zen.example.org`;
  const unknown = Object.keys(spec.options).filter((key) => !OPTIONS.has(key));
  if (unknown.length > 0) throw new Error(`${name}: unknown option ${unknown.join(', ')} (known: zone, match)`);
  if (spec.args.length > 1) throw new Error(`${name} takes one zone, got "${spec.args.join(' ')}": ${example}`);
  const { zone: zoneOption, match } = spec.options;
  if (zoneOption !== undefined && typeof zoneOption !== 'string') throw new Error(`${name}: zone must be a string`);
  if (match !== undefined && typeof match !== 'string') throw new Error(`${name}: match must be a string (127.0.0.2)`);
  const word = spec.args[0];
  if (word !== undefined && zoneOption !== undefined) throw new Error(`${name}: give the zone once, not as both`);
  const written = word ?? zoneOption;
  if (written === undefined || written === '') throw new Error(`${name} needs a zone: ${example}`);
  const eq = written.indexOf('=');
  const zone = (eq < 0 ? written : written.slice(0, eq)).toLowerCase().replace(/\.$/, '');
  const inline = eq < 0 ? undefined : written.slice(eq + 1);
  if (inline !== undefined && match !== undefined) throw new Error(`${name}: give the filter once, not as both`);
  if (!ZONE.test(zone)) throw new Error(`${name}: "${zone}" is not a DNS zone name: ${example}`);
  const filterText = inline ?? match;
  if (filterText === undefined) return { zone };
  const filter = parseFilter(filterText);
  if (!filter) {
    throw new Error(`${name}: bad filter "${filterText}"; write an address, e.g. ${zone}=127.0.0.2 or 127.0.0.[2..11]`);
  }
  return { zone, filterText, filter };
}

/** Postfix's d.d.d.d filter: each d a number or `[` numbers and n..m ranges separated by `;` `]`. */
function parseFilter(text: string): OctetPattern[] | undefined {
  const parts = text.match(/\[[^\]]*\]|[^.]+/g);
  if (parts?.length !== 4 || parts.join('.') !== text) return undefined;
  const octets: OctetPattern[] = [];
  for (const part of parts) {
    const items = part.startsWith('[') ? part.slice(1, -1).split(';') : [part];
    const ranges: OctetPattern = [];
    for (const item of items) {
      const m = /^(\d{1,3})(?:\.\.(\d{1,3}))?$/.exec(item);
      if (!m || (!part.startsWith('[') && m[2] !== undefined)) return undefined;
      const low = Number(m[1]);
      const high = m[2] === undefined ? low : Number(m[2]);
      if (high > 255 || low > high) return undefined;
      ranges.push([low, high]);
    }
    octets.push(ranges);
  }
  return octets;
}

/**
 * RFC 5782 §2.1, §2.3: a listing is an A record holding a code, 127.0.0.2 or another 127.0.0.0/8 value; an
 * address outside 127/8 is a resolver rewriting NXDOMAIN or a broken list, not a listing.
 */
function counts(address: string, filter: OctetPattern[] | undefined): boolean {
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets[0] !== 127) return false;
  if (filter === undefined && isListError(address)) return false;
  return !filter || filter.every((ranges, i) => ranges.some(([low, high]) => octets[i]! >= low && octets[i]! <= high));
}

/**
 * 127.255.255.0/24 answers are the list's errors, not listings: Spamhaus answers 127.255.255.254 to a
 * query through a public resolver, .255 past the free query volume and .252 to a mistyped zone, for
 * every address alike (rspamd ignores them too). So is 127.0.0.1, which RFC 5782 §5 forbids a list to
 * hold (§2.1: listings are 127.0.0.2 and up): URIBL and SURBL answer it to a query they refuse or block
 * (URIBL_BLOCKED), whatever was asked. And 127.0.1.255, Spamhaus DBL's answer to an IP address asked
 * as a domain ("IP queries prohibited"). Counted as listings they would refuse all mail; an admin's
 * explicit filter (`=127.255.255.254`, `=127.0.0.1`) still takes them.
 */
function isListError(address: string): boolean {
  return address.startsWith('127.255.255.') || address === '127.0.0.1' || address === '127.0.1.255';
}

async function query(ctx: PolicyContext, name: string, list: ListSpec): Promise<Lookup> {
  const answer = await ctx.resolver.a(name);
  if (!answer.ok) {
    // RFC 5782 §2.1: NXDOMAIN (or no A record) is "not listed"; a failure is no answer at all.
    return answer.error === 'temperror'
      ? { listed: false, temporary: true, reason: `lookup of ${name} failed: ${answer.reason}` }
      : { listed: false, temporary: false };
  }
  const code = answer.records.find((address) => counts(address, list.filter));
  if (code === undefined) {
    // With a filter that does not name it, the error answer is no listing either: said, not dropped.
    const refusal = answer.records.find(isListError);
    // The list did not answer the question: as with a lookup that failed, not listed, with a warning.
    if (refusal !== undefined)
      return { listed: false, temporary: true, reason: `${list.zone} refused the query for ${name}: ${refusal}` };
    return { listed: false, temporary: false };
  }
  // RFC 5782 §2.1: the TXT record of the same name says why; a list without one still lists.
  const txt = await ctx.resolver.txt(name);
  return { listed: true, code, text: txt.ok ? txt.records[0] : undefined };
}

function factory(
  name: string,
  what: 'Client host' | 'Sender address',
  kind: 'DNSBL' | 'RHSBL',
  subject: (ctx: PolicyContext) => { shown: string; query: string } | undefined,
): RuleFactory {
  return (spec): Restriction => {
    const list = parseSpec(name, spec);
    const label = `${name} ${list.zone}${list.filterText === undefined ? '' : `=${list.filterText}`}`;
    return {
      name,
      label,
      evaluate(ctx) {
        const target = subject(ctx);
        if (!target) return DUNNO;
        const queryName = `${target.query}.${list.zone}`;
        if (queryName.length > 253) return DUNNO; // RFC 1035 §2.3.4: too long to be a name, so listed nowhere
        return query(ctx, queryName, list).then((found) => {
          if (found.listed) {
            const text = `Service unavailable; ${what} [${target.shown}] blocked using ${list.zone}`;
            return {
              action: 'reject',
              reply: reply(554, '5.7.1', found.text ? `${text}; ${found.text}` : text),
              reason: `${target.shown} is listed in ${list.zone} (${found.code})${found.text ? `: ${found.text}` : ''}`,
            };
          }
          if (!found.temporary) return DUNNO;
          // A list that times out or fails is not a listing: Postfix gives the client the benefit of the
          // doubt (smtpd_check.c rbl_pagein), or one unreachable list would defer every message.
          return { action: 'dunno', undecided: `${kind} ${list.zone}: ${found.reason}; taken as not listed` };
        });
      },
    };
  };
}

/** The client's address with its labels reversed: IPv4 by octet, IPv6 by nibble (RFC 5782 §2.1, §2.4). */
function clientQuery(ctx: PolicyContext): { shown: string; query: string } | undefined {
  const ip = ctx.clientAddress;
  if (!isIPv4(ip) && !isIPv6(ip)) return undefined;
  return { shown: ip, query: reverseName(ip).replace(/\.(in-addr|ip6)\.arpa$/, '') };
}

/** The sender's domain (RFC 5782 §2.2), as an A-label; none for the null sender or an address literal. */
function senderQuery(ctx: PolicyContext): { shown: string; query: string } | undefined {
  const sender = ctx.sender;
  if (!sender || sender.domain === '' || sender.domain.startsWith('[')) return undefined;
  const domain = asciiDomain(sender.domain);
  if (domain === undefined) return undefined; // not a valid IDN, so no list can hold it
  return { shown: sender.address, query: domain.replace(/\.$/, '') };
}

export const dnsblRules: Record<string, RuleFactory> = {
  reject_rbl_client: factory('reject_rbl_client', 'Client host', 'DNSBL', clientQuery),
  reject_rhsbl_sender: factory('reject_rhsbl_sender', 'Sender address', 'RHSBL', senderQuery),
};
