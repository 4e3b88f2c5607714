/**
 * The results of sender authentication, one shape per method, as the verdict step, the
 * Authentication-Results header (RFC 8601) and the log read them. Each method's folder owns its
 * shape; none decides an SMTP reply (that is the verdict's job, authenticate.ts).
 */

export type { ArcResult, ArcResultCode } from './arc/arc-result.ts';
export type { ArcChainInput, DkimResultCode, DkimSignatureResult, DkimVerification } from './dkim/dkim-result.ts';
export type { DmarcPolicy, DmarcResult, DmarcResultCode } from './dmarc/dmarc-result.ts';
export type { SpfResult, SpfResultCode } from './spf/check-spf.ts';

/**
 * One check's outcome in the shape every pipeline stage adds (ARCHITECTURE.md principle 2):
 * the verdict, the log line and the admin UI read the same list.
 */
export interface Finding {
  check: string;
  result: string;
  reason: string;
  score?: number;
  rfc?: string;
}
