/** What DKIM verification (RFC 6376) reports, per signature and for the message. */

import type { DKIMVerifyResult } from 'mailauth';

/**
 * RFC 8601 §2.7.1. verify-dkim.ts gives `fail` for keys and algorithms RFC 8301 forbids (§3.1 rsa-sha1,
 * §3.2 RSA under 1024 bits: "MUST NOT consider ... valid"); `policy` stays for a local rule a later stage
 * may apply to a valid signature.
 */
export type DkimResultCode = 'pass' | 'fail' | 'neutral' | 'policy' | 'permerror' | 'temperror';

export interface DkimSignatureResult {
  result: DkimResultCode;
  /** d= (lower case), or '' when the signature is too broken to name one. */
  domain: string;
  /** s= */
  selector: string;
  /** a=, e.g. `rsa-sha256`, `ed25519-sha256` (RFC 8463). */
  algorithm: string;
  /** i=, the agent or user identifier; absent without i= (the AUID is then `@` + d=, RFC 6376 §3.5). */
  identity?: string;
  /** The first characters of b=, for `header.b` in Authentication-Results (RFC 6008 §4). */
  headerB?: string;
  /** Public key size in bits for RSA (RFC 8301 §3.2), when the key was fetched. */
  keyBits?: number;
  /** With l=: octets of the canonicalized body the signature does not cover (RFC 6376 §8.2). */
  unsignedBodyBytes?: number;
  /**
   * The key record has t=y: the domain is testing DKIM, and RFC 6376 §3.6.1 says "Verifiers MUST NOT treat
   * messages from Signers in testing mode differently from unsigned email".
   */
  testing?: boolean;
  /**
   * Departures from RFC 6376 syntax that were tolerated for interoperability (mailauth's `DKIMWarning`
   * codes, e.g. `tag-syntax`, `key-v-syntax`, `identity-domain`); absent when there are none.
   */
  warnings?: string[];
  /** Why, in plain words, e.g. "body hash did not verify" or "RSA key of 512 bits (RFC 8301 §3.2)". */
  reason: string;
}

/** mailauth's parsed ARC chain, handed from the DKIM pass to ARC; `{ chain: false }` without ARC fields. */
export type ArcChainInput = DKIMVerifyResult['arc'];

export interface DkimVerification {
  /** One entry per DKIM-Signature field, in header order; empty when unsigned (result "none"). */
  signatures: DkimSignatureResult[];
  /** Addresses of the From field(s) (RFC 5322 §3.6.2), for DMARC's author domain. */
  headerFrom: string[];
  /** Number of From fields; DMARC cannot evaluate more than one (RFC 7489 §6.6.1). */
  fromFields: number;
  /**
   * Undefined only when the header could not be read for ARC: verification itself broke (every signature
   * is then `temperror`), or mailauth failed on a message with ARC fields (verify-dkim.ts).
   */
  arc: ArcChainInput;
}
