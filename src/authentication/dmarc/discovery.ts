/**
 * DMARC Policy Discovery on our Resolver: the DNS Tree Walk (RFC 9989 §4.10) finds the records, the
 * Organizational Domain is the Public Suffix List's (RFC 7489 §3.2), the one alignment uses
 * (check-dmarc.ts), and which of p, sp, np applies to the Author Domain (RFC 9989 §4.10.1).
 * Alignment, pct and t=y are the caller's.
 */

import { isIP } from 'node:net';
import { getDomain } from 'tldts';
import type { DnsAnswer, Resolver } from '../../dns/resolver.ts';
import type { DmarcPolicy } from './dmarc-result.ts';
import { type DmarcRecord, isDmarcRecord, parseDmarcRecord } from './record.ts';

export type Discovery =
  /** No record applies, or the one that does gets no DMARC processing (RFC 9989 §4.10.1). */
  | { result: 'none'; domain: string }
  /** The walk failed before a policy was known (RFC 7489 §6.6.3: defer). */
  | { result: 'temperror'; domain: string; error: string }
  /**
   * No record found, and the name itself could not be asked about: not a DNS name (an empty label, a
   * label too long, a control character) or one the resolver refuses to send (EBADNAME). That is no
   * "no record": a From domain written so must not escape the policy of the one it imitates.
   */
  | { result: 'invalid'; domain: string; error: string }
  | {
      result: 'found';
      domain: string;
      /** The DMARC Policy Domain (RFC 9989 §3.2.5): where the applied record is published. */
      policyDomain: string;
      record: DmarcRecord & { p: DmarcPolicy };
      /** p for the policy domain itself; sp, or np for a name that does not exist, below it (§4.10.1). */
      policy: DmarcPolicy;
      /** Set when the existence query that chooses between sp and np failed, and they differ. */
      existenceError?: string;
    };

/** RFC 9989 §4.10 step 4: a name of eight or more labels is shortened straight to seven. */
const WALK_MAX_LABELS = 7;
const STRENGTH: Record<DmarcPolicy, number> = { none: 0, quarantine: 1, reject: 2 };

export interface WalkEntry {
  domain: string;
  record: DmarcRecord;
}

/** A temporary DNS failure; the walk stops at it. */
export class DiscoveryError extends Error {}

/** A name that cannot be asked about (see Discovery's `invalid`); the walk goes on to the parents. */
export class UnaskableNameError extends Error {}

/**
 * The record at `_dmarc.<name>`, or undefined; a set of several is discarded (RFC 9989 §4.10 steps 2, 6).
 * Throws DiscoveryError on a temporary failure, UnaskableNameError for a name DNS cannot be asked about.
 */
export async function fetchRecord(name: string, resolver: Resolver): Promise<DmarcRecord | undefined> {
  const query = `_dmarc.${name}`;
  if (!isDomainName(query)) throw new UnaskableNameError(`TXT ${query}: not a domain name (RFC 1035 §2.3.4)`);
  const answer = await resolver.txt(query);
  if (!answer.ok) {
    if (answer.error !== 'temperror') return undefined;
    if (isBadName(answer)) throw new UnaskableNameError(`TXT ${query}: ${answer.reason}`);
    throw new DiscoveryError(`TXT ${query}: ${answer.reason}`);
  }
  const records = answer.records.map((t) => t.trim()).filter(isDmarcRecord);
  return records.length === 1 ? parseDmarcRecord(records[0] ?? '') : undefined;
}

export interface TreeWalk {
  found: WalkEntry[];
  /** The temporary failure that ended the walk, and the name whose record it left unknown. */
  error?: DiscoveryError;
  failedAt?: string;
  unaskable?: string;
}

/**
 * The DNS Tree Walk (RFC 9989 §4.10): the records found, longest name first. It stops at a record with
 * psd=y or psd=n, at a record at a name `decides` accepts, or when no labels are left, so it makes at
 * most eight queries; a temporary failure ends it, and what was found before is returned with the error.
 * `unaskable` says why the first name that could not be asked about was not (a parent may still hold the
 * policy).
 */
export async function treeWalk(
  domain: string,
  resolver: Resolver,
  decides: (name: string) => boolean = () => false,
): Promise<TreeWalk> {
  const found: WalkEntry[] = [];
  let unaskable: string | undefined;
  let labels = domain.split('.');
  while (labels.length > 0) {
    const name = labels.join('.');
    let record: DmarcRecord | undefined;
    try {
      record = await fetchRecord(name, resolver);
    } catch (err) {
      if (err instanceof DiscoveryError) {
        return { found, error: err, failedAt: name, ...(unaskable ? { unaskable } : {}) };
      }
      if (!(err instanceof UnaskableNameError)) throw err;
      unaskable ??= err.message;
    }
    if (record) {
      found.push({ domain: name, record });
      if (record.psd === 'y' || record.psd === 'n') break; // §4.10 step 3
      if (decides(name)) break;
    }
    labels = labels.length > WALK_MAX_LABELS ? labels.slice(-WALK_MAX_LABELS) : labels.slice(1);
  }
  return unaskable ? { found, unaskable } : { found };
}

/**
 * The Organizational Domain (RFC 7489 §3.2): the registrable domain by the Public Suffix List, or the name
 * itself when it is a public suffix. Policy discovery and identifier alignment both use this one, not the
 * tree walk's (RFC 9989 §4.10.2): with two models on one message, a record at a public suffix
 * (`_dmarc.co.uk`) became the policy of bank.co.uk's subdomains while alignment took bank.co.uk as theirs.
 */
export function organizationalDomain(domain: string): string {
  // The name is a domain, not a URL: without extractHostname:false, tldts reads
  // "bank.example/.evil.example" as a URL whose host is bank.example.
  const org = getDomain(domain, { allowPrivateDomains: true, extractHostname: false });
  return org && isDomainName(org) ? org : domain;
}

/**
 * Policy discovery for a normalized Author Domain. Never throws for DNS answers. The record applied is the
 * Author Domain's own, else the Organizational Domain's (RFC 7489 §6.6.3), else one between the two (the
 * registrant's own names, the one with the fewest labels as RFC 9989 §4.10.2 takes it), else that of a
 * Public Suffix Domain above it that says psd=y (RFC 9989 §4.10.1, RFC 9091 §4). A record at or above the
 * public suffix without psd=y is never the policy of a name below a registrable domain.
 */
export async function discoverPolicy(domain: string, resolver: Resolver): Promise<Discovery> {
  if (domain.startsWith('[') || isIP(domain) !== 0) return { result: 'none', domain }; // no DNS name
  const org = organizationalDomain(domain);
  const below = org !== domain && domain.endsWith(`.${org}`);
  // A record at the Author Domain, or at its Organizational Domain, is the one applied whatever is above
  // it (RFC 9989 §4.10.1, and its Note: a PSD policy is not used for an Organizational Domain that has
  // one), and the Organizational Domain is the Public Suffix List's, not the walk's: no name above such a
  // record can change the policy or the alignment, so the walk asks no further.
  const { found, error, failedAt, unaskable } = await treeWalk(
    domain,
    resolver,
    (name) => name === domain || (below && name === org),
  );
  let entry: WalkEntry | undefined;
  if (found[0]?.domain === domain) {
    entry = found[0]; // the Author Domain's own record applies, whatever is above it
  } else {
    entry = below ? found.find((e) => e.domain === org) : undefined;
    // A failure at a name between the Author Domain and the Organizational Domain: a record there would
    // apply only if the Organizational Domain has none (§4.10.1), so that one is still asked for.
    const between = failedAt !== undefined && failedAt !== domain && failedAt.endsWith(`.${org}`);
    if (entry === undefined && below && (between || (error === undefined && !walkAsked(org, found)))) {
      // The walk failed below the Organizational Domain, stopped at a psd= tag below it, or skipped it
      // (§4.10 step 4).
      try {
        const record = await fetchRecord(org, resolver);
        if (record) entry = { domain: org, record };
      } catch (err) {
        if (err instanceof DiscoveryError) return { result: 'temperror', domain, error: err.message };
        if (!(err instanceof UnaskableNameError)) throw err;
      }
    }
    // A failure before the Organizational Domain's record was found leaves the policy unknown; one past
    // it changes nothing, as nothing above it would apply.
    if (entry === undefined && error) return { result: 'temperror', domain, error: error.message };
    if (entry === undefined) {
      // a walk stops only at a psd tag, so a psd=y record is the last found
      const last = found[found.length - 1];
      entry =
        found.filter((e) => e.domain.endsWith(`.${org}`)).at(-1) ??
        (last?.record.psd === 'y' && org.endsWith(`.${last.domain}`) ? last : undefined);
    }
  }
  // A name the resolver would not send is not one without a record: the Author Domain is unusable.
  if (entry === undefined)
    return unaskable ? { result: 'invalid', domain, error: unaskable } : { result: 'none', domain };
  const { record, domain: policyDomain } = entry;
  if (record.p === undefined) return { result: 'none', domain }; // §4.10.1: no DMARC processing
  const applied = { ...record, p: record.p };
  if (policyDomain === domain) return { result: 'found', domain, policyDomain, record: applied, policy: record.p };
  // §4.10.1: below the policy domain, np if the name does not exist, sp if it does, both defaulting to p;
  // existence only matters when np is given.
  const sp = record.sp ?? record.p;
  if (record.np === undefined || record.np === sp) {
    return { result: 'found', domain, policyDomain, record: applied, policy: sp };
  }
  try {
    const policy = (await domainExists(domain, resolver)) ? sp : record.np;
    return { result: 'found', domain, policyDomain, record: applied, policy };
  } catch (err) {
    if (!(err instanceof DiscoveryError)) throw err;
    // Which of the two applies is unknown; the weaker one until the caller decides (a pass needs neither),
    // so nothing takes the domain as more enforcing than it is.
    const policy = STRENGTH[record.np] < STRENGTH[sp] ? record.np : sp;
    return { result: 'found', domain, policyDomain, record: applied, policy, existenceError: err.message };
  }
}

/**
 * RFC 9989 Appendix A.4: any RR makes a name exist, only NXDOMAIN says it does not. A query for A tells them
 * apart (NODATA exists); A follows a CNAME and answers for a missing target with NXDOMAIN (RFC 6604 §3),
 * so after an NXDOMAIN the name's own CNAME is asked for too. Throws DiscoveryError on a temporary failure.
 */
export async function domainExists(domain: string, resolver: Resolver): Promise<boolean> {
  if (!isDomainName(domain)) return false;
  const a = await resolver.a(domain);
  if (a.ok || (!a.ok && a.error === 'nodata')) return true;
  if (isTemporary(a)) throw new DiscoveryError(`A ${domain}: ${a.reason}`);
  if (isBadName(a)) return false;
  const cname = await resolver.cname(domain);
  if (cname.ok) return cname.records.length > 0;
  if (isTemporary(cname)) throw new DiscoveryError(`CNAME ${domain}: ${cname.reason}`);
  return false;
}

/**
 * Whether the walk for a name below `org` asked for `org`: not when a psd= tag below it ended the walk
 * (§4.10 step 3), nor when `org` has more labels than the walk keeps (§4.10 step 4).
 */
function walkAsked(org: string, found: readonly WalkEntry[]): boolean {
  const last = found[found.length - 1];
  if (last && (last.record.psd === 'y' || last.record.psd === 'n') && last.domain.endsWith(`.${org}`)) return false;
  return org.split('.').length <= WALK_MAX_LABELS;
}

/**
 * RFC 1035 §2.3.4: no empty labels, labels up to 63 octets, names up to 253; and no control character or
 * space, which no host name holds (RFC 1123 §2.1) and the resolver answers as absent without asking
 * (src/dns/system-resolver.ts askableName): for the walk that is a name not asked about, not one without
 * a record.
 */
function isDomainName(name: string): boolean {
  if (/[\x00-\x20\x7f]/.test(name)) return false;
  return name.length <= 253 && name.split('.').every((l) => l.length > 0 && l.length <= 63);
}

/**
 * A temporary failure, except a name the resolver refuses to send (EBADNAME, src/dns/resolver.ts): no
 * such name can hold records, so it is not in doubt (and for the walk, not "no record" either).
 */
function isTemporary<T>(answer: DnsAnswer<T>): answer is { ok: false; error: 'temperror'; reason: string } {
  return !answer.ok && answer.error === 'temperror' && !answer.reason.startsWith('EBADNAME');
}

function isBadName<T>(answer: DnsAnswer<T>): boolean {
  return !answer.ok && answer.error === 'temperror' && answer.reason.startsWith('EBADNAME');
}
