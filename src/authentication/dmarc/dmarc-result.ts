/** What DMARC (RFC 7489, RFC 9989) reports for a message. */

/** RFC 7489 §11.2 (the dmarc method of Authentication-Results). */
export type DmarcResultCode = 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface DmarcResult {
  result: DmarcResultCode;
  /** The RFC5322.From domain (RFC 7489 §3.1); '' when none could be found. */
  fromDomain: string;
  /** The domain whose record applied, when one was found. */
  policyDomain?: string;
  /** The published policy that applies to this From domain (p, or sp/np for a subdomain). */
  policy?: DmarcPolicy;
  /** p= and sp= as published. */
  p?: DmarcPolicy;
  sp?: DmarcPolicy;
  /** pct= as published (RFC 7489 §6.3), 100 when absent. */
  pct?: number;
  /** Which identifier aligned, when the result is pass. */
  alignedBy?: 'spf' | 'dkim';
  /**
   * What to do after pct sampling (RFC 7489 §6.6.4) and before local overrides: the policy on a
   * fail, `none` on a pass or when sampled out.
   */
  disposition: DmarcPolicy;
  /** RFC 7489 §6.6.4: a fail that pct excluded from the policy (applied one level weaker). */
  sampledOut?: boolean;
  reason: string;
}
