/** What DKIM verification (RFC 6376) reports, per signature and for the message. */

import type { DKIMVerifyResult } from 'mailauth';

/** RFC 8601 §2.7.1; `policy` = valid but refused by local policy (RFC 8301 keys and algorithms). */
export type DkimResultCode = 'pass' | 'fail' | 'neutral' | 'policy' | 'permerror' | 'temperror';

export interface DkimSignatureResult {
  result: DkimResultCode;
  /** d= (lower case), or '' when the signature is too broken to name one. */
  domain: string;
  /** s= */
  selector: string;
  /** a=, e.g. `rsa-sha256`, `ed25519-sha256` (RFC 8463). */
  algorithm: string;
  /** i=, the agent or user identifier, when present. */
  identity?: string;
  /** The first characters of b=, for `header.b` in Authentication-Results (RFC 6008 §4). */
  headerB?: string;
  /** Public key size in bits for RSA (RFC 8301 §3.2), when the key was fetched. */
  keyBits?: number;
  /** With l=: octets of the canonicalized body the signature does not cover (RFC 6376 §8.2). */
  unsignedBodyBytes?: number;
  /** Why, in plain words, e.g. "body hash did not verify" or "RSA key of 512 bits (RFC 8301 §3.2)". */
  reason: string;
}

/** mailauth's parsed ARC chain, handed from the DKIM pass (one parse of the message) to ARC. */
export type ArcChainInput = DKIMVerifyResult['arc'];

export interface DkimVerification {
  /** One entry per DKIM-Signature field, in header order; empty when unsigned (result "none"). */
  signatures: DkimSignatureResult[];
  /** Addresses of the From field(s) (RFC 5322 §3.6.2), for DMARC's author domain. */
  headerFrom: string[];
  /** Number of From fields; DMARC cannot evaluate more than one (RFC 7489 §6.6.1). */
  fromFields: number;
  arc: ArcChainInput;
}
