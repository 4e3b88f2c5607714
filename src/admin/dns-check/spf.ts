/**
 * SPF (RFC 7208) of the domain: exactly one record (§4.5), small enough for a UDP answer (§3.4), valid
 * syntax in it and in all it includes (§4.6, §5.2, §6.1), within the lookup limits (§4.6.4), ending in
 * -all or ~all, check_host() (§4) passing this server's addresses and not passing an address that cannot
 * be ours, evaluated by the same code that checks incoming mail.
 */

import { parseClientAddress } from '../../authentication/spf/address.ts';
import { checkSpf, type SpfResult } from '../../authentication/spf/check-spf.ts';
import type { Resolver } from '../../dns/resolver.ts';
import { spfRecordFor } from '../dns-records.ts';
import { type CheckContext, sameName, sendingAddresses } from './context.ts';
import { appliedPolicy, discoverDmarc } from './dmarc.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';
import { isSpfRecord, spfSyntaxError, type Unread, walkSpf } from './spf-walk.ts';

const MAX_LOOKUPS = 10; // §4.6.4
const MAX_VOID_LOOKUPS = 2; // §4.6.4
/** §3.4: under this, "the combined length of the DNS name and the text of all the records" fits a UDP answer. */
const MAX_ANSWER_OCTETS = 450;

/**
 * Addresses no one sends mail from (the documentation ranges of RFC 5737 §3 and RFC 3849 / RFC 9637):
 * a record that passes one of them passes strangers. The first whose /24 (/48) holds none of this
 * server's own addresses is used, so a lab that really sends from one of these ranges is not blamed.
 */
const STRANGERS: Record<4 | 6, string[]> = {
  4: ['203.0.113.66', '198.51.100.66', '192.0.2.66'],
  6: ['2001:db8:ffff::1', '3fff:ffff::1'],
};
/** RFC 6761 §6.4: a HELO name no one owns, so no record passes the stranger by its name. */
const STRANGER_HELO = 'stranger.postern.invalid';

export async function checkSpfArea(ctx: CheckContext): Promise<Check[]> {
  const { domain } = ctx;
  let suggestion: Promise<Suggestion> | undefined;
  const suggest = () => {
    suggestion ??= safeSuggestion(ctx);
    return suggestion;
  };
  const txt = await ctx.resolver.txt(domain);
  if (!txt.ok && txt.error === 'temperror') return [couldNotCheck('spf', 'spf.record', `TXT ${domain}`, txt.reason)];
  const records = txt.ok ? txt.records.filter(isSpfRecord) : [];
  if (records.length === 0) {
    const { record, leftOut } = await suggest();
    return [
      fail(
        'spf',
        'spf.record',
        `${domain} has no SPF record`,
        `Publish "${domain}. TXT \\"${record}\\"" so receivers know which hosts send for ${domain}${leftOut}.`,
      ),
    ];
  }
  if (records.length > 1) {
    return [
      fail(
        'spf',
        'spf.record',
        `${domain} has ${records.length} SPF records; receivers treat that as an error (RFC 7208 §4.5: permerror)`,
        `Publish exactly one SPF record; merge ${records.map((r) => `"${r}"`).join(' and ')} into one.`,
      ),
    ];
  }
  const record = records[0] as string;
  // §3.4: the answer to the TXT query carries every TXT record at the name, not only the SPF one.
  const octets = domain.length + (txt.ok ? txt.records.reduce((sum, r) => sum + Buffer.byteLength(r), 0) : 0);
  const checks: Check[] = [
    octets > MAX_ANSWER_OCTETS
      ? warn(
          'spf',
          'spf.record',
          `"${record}": the name and its TXT records take ${octets} octets, over the ${MAX_ANSWER_OCTETS} RFC 7208 §3.4 advises; a longer answer may not fit a UDP datagram, and receivers behind firewalls that stop DNS over TCP ignore the record`,
          `Shorten the SPF record (replace runs of ip4:/ip6: terms by wider ranges, drop unused terms) and remove TXT records at ${domain} that are no longer needed.`,
        )
      : pass('spf', 'spf.record', `"${record}"`),
  ];
  const syntax = spfSyntaxError(record);
  if (syntax) {
    const valid = await suggest();
    checks.push(
      fail(
        'spf',
        'spf.syntax',
        `SPF syntax error: ${syntax}`,
        `Correct the record; a valid one is "${valid.record}" (RFC 7208 §4.6.1 and §5)${valid.leftOut}.`,
      ),
    );
    return checks;
  }
  const walk = await walkSpf(ctx.resolver, domain, record);
  if (walk.problems.length > 0) {
    checks.push(
      fail(
        'spf',
        'spf.syntax',
        `SPF evaluation ends in permerror: ${walk.problems.map((p) => p.text).join('; ')}`,
        [...new Set(walk.problems.map((p) => p.fix))].join(' '),
      ),
    );
  } else if (walk.unread.length > 0) {
    // RFC 7208 §4.4: a record DNS did not give is a temperror, not a pass; its syntax is unknown until it answers.
    const first = walk.unread[0] as Unread;
    const query = walk.unread.map((u) => `TXT ${u.name}`).join(', ');
    checks.push(couldNotCheck('spf', 'spf.syntax', query, first.reason));
  } else if (walk.usesPtr) {
    checks.push(
      warn(
        'spf',
        'spf.syntax',
        'the record uses the ptr mechanism, which RFC 7208 §5.5 says SHOULD NOT be used (slow, unreliable)',
        'Replace ptr with ip4:/ip6: ranges or a/mx terms.',
      ),
    );
  } else {
    checks.push(pass('spf', 'spf.syntax', 'valid syntax, and so are the records it includes'));
  }
  if (walk.temperror !== undefined) {
    checks.push(couldNotCheck('spf', 'spf.lookups', 'the records the SPF record includes', walk.temperror));
  } else if (walk.lookups > MAX_LOOKUPS || walk.voidLookups > MAX_VOID_LOOKUPS) {
    const over = [
      walk.lookups > MAX_LOOKUPS ? `${walk.lookups} DNS lookups (limit ${MAX_LOOKUPS})` : '',
      walk.voidLookups > MAX_VOID_LOOKUPS ? `${voids(walk.voids)} void lookups (limit ${MAX_VOID_LOOKUPS})` : '',
    ].filter(Boolean);
    checks.push(
      fail(
        'spf',
        'spf.lookups',
        `SPF needs ${over.join(' and ')}: receivers stop with permerror (RFC 7208 §4.6.4)`,
        walk.lookups > MAX_LOOKUPS
          ? 'Flatten the record: replace include: terms by the ip4:/ip6: ranges they list, and drop includes of services you no longer use.'
          : "Remove the a:, mx:, include: or exists: terms whose names have no records (exists: looks up A records only, RFC 7208 §5.7; a: the A or AAAA records after the sender's address family, §5.3).",
      ),
    );
  } else {
    checks.push(
      pass(
        'spf',
        'spf.lookups',
        `${walk.lookups} DNS ${walk.lookups === 1 ? 'lookup' : 'lookups'} (limit ${MAX_LOOKUPS}), ${voids(walk.voids)} void (limit ${MAX_VOID_LOOKUPS})`,
      ),
    );
  }
  if (walk.allUnread) {
    // RFC 7208 §6.1: the redirect target's all ends the evaluation; unread, that ending is unknown (§4.4).
    checks.push(couldNotCheck('spf', 'spf.all', `TXT ${walk.allUnread.name}`, walk.allUnread.reason));
  } else {
    const ignored = afterAll(record);
    const dmarc = walk.all === '~' && ignored === undefined ? await dmarcPolicy(ctx) : undefined;
    checks.push(allCheck(walk.all, await suggest(), domain, ignored, dmarc));
  }
  // check_host() on a record already found broken would only repeat the failure above.
  if (checks.some((c) => c.status === 'fail')) return checks;
  // Independent evaluations: a DNS timeout in the records then costs its wait once, not three times.
  const [own, helo, open] = await Promise.all([
    authorizes(ctx, afterAll(record)),
    heloAuthorizes(ctx),
    openCheck(ctx, suggest),
  ]);
  checks.push(...own, ...helo, open);
  return checks;
}

/** Void lookups as receivers count them, per client address family when the two differ (§5.3, §5.7). */
function voids(counts: { ipv4: number; ipv6: number }): string {
  if (counts.ipv4 === counts.ipv6) return String(counts.ipv4);
  return `${Math.max(counts.ipv4, counts.ipv6)} (${counts.ipv4} for IPv4 senders, ${counts.ipv6} for IPv6)`;
}

/**
 * check_host() (§4) for addresses that cannot be this server's: a pass means the record, or something it
 * includes (§5.2 passes what the included record passes), lets anyone send as the domain, whatever its
 * own `all` says: ip4:0.0.0.0/0, or an include whose record ends in +all.
 */
async function openCheck(ctx: CheckContext, suggest: () => Promise<Suggestion>): Promise<Check> {
  const strangers = await strangersFor(ctx);
  const results = await Promise.all(
    strangers.map(
      async (ip): Promise<[string, SpfResult]> => [
        ip,
        await checkSpf({
          ip,
          sender: `postmaster@${ctx.domain}`,
          helo: STRANGER_HELO,
          resolver: ctx.resolver,
          hostname: ctx.config.hostname,
        }),
      ],
    ),
  );
  const open = results.find(([, r]) => r.result === 'pass');
  if (open !== undefined) {
    const [ip, result] = open;
    const term = result.mechanism ?? 'a term';
    const included = /^\+?include:(.*)$/i.exec(term)?.[1];
    const suggested = await suggest();
    const fix =
      included === undefined
        ? `In the SPF record, narrow ${term} to the addresses that send your mail, as in "${suggested.record}"${suggested.leftOut}.`
        : `The SPF record of ${included} passes every address: remove ${term} from the SPF record, or have the owner of ${included} end its record in -all.`;
    return fail(
      'spf',
      'spf.open',
      `SPF passes mail from ${ip}, an address no one sends from (it matched ${term}): any host on the internet may send as ${ctx.domain}`,
      fix,
    );
  }
  const unknown = results.find(([, r]) => r.result === 'temperror');
  if (unknown !== undefined) {
    return couldNotCheck('spf', 'spf.open', `the SPF records of ${ctx.domain}`, unknown[1].reason);
  }
  const said = results.map(([ip, r]) => `${r.result} for ${ip}`).join(', ');
  return pass('spf', 'spf.open', `SPF does not pass strangers (${said})`);
}

/** The STRANGERS check_host() is tried with: one per address family, away from this server's own addresses. */
async function strangersFor(ctx: CheckContext): Promise<string[]> {
  const own = await sendingAddresses(ctx);
  const ours = own.ok ? own.addresses : [];
  return [stranger(4, ours), stranger(6, ours)].filter((ip) => ip !== undefined);
}

/**
 * The record to suggest (`dns records` prints it, spfRecordFor), without the publish.spfInclude mechanisms
 * that pass a stranger on their own (ip4:0.0.0.0/0, an include ending in +all): suggesting them would
 * suggest an open record. `leftOut`: a clause naming them for the fix text, else ''.
 */
interface Suggestion {
  record: string;
  leftOut: string;
}

async function safeSuggestion(ctx: CheckContext): Promise<Suggestion> {
  const suggested = spfRecordFor(ctx.config);
  // §6: modifiers (name=value) match no address; only mechanisms can pass a stranger.
  const mechanisms = ctx.config.publish.spfInclude.filter((t) => !/^[a-z][a-z0-9\-_.]*=/i.test(t));
  if (mechanisms.length === 0) return { record: suggested, leftOut: '' };
  const strangers = await strangersFor(ctx);
  const open = await Promise.all(
    mechanisms.map(async (term) => {
      const results = await Promise.all(
        strangers.map((ip) =>
          checkSpf({
            ip,
            sender: `postmaster@${ctx.domain}`,
            helo: STRANGER_HELO,
            resolver: withRecord(ctx.resolver, ctx.domain, `v=spf1 ${term} -all`),
            hostname: ctx.config.hostname,
          }),
        ),
      );
      return results.some((r) => r.result === 'pass');
    }),
  );
  const leftOut = mechanisms.filter((_, i) => open[i]);
  if (leftOut.length === 0) return { record: suggested, leftOut: '' };
  return {
    record: suggested
      .split(' ')
      .filter((t) => !leftOut.includes(t))
      .join(' '),
    leftOut: ` (left out: ${leftOut.join(' ')} from publish.spfInclude, which ${leftOut.length === 1 ? 'passes' : 'pass'} any address; remove ${leftOut.length === 1 ? 'it' : 'them'} there too, or "postern dns records" prints the open record again)`,
  };
}

/** `resolver`, except that `domain` has `record` as its only TXT record: check_host() of a record not in DNS. */
function withRecord(resolver: Resolver, domain: string, record: string): Resolver {
  return {
    a: (name) => resolver.a(name),
    aaaa: (name) => resolver.aaaa(name),
    mx: (name) => resolver.mx(name),
    txt: (name) => (sameName(name, domain) ? Promise.resolve({ ok: true, records: [record] }) : resolver.txt(name)),
    ptr: (address) => resolver.ptr(address),
    cname: (name) => resolver.cname(name),
    tlsa: (name) => resolver.tlsa(name),
  };
}

/**
 * RFC 7208 §5.1: "Mechanisms after 'all' will never be tested" and MUST be ignored. The record's first all
 * term, the mechanisms written after it, and the record with the all moved after them; undefined when
 * nothing follows the all but modifiers (§6: those may stand anywhere).
 */
interface AfterAll {
  all: string;
  ignored: string[];
  reordered: string;
}

function afterAll(record: string): AfterAll | undefined {
  const terms = record.trim().split(/ +/).slice(1);
  const at = terms.findIndex((t) => /^[+\-~?]?all$/i.test(t));
  if (at < 0) return undefined;
  const modifier = (t: string) => /^[a-z][a-z0-9\-_.]*=/i.test(t);
  const ignored = terms.slice(at + 1).filter((t) => !modifier(t));
  if (ignored.length === 0) return undefined;
  const all = terms[at] as string;
  const mechanisms = terms.filter((t, i) => i !== at && !modifier(t));
  const reordered = ['v=spf1', ...mechanisms, all, ...terms.filter(modifier)].join(' ');
  return { all, ignored, reordered };
}

/** The first of STRANGERS of a family that shares no /24 (IPv4) or /48 (IPv6) with this server's addresses. */
function stranger(family: 4 | 6, ours: string[]): string | undefined {
  const octets = family === 4 ? 3 : 6;
  const net = (ip: string) => {
    const parsed = parseClientAddress(ip);
    return parsed?.family === family ? Buffer.from(parsed.bytes.subarray(0, octets)).toString('hex') : undefined;
  };
  const taken = new Set(ours.map(net));
  return STRANGERS[family].find((ip) => !taken.has(net(ip)));
}

/** A permerror: the evaluator's reason is what to correct (no term is missing, the evaluation stops short). */
function permerrorFix(result: SpfResult): string {
  return `Correct the SPF record of ${result.domain} so that its evaluation no longer stops with "${result.reason}": receivers may treat a permerror as a failure (RFC 7208 §2.6.7).`;
}

/**
 * RFC 7208 §2.3: receivers check the HELO name on its own, and it is the only identity a bounce
 * (empty MAIL FROM) has: the record `dns records` prints for the host must pass this server.
 */
async function heloAuthorizes(ctx: CheckContext): Promise<Check[]> {
  const addresses = await sendingAddresses(ctx);
  if (!addresses.ok) return []; // said by authorizes() and names.address
  const host = ctx.config.hostname;
  const checks: Check[] = [];
  for (const ip of addresses.addresses) {
    const result = await checkSpf({ ip, sender: '', helo: host, resolver: ctx.resolver, hostname: host });
    if (result.result === 'pass') {
      checks.push(pass('spf', 'spf.helo', `SPF of the HELO name ${host} passes ${ip}`, ip));
    } else if (result.result === 'temperror') {
      checks.push(couldNotCheck('spf', 'spf.helo', `the SPF record of ${host}`, result.reason, ip));
    } else {
      const fix =
        result.result === 'none'
          ? `Publish "${host}. TXT \\"v=spf1 a -all\\"": receivers check the HELO name, and bounces have no other identity.`
          : result.result === 'permerror'
            ? permerrorFix(result)
            : `Let the SPF record of ${host} pass ${ip}, e.g. "v=spf1 a -all" when ${host} has that address.`;
      checks.push(
        warn(
          'spf',
          'spf.helo',
          `SPF of the HELO name ${host} gives ${result.result} for ${ip} (RFC 7208 §2.3)`,
          fix,
          ip,
        ),
      );
    }
  }
  return checks;
}

/**
 * The verdict for everyone else: -all (fail) or ~all (softfail) keep strangers out; §8.4, §8.5. +all
 * passes every host (§4.6.2, §5.1): forged mail then passes SPF, and DMARC with it. ?all (neutral, §8.2)
 * gives strangers no pass, only says nothing about them: a warning. ~all under a DMARC policy of
 * quarantine or reject is a choice of its own (RFC 7489 §10.1: a receiver that rejects on an SPF fail
 * before DMARC runs never sees the DKIM pass that would have saved forwarded mail); without one, it is the
 * testing setting `dns records` calls it, and only -all asks receivers to refuse forged mail.
 * `dmarc`: what dmarcPolicy() found, for ~all only.
 */
function allCheck(
  all: string | undefined,
  suggestion: Suggestion,
  domain: string,
  ignored: AfterAll | undefined,
  dmarc?: string,
): Check {
  if (ignored !== undefined && all !== '+') {
    // §5.1: evaluation stops at the all; what follows it is never reached, however the admin meant it.
    return warn(
      'spf',
      'spf.all',
      `${ignored.all} is not the last term: ${ignored.ignored.join(' ')} after it ${ignored.ignored.length === 1 ? 'is' : 'are'} ignored, receivers stop at ${ignored.all} (RFC 7208 §5.1)`,
      `Move ${ignored.all} to the end of the mechanisms: "${ignored.reordered}".`,
    );
  }
  if (all === '-' || (all === '~' && dmarc === undefined)) return pass('spf', 'spf.all', `ends in ${all}all`);
  if (all === '~') {
    return pass(
      'spf',
      'spf.all',
      `ends in ~all (softfail, a testing setting) while ${dmarc}: nothing asks receivers to refuse mail forged as ${domain} (RFC 7208 §8.5); move to -all once your own mail passes SPF`,
    );
  }
  const fix = `End the record in -all (or ~all while testing), as in "${suggestion.record}"${suggestion.leftOut}.`;
  if (all === '+') {
    return fail(
      'spf',
      'spf.all',
      'ends in +all: every host on the internet passes SPF as you, so forged mail passes SPF and DMARC (RFC 7208 §5.1)',
      fix,
    );
  }
  if (all === '?')
    return warn('spf', 'spf.all', 'ends in ?all (neutral): the record says nothing about strangers', fix);
  return warn('spf', 'spf.all', 'has no all term: other hosts get neutral (RFC 7208 §4.7)', fix);
}

/**
 * For ~all: undefined when the DMARC policy that applies (RFC 7489 §6.6.3) is quarantine or reject, or
 * unknown (a DNS error, which the DMARC area reports); else how the domain stands without one.
 */
async function dmarcPolicy(ctx: CheckContext): Promise<string | undefined> {
  const found = await discoverDmarc(ctx);
  if (found.found === 'temperror') return undefined;
  // §6.6.3: several records at the name, or none, and receivers apply no DMARC policy at all.
  if (found.found === 'none' || found.found === 'several') return `${ctx.domain} has no DMARC policy`;
  const policy = appliedPolicy(found);
  if (policy === 'quarantine' || policy === 'reject') return undefined;
  // §6.6.3: a record without a valid p= (and with a valid rua=) is taken as p=none.
  const of = found.found === 'own' ? '' : ` of ${found.org}`;
  if (policy === undefined) return `the DMARC record${of} has no p=, taken as none`;
  const tag = found.found === 'organizational' && found.record.tags.has('sp') ? 'sp' : 'p';
  return found.found === 'own' ? `DMARC is p=${policy}` : `DMARC is ${tag}=${policy} inherited from ${found.org}`;
}

/** `ignored`: what afterAll() found in the domain's record, where adding a term changes nothing. */
async function authorizes(ctx: CheckContext, ignored: AfterAll | undefined): Promise<Check[]> {
  const addresses = await sendingAddresses(ctx);
  if (!addresses.ok) {
    if (addresses.error === 'temperror') {
      return [couldNotCheck('spf', 'spf.authorizes', `A/AAAA ${ctx.config.hostname}`, addresses.reason)];
    }
    return []; // no address to test: names.address says so
  }
  const checks: Check[] = [];
  for (const ip of addresses.addresses) {
    const result = await checkSpf({
      ip,
      sender: `postmaster@${ctx.domain}`,
      helo: ctx.config.hostname,
      resolver: ctx.resolver,
      hostname: ctx.config.hostname,
    });
    if (result.result === 'pass') {
      checks.push(pass('spf', 'spf.authorizes', `SPF passes mail from ${ip} (this server)`, ip));
    } else if (result.result === 'temperror') {
      checks.push(couldNotCheck('spf', 'spf.authorizes', `the SPF records of ${ctx.domain}`, result.reason, ip));
    } else if (result.result === 'permerror') {
      // No term is missing: the evaluation stops before it could match one; adding ip4: would not help.
      checks.push(
        fail(
          'spf',
          'spf.authorizes',
          `SPF gives permerror for mail from ${ip} (this server): ${result.reason}`,
          permerrorFix(result),
          ip,
        ),
      );
    } else {
      checks.push(
        fail(
          'spf',
          'spf.authorizes',
          `SPF gives ${result.result} for mail from ${ip} (this server): receivers may reject it`,
          // §5.1: a term written after the all is never reached; adding another there would not help either.
          ignored !== undefined && sameName(result.domain, ctx.domain)
            ? `Move ${ignored.all} to the end of the SPF record: ${ignored.ignored.join(' ')} after it ${ignored.ignored.length === 1 ? 'is' : 'are'} never evaluated (RFC 7208 §5.1), as in "${ignored.reordered}".`
            : `Add ${ip.includes(':') ? 'ip6' : 'ip4'}:${ip} to the SPF record (or mx, when ${ctx.config.hostname} is the MX host).`,
          ip,
        ),
      );
    }
  }
  return checks;
}
