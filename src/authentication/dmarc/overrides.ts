/**
 * Local policy overrides of a DMARC fail (RFC 7489 §6.7: the receiver's local policy may differ from the
 * domain owner's; §7.2 and Appendix C name the reason in reports as a PolicyOverrideType). Two:
 * - `local_policy`: the From domain is on the admin's allow-list.
 * - `trusted_forwarder`: a valid ARC chain (RFC 8617 §7.2.1) whose sets from the newest down are sealed by
 *   sealers we trust, one of which recorded on receipt that the message authenticated for its From domain.
 * Only a fail is ever overridden, or a temperror that would be a fail but for an identifier DNS could not
 * check (`unverified`: the override takes away what the verdict would defer for); a fail whose sp/np
 * choice is undecided (`policyInDoubt`) is overridden as a fail under the stronger policy. A temperror of
 * the record itself or a permerror stays the verdict's to handle.
 */

import type { ArcAuthenticationResults, ArcResult } from '../arc/arc-result.ts';
import { aligned, normalize } from './check-dmarc.ts';
import type { DmarcPolicy, DmarcResult } from './dmarc-result.ts';

/** RFC 7489 Appendix C, PolicyOverrideType. */
export type PolicyOverrideType = 'trusted_forwarder' | 'local_policy';

export interface PolicyOverride {
  type: PolicyOverrideType;
  reason: string;
}

export interface OverrideContext {
  arc: ArcResult;
  /** ARC-Seal d= values we trust; an entry also covers its subdomains. */
  trustedArcSealers: string[];
  /** Author (From) domains whose DMARC fail is not acted on; an entry covers its subdomains. */
  allowlist: string[];
}

export function applyOverrides(
  dmarc: DmarcResult,
  context: OverrideContext,
): { disposition: DmarcPolicy; override?: PolicyOverride; pending?: string } {
  const disposition = dmarc.disposition;
  // The record itself not fetched: the worst it could bring is a fail, which the allow-list would not
  // act on either; nothing else can vouch without knowing the record's alignment modes.
  if (dmarc.result === 'temperror' && dmarc.unverified === undefined) {
    const listed = (dmarc.authorDomains?.length ?? 1) > 1 ? undefined : allowListed(dmarc, context.allowlist);
    return listed ? { disposition: 'none', override: { type: 'local_policy', reason: listed } } : { disposition };
  }
  const failing = dmarc.result === 'fail' || dmarc.result === 'temperror';
  if (!failing || disposition === 'none') return { disposition };
  // Several Author Domains (RFC 7489 §6.6.1): each would need its own vouching, and such mail is mostly
  // abuse (RFC 9989 §11.5); the owner's policy stands.
  if ((dmarc.authorDomains?.length ?? 1) > 1) return { disposition };
  const listed = allowListed(dmarc, context.allowlist);
  if (listed) return { disposition: 'none', override: { type: 'local_policy', reason: listed } };
  const forwarded = trustedForwarder(dmarc, context);
  if (forwarded) return { disposition: 'none', override: { type: 'trusted_forwarder', reason: forwarded } };
  // A chain whose newest sealer we trust, failed only for a DNS failure: the override may apply once
  // the key is fetched, so the verdict defers rather than acting on the policy.
  // The sealers are unverified (a spoofer may name a trusted one in a forged seal): only a failed lookup
  // of that sealer's own key, in DNS the spoofer does not run, may hold the verdict.
  const unverified = context.arc.temporary;
  const newest = unverified?.sealers.at(-1);
  const ownKey = (name: string) => newest !== undefined && name.endsWith(`._domainkey.${newest}`);
  if (unverified && newest && trustedSealer(newest, context) && unverified.lookups.some(ownKey)) {
    return {
      disposition,
      pending: `the ARC chain sealed by trusted ${newest} could not be verified (${unverified.reason}): its override may apply`,
    };
  }
  return { disposition };
}

/**
 * The allow-list names author (From) domains whose DMARC failures we record but do not act on (the config's
 * `authentication.allowlist`). Keyed on the From domain, an entry
 * exposes only that domain to spoofing, by the admin's choice. We weighed keying it on the SPF or DKIM
 * domain instead and refused: a listed shared sender (an ESP signing with its own d= for all its
 * customers) would then let any of them pass as any From domain, p=reject banks included.
 */
function allowListed(dmarc: DmarcResult, allowlist: string[]): string | undefined {
  const from = dmarc.fromDomain;
  const entry = from === '' ? undefined : allowlist.map(normalize).find((e) => e !== '' && within(from, e));
  return entry === undefined ? undefined : `${from} is on the local allow-list (${entry})`;
}

/**
 * RFC 8617 §5.2 has us verify only the newest ARC-Message-Signature (step 4; oldest-pass, step 5, is
 * optional and mailauth does not do it), so only the newest sealer vouches for the content we hold. An
 * older set's ARC-Authentication-Results is trusted only when every sealer from it to the newest is
 * trusted: an untrusted later hop could have replaced the message under a replayed older set.
 */
function trustedForwarder(dmarc: DmarcResult, context: OverrideContext): string | undefined {
  const { arc } = context;
  if (arc.result !== 'pass' || !arc.instances) return undefined;
  for (let k = arc.instances.length - 1; k >= 0; k--) {
    const set = arc.instances[k];
    if (!set || !trustedSealer(set.sealer, context)) return undefined;
    const saw = vouches(set.results, dmarc);
    if (saw) return `ARC i=${set.instance} sealed by trusted ${set.sealer} recorded ${saw} (RFC 8617 §7.2.1)`;
  }
  return undefined;
}

/**
 * What a trusted sealer must have recorded for this From domain: dmarc=pass with header.from equal to it,
 * or a DKIM or SPF pass that aligns with it under this record's adkim/aspf (RFC 7489 §3.1), i.e. what
 * would have made DMARC pass here had the message arrived unchanged. A bare "dmarc=pass" without
 * header.from could be about another From domain, so it is not enough.
 */
function vouches(results: ArcAuthenticationResults, dmarc: DmarcResult): string | undefined {
  const from = dmarc.fromDomain;
  if (from === '') return undefined;
  if (
    results.dmarc?.result === 'pass' &&
    results.dmarc.headerFrom !== undefined &&
    normalize(results.dmarc.headerFrom) === from
  ) {
    return `dmarc=pass header.from=${from}`;
  }
  const dkim = results.dkim.find(
    (d) => d.result === 'pass' && d.domain && aligned(normalize(d.domain), from, dmarc.adkim ?? 'r'),
  );
  if (dkim) return `dkim=pass header.d=${dkim.domain}`;
  const spf = results.spf;
  if (spf?.result === 'pass' && spf.domain && aligned(normalize(spf.domain), from, dmarc.aspf ?? 'r')) {
    return `spf=pass smtp.mailfrom=${spf.domain}`;
  }
  return undefined;
}

/** `sealer` is one of authentication.trustedArcSealers, or below one. */
function trustedSealer(sealer: string, context: OverrideContext): boolean {
  return context.trustedArcSealers.map(normalize).some((entry) => entry !== '' && within(sealer, entry));
}

/** `domain` is `entry` or below it (a label boundary, so `badexample.com` is not under `example.com`). */
function within(domain: string, entry: string): boolean {
  return domain === entry || domain.endsWith(`.${entry}`);
}
