/**
 * What the authentication results mean for the message: accept, deliver to Junk, reject or defer.
 * The sender's published policy decides (RFC 7489 §6.6.2 step 6, §10.1); SPF alone only when the
 * admin chose `spf.onFail: reject`, and that is answered at MAIL FROM (authenticate.ts).
 * A DNS failure defers only when it could have changed the decision (ARCHITECTURE.md principle 6).
 */

import { type Reply, reply } from '../smtp/replies.ts';
import { aligned, normalize } from './dmarc/check-dmarc.ts';
import type { DkimSignatureResult, DmarcPolicy, DmarcResult, SpfResult } from './results.ts';

export type AuthenticationAction = 'accept' | 'junk' | 'reject' | 'tempfail';

export interface AuthenticationVerdict {
  action: AuthenticationAction;
  /** The SMTP reply for reject and tempfail. */
  reply?: Reply;
  reason: string;
}

export interface VerdictInput {
  spf: SpfResult | undefined;
  dkim: readonly DkimSignatureResult[];
  dmarc: DmarcResult;
  /** The disposition after local overrides (trusted ARC sealers, allow-list). */
  disposition: DmarcPolicy;
  /** false: record only (authentication.dmarc.enforce). */
  enforce: boolean;
  /** A local override that a DNS failure kept from being decided (a trusted sealer's ARC key lookup). */
  pendingOverride?: string;
  /** The local override applied (overrides.ts), if any. */
  override?: 'trusted_forwarder' | 'local_policy';
}

export function decide(input: VerdictInput): AuthenticationVerdict {
  const { dmarc, enforce } = input;
  if (!enforce) return { action: 'accept', reason: 'DMARC not enforced (authentication.dmarc.enforce: false)' };
  if (dmarc.result === 'temperror' && dmarc.unverified !== undefined) {
    // The policy is known and only an aligned identifier is in doubt. With a disposition of none
    // (p=none, pct= or t=y, a local override) no answer could change what is done: accepted, the
    // temperror recorded (ARCHITECTURE.md principle 6). Otherwise deferred: the retry may pass.
    if (input.disposition === 'none') {
      return { action: 'accept', reason: `dmarc=temperror (${dmarc.unverified}); the policy acts on nothing` };
    }
    if (input.pendingOverride) return tempfail('4.7.0', input.pendingOverride);
    const doubt = alignedTemporaryError(input);
    return tempfail(doubt?.enhanced ?? '4.7.0', doubt?.reason ?? dmarc.unverified);
  }
  if (dmarc.result === 'temperror') {
    // A pass for the From domain itself aligns in strict and relaxed mode alike: DMARC would pass
    // whatever record the lookup brings, so there is nothing to wait for (ARCHITECTURE.md principle 6).
    const own = passForAuthorDomain(input);
    if (own) return { action: 'accept', reason: `dmarc=temperror, but ${own}: DMARC passes under any record` };
    // An allow-listed author domain: no record could bring more than a fail, which is not acted on.
    if (input.override === 'local_policy') {
      return { action: 'accept', reason: `dmarc=temperror for ${dmarc.fromDomain}, on the local allow-list` };
    }
    // RFC 7489 §6.6.3 / RFC 9989 §4.10: without the record the policy is unknown; retrying later is
    // the only way to neither let a reject policy slip nor refuse a domain that has none.
    return tempfail('4.7.0', `DMARC policy lookup failed temporarily: ${dmarc.reason}`);
  }
  if (dmarc.result === 'permerror' && input.disposition !== 'none') {
    // An evaluation cut short (a From field naming more domains than are checked) or a From whose domain
    // cannot be read (check-dmarc.ts fails closed, RFC 7489 §6.6.1): held as suspect.
    return { action: 'junk', reason: `dmarc=permerror: ${dmarc.reason}` };
  }
  if (dmarc.result !== 'fail' || dmarc.policy === undefined || dmarc.policy === 'none') {
    return { action: 'accept', reason: `dmarc=${dmarc.result}` };
  }
  // A disposition already lowered to none (pct= sampling, t=y, a local override) acts on nothing, so no
  // DNS failure can change the outcome (ARCHITECTURE.md principle 6): accepted, not deferred.
  // Otherwise the fail may be only a DNS failure of an identifier that could have aligned: defer rather
  // than apply p=reject or p=quarantine to mail that might pass on retry (RFC 7208 §2.6.7, RFC 6376 §6.1.2).
  const doubt = input.disposition === 'none' ? undefined : alignedTemporaryError(input);
  if (doubt) return tempfail(doubt.enhanced, doubt.reason);
  // A trusted forwarder's override, undecided for a DNS failure, would lower the disposition to none.
  if (input.pendingOverride && input.disposition !== 'none') return tempfail('4.7.0', input.pendingOverride);
  // RFC 9989 §4.10.1: sp= or np= by whether the From domain exists, and that query failed. The disposition
  // is the stronger one's, and no override lowered it: the retry may find the weaker applies.
  if (dmarc.policyInDoubt !== undefined && input.disposition !== 'none') {
    return tempfail('4.7.0', `DMARC policy for ${dmarc.fromDomain} undecided: ${dmarc.policyInDoubt}`);
  }
  if (input.disposition === 'reject') {
    return {
      action: 'reject',
      // The issue and common practice (Gmail, Microsoft) answer a DMARC reject with 5.7.1; RFC 7372 §3.2
      // has no DMARC-specific code.
      reply: reply(
        550,
        '5.7.1',
        `Message rejected: the DMARC policy of ${dmarc.policyDomain ?? dmarc.fromDomain} says reject (${dmarc.reason})`,
      ),
      reason: `DMARC p=reject for ${dmarc.fromDomain}: ${dmarc.reason}`,
    };
  }
  if (input.disposition === 'quarantine') {
    return { action: 'junk', reason: `DMARC ${dmarc.policy} for ${dmarc.fromDomain}: ${dmarc.reason}` };
  }
  return {
    action: 'accept',
    reason: dmarc.sampledOut
      ? 'DMARC fail sampled out by pct= (RFC 7489 §6.6.4)'
      : 'DMARC fail overridden by local policy',
  };
}

/** A temporary error of an identifier that could align with the From domain in the record's mode (RFC 7489 §3.1). */
function alignedTemporaryError(input: VerdictInput): { enhanced: string; reason: string } | undefined {
  const { fromDomain, aspf = 'r', adkim = 'r' } = input.dmarc;
  if (!fromDomain) return undefined;
  const spf = input.spf;
  if (spf?.result === 'temperror' && aligned(normalize(spf.domain), fromDomain, aspf)) {
    // RFC 7372 §3.2: X.7.24 "SPF validation error".
    return { enhanced: '4.7.24', reason: `SPF of ${spf.domain} could not be evaluated: ${spf.reason}` };
  }
  const dkim = input.dkim.find((s) => s.result === 'temperror' && aligned(normalize(s.domain), fromDomain, adkim));
  if (dkim) return { enhanced: '4.7.0', reason: `DKIM key of ${dkim.domain} could not be fetched: ${dkim.reason}` };
  return undefined;
}

/** An SPF or DKIM pass for exactly the (one) From domain, one DMARC counts (RFC 7489 §3.1), said in words. */
function passForAuthorDomain(input: VerdictInput): string | undefined {
  const { fromDomain, authorDomains } = input.dmarc;
  if (!fromDomain || (authorDomains?.length ?? 1) > 1) return undefined;
  const dkim = input.dkim.find(
    (s) => s.result === 'pass' && !s.testing && (s.unsignedBodyBytes ?? 0) === 0 && normalize(s.domain) === fromDomain,
  );
  if (dkim) return `DKIM passes for ${fromDomain} itself`;
  if (input.spf?.result === 'pass' && normalize(input.spf.domain) === fromDomain)
    return `SPF passes for ${fromDomain} itself`;
  return undefined;
}

function tempfail(enhanced: string, reason: string): AuthenticationVerdict {
  return { action: 'tempfail', reply: reply(451, enhanced, `Temporary authentication failure: ${reason}`), reason };
}
