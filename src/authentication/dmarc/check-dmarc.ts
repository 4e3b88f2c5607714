/**
 * DMARC (RFC 7489, with the RFC 9989 updates named at each line) for one message: the Author Domain
 * (author-domain.ts), policy discovery by the DNS tree walk with `sp`/`np` for subdomains (discovery.ts),
 * t=y. Identifier alignment takes the organizational domain from the Public Suffix List (RFC 7489 §3.2),
 * not from per-identifier tree walks (RFC 9989 §4.10.2), so it needs no DNS and agrees with the verdict's
 * own alignment test (verdict.ts); policy discovery picks its record by the same organizational domain. pct= sampling (RFC 7489 §6.6.4) is kept, though RFC 9989 drops it.
 * Returns a result and a disposition; the reply is the verdict's. Not done here: reports (RFC 7489 §7),
 * local overrides (overrides.ts).
 */

import { asciiName } from '../../dns/a-labels.ts';
import { AnswerCache, lifetimeTracking } from '../../dns/cache.ts';
import type { Resolver } from '../../dns/resolver.ts';
import type { DkimSignatureResult } from '../dkim/dkim-result.ts';
import type { SpfResultCode } from '../spf/check-spf.ts';
import { type AuthorDomain, authorDomain } from './author-domain.ts';
import { type Discovery, discoverPolicy, organizationalDomain } from './discovery.ts';
import type { AlignmentMode, DmarcPolicy, DmarcResult } from './dmarc-result.ts';

export interface DmarcInput {
  /** Addresses of every From field (RFC 5322 §3.6.2). */
  headerFrom: string[];
  fromFields: number;
  spf: { result: SpfResultCode; domain: string };
  dkim: DkimSignatureResult[];
  resolver: Resolver;
  /** For pct= sampling: uniform in [0, 1), as Math.random. */
  random?: () => number;
  /** Policy discovery results to reuse (per Author Domain); none when absent. */
  cache?: DmarcDiscoveryCache;
}

/**
 * Policy discovery per Author Domain, kept for a short time: a busy sender's every message would
 * otherwise walk the same records again. A temporary failure is never kept (src/dns/cache.ts says why).
 * Keyed by the domain authorDomain() found, never by the From text: a crafted From read two ways
 * (`ceo@bank.example@evil.example` is two Author Domains) must not find the other reading's entry.
 */
export class DmarcDiscoveryCache {
  readonly #entries: AnswerCache<Discovery>;

  constructor(ttlMs: number, maxEntries = 10_000) {
    this.#entries = new AnswerCache({ ttlMs, maxEntries });
  }

  /** The discovery kept for `key`, if any: read without a promise, as nearly every message finds one. */
  cached(domain: string): Discovery | undefined {
    return this.#entries.get(domain);
  }

  /** `run` discovers on the resolver it is given, which notes how long each answer it read stays valid. */
  async discover(
    domain: string,
    resolver: Resolver,
    run: (resolver: Resolver) => Promise<Discovery>,
  ): Promise<Discovery> {
    const cached = this.#entries.get(domain);
    if (cached) return cached;
    const tracked = lifetimeTracking(resolver);
    const found = await run(tracked.resolver);
    // Kept: no record, or a record found whose sp/np choice is known. Not kept: a DNS failure. And kept no
    // longer than the shortest TTL of the answers the walk read, a negative one's by its SOA (RFC 1035
    // §3.2.1, RFC 2181 §8, RFC 2308 §5): a policy changed with TTL 10 applies ten seconds later.
    if (found.result === 'none' || (found.result === 'found' && !found.existenceError)) {
      this.#entries.set(domain, found, tracked.lifetimeMs());
    }
    return found;
  }
}

interface Identifiers {
  spf?: string;
  dkim: string[];
  /** The SPF domain when SPF ended in temperror, and the d= of each DKIM signature that did. */
  spfTemperror?: string;
  dkimTemperror: string[];
  /** DKIM passes DMARC does not count, and why (for the reason). */
  ignored: string[];
}

/**
 * RFC 9989 §11.5: evaluating every Author Domain of a crafted From field invites a denial of service, so
 * the number is capped: past it the first ones are checked and the evaluation is incomplete.
 */
const MAX_AUTHOR_DOMAINS = 5;
const STRENGTH: Record<DmarcPolicy, number> = { none: 0, quarantine: 1, reject: 2 };
const WEAKER: Record<DmarcPolicy, DmarcPolicy> = { reject: 'quarantine', quarantine: 'none', none: 'none' };

export async function checkDmarc(input: DmarcInput): Promise<DmarcResult> {
  const random = input.random ?? Math.random;
  try {
    const ids = identifiers(input.spf, input.dkim);
    const { resolver } = input;
    // record.ts parses leniently: a record with "P=reject" or a repeated tag keeps its owner's evident
    // policy instead of being discarded, which would let spoofed mail through as "none".
    // The Author Domain first (no DNS), then its discovery, cached under that domain alone.
    const author = authorDomain(input.headerFrom, input.fromFields);
    if (!author.ok) return await severalAuthors(author, ids, resolver, random);
    const domain = author.authorDomain;
    const discover = (asked: Resolver) => discoverPolicy(domain, asked);
    const found =
      input.cache?.cached(domain) ??
      (input.cache ? await input.cache.discover(domain, resolver, discover) : await discover(resolver));
    return judge(found, ids, random);
  } catch (err) {
    // discovery turns DNS failures into results; reaching here is a bug, and a doubt must become neither
    // pass nor fail (RFC 7489 §6.6.3 defers on a temporary failure).
    return {
      result: 'temperror',
      fromDomain: '',
      disposition: 'none',
      reason: `DMARC evaluation failed: ${String(err)}`,
    };
  }
}

/** RFC 7489 §3.1: the identifiers DMARC may align; §4.1 SPF's MAIL FROM (HELO for the null sender). */
function identifiers(spf: DmarcInput['spf'], dkim: DkimSignatureResult[]): Identifiers {
  const ids: Identifiers = { dkim: [], ignored: [], dkimTemperror: [] };
  if (spf.result === 'pass' && spf.domain) ids.spf = normalize(spf.domain);
  if (spf.result === 'temperror' && spf.domain) ids.spfTemperror = normalize(spf.domain);
  for (const signature of dkim) {
    if (signature.result === 'temperror' && signature.domain) ids.dkimTemperror.push(normalize(signature.domain));
    if (signature.result !== 'pass' || !signature.domain) continue;
    const d = normalize(signature.domain);
    if ((signature.unsignedBodyBytes ?? 0) > 0) {
      // RFC 6376 §8.2: text after l= is unsigned, so anyone may append to a signed message; such a
      // signature does not vouch for what the reader sees.
      ids.ignored.push(`DKIM ${d} leaves ${signature.unsignedBodyBytes} body octets unsigned (l=, RFC 6376 §8.2)`);
    } else if (signature.testing) {
      // RFC 6376 §3.6.1 t=y: "Verifiers MUST NOT treat messages from Signers in testing mode differently
      // from unsigned email".
      ids.ignored.push(`DKIM ${d} key is in testing mode (t=y, RFC 6376 §3.6.1)`);
    } else if (!ids.dkim.includes(d)) {
      ids.dkim.push(d);
    }
  }
  return ids;
}

/** One Author Domain's policy discovery, with our alignment and sampling. */
function judge(found: Discovery, ids: Identifiers, random: () => number): DmarcResult {
  const fromDomain = normalize(found.domain);
  if (found.result === 'none') {
    // RFC 9989 §4.10.1 (as RFC 7489 §6.6.3 step 6): no record, or one without a valid p= and no rua=.
    return { result: 'none', fromDomain, disposition: 'none', reason: `no usable DMARC record for ${fromDomain}` };
  }
  if (found.result === 'invalid') {
    // No name DNS can hold (the resolver refused it): no record can be there, but "no record" would let a
    // From domain written with a stray character escape the policy of the one it imitates. Fail closed,
    // as for a From whose domain cannot be read (RFC 7489 §6.6.1).
    return {
      result: 'permerror',
      fromDomain,
      disposition: 'quarantine',
      reason: `${fromDomain} is not a name DNS can be asked for (${found.error}); handled as a quarantine`,
    };
  }
  if (found.result === 'temperror') {
    // RFC 7489 §6.6.3: a DNS failure finding the record leaves the policy unknown.
    return {
      result: 'temperror',
      fromDomain,
      disposition: 'none',
      reason: `DMARC record lookup for ${fromDomain} failed: ${found.error}`,
    };
  }
  const { record } = found;
  const { adkim, aspf, pct, testing } = record;
  // RFC 9989 §4.10.1: sp= or np= by whether the name exists; when that query failed, the stronger of the
  // two (see undecided below). A pass needs neither.
  const policy = found.existenceError === undefined ? found.policy : stronger(record.sp ?? record.p, record.np);
  const dkim = ids.dkim.find((d) => aligned(d, fromDomain, adkim));
  const spf = ids.spf !== undefined && aligned(ids.spf, fromDomain, aspf) ? ids.spf : undefined;
  const base: Omit<DmarcResult, 'result' | 'disposition' | 'reason'> = {
    fromDomain,
    policyDomain: normalize(found.policyDomain),
    policy,
    p: record.p,
    sp: record.sp ?? record.p, // RFC 7489 §6.3 sp: p when absent
    ...(record.np ? { np: record.np } : {}),
    adkim,
    aspf,
    pct,
    testing,
    alignment: { spf: spf !== undefined, dkim: dkim !== undefined },
    identifiers: { ...(ids.spf ? { spf: ids.spf } : {}), dkim: ids.dkim },
  };
  if (dkim !== undefined || spf !== undefined) {
    // RFC 7489 §4.2: one aligned pass is enough; DKIM is named first as it survives forwarding.
    const [by, domain, mode] =
      dkim !== undefined ? (['dkim', dkim, adkim] as const) : (['spf', spf ?? '', aspf] as const);
    const how = mode === 's' ? 'strict' : 'relaxed';
    const reason = `${by.toUpperCase()} pass for ${domain} aligns with ${fromDomain} (${how})`;
    return { ...base, result: 'pass', alignedBy: by, disposition: 'none', reason };
  }
  const why = failure(ids, fromDomain, adkim, aspf);
  // Sampled once; for an undecided sp/np that is the stronger, whose disposition bounds the weaker's.
  const sampled = sample(policy, testing, pct, random);
  // RFC 9989 §4.10.1: whether sp= or np= applies hangs on a domain existence query that failed. The result
  // is a fail either way; only the policy is unknown. Handled as a fail under the stronger one, so a local
  // override applies as it would to either; the verdict defers only if that would be acted on. When even
  // the stronger acts on nothing (t=y, pct=, sp=none with np=quarantine), no answer changes anything.
  const undecided =
    found.existenceError === undefined || sampled.disposition === 'none'
      ? {}
      : {
          policyInDoubt: `whether ${fromDomain} exists, so whether sp=${record.sp ?? record.p} or np=${record.np} applies, is unknown (${found.existenceError})`,
        };
  const unverified = unverifiedAligned(ids, fromDomain, adkim, aspf);
  if (unverified !== undefined) {
    // RFC 7489 §11.2 temperror, "a later attempt might produce a final result": an identifier that
    // would align could not be checked (RFC 6376 §6.1.2 TEMPFAIL, RFC 7208 §2.6.6 temperror), so
    // this is no pass, and no fail either. The disposition is what a fail would get: the verdict
    // defers only when it would act on one.
    return { ...base, result: 'temperror', unverified, ...undecided, ...sampled, reason: `${why}; ${unverified}` };
  }
  const doubt = found.existenceError === undefined ? '' : `; ${found.existenceError}: taken as the stronger, ${policy}`;
  return { ...base, result: 'fail', ...undecided, ...sampled, reason: `${why}${doubt}` };
}

/** The stronger of sp and np (np absent: sp). */
function stronger(sp: DmarcPolicy, np: DmarcPolicy | undefined): DmarcPolicy {
  return np !== undefined && STRENGTH[np] > STRENGTH[sp] ? np : sp;
}

/** An SPF or DKIM temperror whose domain would align with the From domain (RFC 7489 §3.1), said in words. */
function unverifiedAligned(
  ids: Identifiers,
  fromDomain: string,
  adkim: AlignmentMode,
  aspf: AlignmentMode,
): string | undefined {
  const dkim = ids.dkimTemperror.find((d) => aligned(d, fromDomain, adkim));
  if (dkim !== undefined) return `the DKIM key of ${dkim} could not be fetched (a temporary DNS failure)`;
  if (ids.spfTemperror !== undefined && aligned(ids.spfTemperror, fromDomain, aspf)) {
    return `SPF of ${ids.spfTemperror} could not be evaluated (a temporary DNS failure)`;
  }
  return undefined;
}

/** RFC 7489 §6.6.4 pct=, RFC 9989 §4.7 t=y: a fail left out is handled one level weaker. */
function sample(
  policy: DmarcPolicy,
  testing: boolean,
  pct: number,
  random: () => number,
): { disposition: DmarcPolicy; sampledOut?: boolean } {
  // RFC 9989 §4.7 replaced pct with t (t=y standing for the old pct=0); a record carrying both was
  // written for RFC 9989 readers, so t alone decides and the policy is not weakened twice.
  const selected = testing ? false : pct >= 100 || (pct > 0 && random() * 100 < pct); // RFC 7489 §6.3 pseudocode
  if (selected || policy === 'none') return { disposition: policy };
  return { disposition: WEAKER[policy], sampledOut: true };
}

/** RFC 7489 §3.1.1/§3.1.2: strict is identity; relaxed compares organizational domains (PSL, §3.2). */
export function aligned(identifier: string, fromDomain: string, mode: AlignmentMode): boolean {
  if (!isDomainName(identifier) || !isDomainName(fromDomain)) return false;
  if (mode === 's') return identifier === fromDomain;
  // The organizational domain policy discovery used too: one model for both (discovery.ts).
  return organizationalDomain(identifier) === organizationalDomain(fromDomain);
}

/**
 * RFC 1035 §2.3.4 and §3.1: no empty labels, labels up to 63 octets, names up to 253; and host-name
 * characters (RFC 1123 §2.1, A-labels, plus "_", which DNS holds, RFC 2181 §11). DNS itself takes any
 * octet in a label, but no mail domain is written with "/", "?", "#" or "@", and an identifier made of
 * them (a HELO name, when restrictions let it through) must align with nothing.
 */
function isDomainName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split('.').every((l) => /^[a-z0-9_-]{1,63}$/i.test(l));
}

/** Lower case A-label without the root dot (RFC 4343 §3, RFC 5890 §2.3.2.1), as author-domain.ts gives it. */
export function normalize(domain: string): string {
  const lower = domain.trim().toLowerCase().replace(/\.+$/, '');
  // Label by label: a whole-name conversion read "evil.example/ü.bank.example" as the URL host evil.example.
  return /^[\x21-\x7e]*$/.test(lower) ? lower : (asciiName(lower) ?? lower);
}

function failure(ids: Identifiers, fromDomain: string, adkim: AlignmentMode, aspf: AlignmentMode): string {
  const parts: string[] = [];
  parts.push(ids.spf ? `SPF pass for ${ids.spf} does not align (aspf=${aspf})` : 'no SPF pass');
  parts.push(
    ids.dkim.length > 0 ? `DKIM pass for ${ids.dkim.join(', ')} does not align (adkim=${adkim})` : 'no DKIM pass',
  );
  return `no identifier aligned with ${fromDomain}: ${[...parts, ...ids.ignored].join('; ')}`;
}

/**
 * More than one Author Domain, several From fields, a malformed From or none (RFC 7489 §6.6.1). RFC 9989
 * §5.3.1 exempts such mail from DMARC, but §11.5 warns that attackers add a second domain to escape the
 * policy of the one they spoof; we take RFC 7489 §6.6.1's way: "apply the DMARC check using each of those
 * domains ... and apply the most strict policy selected among the checks that fail". A message that breaks
 * RFC 5322 (several From fields, a mailbox without a domain, a stray special after one) cannot pass:
 * RFC 9989 §4.4, Identifier Alignment "cannot occur with a message that is not valid per [RFC5322]". And
 * where the domain a reader sees cannot be read, or not all domains are checked, it fails closed: handled
 * as a quarantine unless a reject applies (RFC 7489 §6.6.1 leaves such mail to the receiver).
 */
async function severalAuthors(
  author: Extract<AuthorDomain, { ok: false }>,
  ids: Identifiers,
  resolver: Resolver,
  random: () => number,
): Promise<DmarcResult> {
  const { reason, domains, unreadable } = author;
  const malformed = MALFORMED[reason];
  if (domains.length === 0) {
    if (unreadable) {
      // "ceo@bank.example>x", an empty group, an encoded word: a reader may show the domain imitated.
      const closed = `${malformed ?? 'no From domain'}: no Author Domain can be read (RFC 7489 §6.6.1), and the one a reader sees may be the domain imitated; handled as a quarantine`;
      return { result: 'permerror', fromDomain: '', disposition: 'quarantine', reason: closed };
    }
    // No From field at all, which RFC 5322 §3.6 requires: no policy can be checked, and mail programs then
    // show another field (Sender, Reply-To, the envelope) as the author. Handled as a quarantine, as a
    // From whose domain cannot be read is (RFC 7489 §6.6.1 leaves such mail to the receiver).
    return {
      result: 'permerror',
      fromDomain: '',
      disposition: 'quarantine',
      reason: 'no From field (RFC 5322 §3.6 requires one): no Author Domain (RFC 7489 §6.6.1); handled as a quarantine',
    };
  }
  const authorDomains = domains.map(normalize);
  const fromDomain = authorDomains[0] ?? '';
  const checked = authorDomains.slice(0, MAX_AUTHOR_DOMAINS);
  const results = await Promise.all(
    checked.map(async (domain) => judge(await discoverPolicy(domain, resolver), ids, random)),
  );
  const worst = results.reduce((a, b) => (rank(b) > rank(a) ? b : a));
  const over = checked.length < authorDomains.length;
  if (over || unreadable) {
    const what = over
      ? `From names ${authorDomains.length} domains, over the limit of ${MAX_AUTHOR_DOMAINS} (RFC 9989 §11.5): ${checked.join(', ')} checked`
      : `${malformed ?? 'a From mailbox without a usable domain'}: ${checked.join(', ')} checked (RFC 7489 §6.6.1)`;
    // A reject among those checked, or a policy DNS did not give (which may be one), speaks as it would.
    const unknownPolicy = worst.result === 'temperror' && worst.unverified === undefined;
    if (worst.disposition === 'reject' || unknownPolicy) {
      return { ...worst, authorDomains, reason: `${what}; ${worst.fromDomain}: ${worst.reason}` };
    }
    // Otherwise padding the field with throw-away domains (one with p=none failing, say), or hiding the
    // imitated domain in a mailbox that cannot be read, must not escape its policy: such mail is handled
    // as a quarantine fail would be, not accepted as an incomplete evaluation would be.
    const rest = over
      ? `the rest (${authorDomains.slice(MAX_AUTHOR_DOMAINS).join(', ')}) not, and one of them may be the domain imitated`
      : 'the domain a reader sees in the rest cannot be read, and may be the domain imitated';
    return { result: 'permerror', fromDomain, authorDomains, disposition: 'quarantine', reason: `${what}; ${rest}` };
  }
  const what = `${malformed ?? 'several Author Domains'}: ${authorDomains.join(', ')}, each checked (RFC 7489 §6.6.1)`;
  if (malformed && (worst.result === 'pass' || worst.result === 'none')) {
    return { result: 'permerror', fromDomain, authorDomains, disposition: 'none', reason: what };
  }
  return { ...worst, authorDomains, reason: `${what}; ${worst.fromDomain}: ${worst.reason}` };
}

/** The From fields' defects that keep a message from passing, in words; undefined for those that do not. */
const MALFORMED: Record<Extract<AuthorDomain, { ok: false }>['reason'], string | undefined> = {
  'multiple-from-fields': 'several From fields (RFC 5322 §3.6 allows one)',
  'invalid-author-domain': 'a From mailbox without a usable domain',
  'malformed-author-domain': 'a From address with a stray character after its domain (RFC 5322 §3.4.1)',
  'multiple-author-domains': undefined,
  'no-author-domain': undefined,
};

/** Which result speaks for the message: the strictest fail, then doubt, then errors, then none, pass. */
function rank(r: DmarcResult): number {
  switch (r.result) {
    case 'fail':
      // A fail whose sp/np choice is undecided weighs as its stronger policy would, just below a definite
      // fail of it: a known reject is acted on rather than deferred.
      return 10 + STRENGTH[r.policy ?? 'none'] * 3 + STRENGTH[r.disposition] - (r.policyInDoubt ? 0.5 : 0);
    case 'temperror':
      // A fail but for DNS (an aligned identifier unchecked) weighs as that fail would, just below it:
      // a definite fail of the same policy speaks first, and it is not lost under a weaker fail.
      if (r.unverified !== undefined) return 10 + STRENGTH[r.policy ?? 'none'] * 3 + STRENGTH[r.disposition] - 0.5;
      // A policy DNS did not give could be reject: only a definite reject speaks before it, or a second
      // From domain of one's own with p=none would get a forgery of the first accepted.
      return 10 + STRENGTH.reject * 3 - 0.5;
    case 'permerror':
      // A permerror handled as a quarantine (a From domain DNS cannot be asked about) weighs as a
      // quarantine fail would, just below it.
      return r.disposition === 'none' ? 3 : 10 + STRENGTH[r.disposition] * 3 - 0.5;
    case 'none':
      return 2;
    case 'pass':
      return 1;
    default:
      return r.result satisfies never;
  }
}
