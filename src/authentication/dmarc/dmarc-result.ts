/** What DMARC (RFC 7489, RFC 9989) reports for a message. */

/** RFC 7489 §11.2 (the dmarc method of Authentication-Results). */
export type DmarcResultCode = 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';
/** RFC 7489 §6.3 adkim/aspf: relaxed or strict. */
export type AlignmentMode = 'r' | 's';

export interface DmarcResult {
  result: DmarcResultCode;
  /** The RFC5322.From domain (RFC 7489 §3.1), lower case, A-label; '' when none could be found. */
  fromDomain: string;
  /** Every distinct From domain, when the From field(s) named more than one (RFC 7489 §6.6.1). */
  authorDomains?: string[];
  /** The domain whose record applied, when one was found. */
  policyDomain?: string;
  /** The published policy that applies to this From domain (p, or sp/np for a subdomain), before t=y. */
  policy?: DmarcPolicy;
  /** p=, sp= (p= when absent) and np= (RFC 9989 §4.7) as published. */
  p?: DmarcPolicy;
  sp?: DmarcPolicy;
  np?: DmarcPolicy;
  /** adkim= and aspf= as published, `r` when absent (RFC 7489 §6.3). */
  adkim?: AlignmentMode;
  aspf?: AlignmentMode;
  /** pct= as published (RFC 7489 §6.3), 100 when absent or invalid. */
  pct?: number;
  /** t=y: the domain owner is testing its policy (RFC 9989 §4.7). */
  testing?: boolean;
  /** Which identifier aligned, when the result is pass (DKIM first when both did). */
  alignedBy?: 'spf' | 'dkim';
  /** Per identifier: did it pass and align? For aggregate reports (RFC 7489 §7.2 policy_evaluated). */
  alignment?: { spf: boolean; dkim: boolean };
  /**
   * The authenticated identifiers DMARC weighed (RFC 7489 §3.1): the SPF domain on an SPF pass, the d= of
   * each DKIM pass that signs the whole body and is not in testing mode.
   */
  identifiers?: { spf?: string; dkim: string[] };
  /**
   * What to do after sampling (RFC 7489 §6.6.4 pct, RFC 9989 §4.7 t=y) and before local overrides: the
   * policy on a fail, `none` on anything else or when sampled out, but `quarantine` on the permerror of a
   * From field naming more domains than are checked.
   */
  disposition: DmarcPolicy;
  /**
   * On a temperror whose record was found: the identifier that would align but could not be checked
   * (a DNS failure fetching its DKIM key or evaluating its SPF). The disposition is then what a fail
   * would get, for the verdict to defer on, or accept when it is none.
   */
  unverified?: string;
  /**
   * On a fail (or a temperror with `unverified`) whose policy is sp= or np= by whether the From domain
   * exists, when that query failed (RFC 9989 §4.10.1): why. `policy` and `disposition` are then the
   * stronger candidate's; set only when that disposition is not none, for the verdict to defer on unless
   * a local override lifts it.
   */
  policyInDoubt?: string;
  /** A fail that pct= (RFC 7489 §6.6.4) or t=y (RFC 9989 §4.7) left one level weaker than the policy. */
  sampledOut?: boolean;
  reason: string;
}
