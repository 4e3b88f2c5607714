/** What ARC chain validation (RFC 8617) reports. */

/** RFC 8617 §4.4: the chain validation status. */
export type ArcResultCode = 'none' | 'pass' | 'fail';

/**
 * One sealer's ARC-Authentication-Results (RFC 8617 §4.1.1): what that ADMD saw when the message reached
 * it. Values are as the sealer wrote them, lower-cased; a field it did not report is absent.
 */
export interface ArcAuthenticationResults {
  /** The sealer's authserv-id (RFC 8601 §2.5). */
  authservId: string;
  /** `dmarc=` and its `header.from` (RFC 7489 §11.2). */
  dmarc?: { result: string; headerFrom?: string };
  /** `spf=` and the domain of its `smtp.mailfrom` (or the older `smtp.mfrom`). */
  spf?: { result: string; domain?: string };
  /** Each `dkim=` with its `header.d` (or the domain of `header.i`). */
  dkim: { result: string; domain?: string }[];
}

/** One ARC Set (RFC 8617 §4.2) of a chain that validated. */
export interface ArcInstance {
  /** i= (RFC 8617 §4.2.1). */
  instance: number;
  /** d= of the ARC-Seal: the ADMD that added this set. */
  sealer: string;
  results: ArcAuthenticationResults;
}

export interface ArcResult {
  result: ArcResultCode;
  /**
   * On a fail a DNS failure may have caused (a seal's or the newest message signature's key lookup
   * that timed out): what failed, and the chain's sealers by instance, unverified. RFC 8617 §5.2.1
   * keeps the result a fail; local policy may defer when an override of a sealer it trusts hangs on it.
   * `lookups`: the names whose lookup failed; the sealers are unverified, so only a failed lookup of a
   * trusted sealer's own key (whose DNS a spoofer does not run) may hold the verdict.
   */
  temporary?: { reason: string; sealers: string[]; lookups: string[] };
  /** The highest instance (i=) of the chain; 0 when there is none. */
  instance: number;
  /** d= of each ARC-Seal, by instance: sealers[0] sealed i=1. Empty unless the chain passed. */
  sealers: string[];
  /** Each set, oldest first (instances[0] is i=1); only when the chain passed. */
  instances?: ArcInstance[];
  /**
   * The ARC-Authentication-Results value the first sealer recorded (RFC 8617 §4.1.1), when the chain
   * passed: what the first forwarder saw before it changed the message.
   */
  originalResults?: string;
  reason: string;
}
