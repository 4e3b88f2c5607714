/**
 * One DKIM-Signature verified (RFC 6376 §6.1): tags checked (signature.ts), body hash compared (§6.1.3
 * step 4), key fetched (§6.1.2, key-record.ts), header hash verified (§6.1.3), then the verdict in RFC 8601
 * §2.7.1 terms with an admin's reason. The reasons and result codes are the ones verify-dkim.ts gave when
 * it ran on mailauth's verifier, in mailauth's order of checks.
 */

import { Buffer } from 'node:buffer';
import { createHash, verify } from 'node:crypto';
import { type BodyHash, headerHashInput } from './canonicalize.ts';
import type { DkimSignatureResult } from './dkim-result.ts';
import { type KeyLookup, type KeyProblem, keyFor } from './key-record.ts';
import type { HeaderField } from './message.ts';
import { decodeQuotedPrintable, type Signature } from './signature.ts';
import { isLookupName, toALabel } from './syntax.ts';

/** How far in the future a signature's t= may be before it is not believed (clock error). */
const FUTURE_TIMESTAMP_MS = 12 * 60 * 60 * 1000;

import { type TagList, text } from './tag-list.ts';

/** What a signature needs from its message; message-context.ts computes each body hash and key lookup once. */
export interface MessageContext {
  fields: HeaderField[];
  /** The clock x= is checked against, ms. */
  now: number;
  bodyHash(canon: Signature['bodyCanon'], algorithm: Signature['hashAlgo'], limit: number | undefined): BodyHash;
  /** The key record at an A-label `selector._domainkey.domain` name. */
  key(name: string): Promise<KeyLookup>;
}

type Verdict = Pick<DkimSignatureResult, 'result' | 'reason'>;

/** mailauth's comments for an unusable key record (lib/tools.js KEY_ERROR_COMMENTS). */
const KEY_PROBLEMS: Record<Exclude<KeyProblem, 'ESHORTKEY'>, string> = {
  EKEYSYNTAX: 'key syntax error',
  EINVALIDVAL: 'invalid public key',
  EINVALIDVER: 'unknown key version',
  EINVALIDSERVICE: 'key not for email',
  EINVALIDHASH: 'inappropriate hash algorithm',
  EINVALIDTYPE: 'unknown key type',
};

const HEADER_FAILED =
  'header signature did not verify: a signed header field or the DKIM-Signature changed after signing, ' +
  'or the key does not match (RFC 6376 §6.1.3)';

export async function verifySignature(sig: Signature, ctx: MessageContext): Promise<DkimSignatureResult> {
  const out: DkimSignatureResult = { ...identify(sig.tags), result: 'temperror', reason: '' };
  const warnings = [...sig.warnings];
  const done = (verdict: Verdict): DkimSignatureResult => {
    if (warnings.length > 0) out.warnings = warnings;
    return Object.assign(out, verdict);
  };
  if (sig.invalid !== undefined) {
    return done({ result: 'neutral', reason: 'From is not among the signed header fields (RFC 6376 §5.4, §6.1.1)' });
  }
  const body = ctx.bodyHash(sig.bodyCanon, sig.hashAlgo, sig.bodyLimit);
  if (sig.bodyLimit !== undefined && sig.bodyLimit > body.total) {
    // §3.5 l=: "This value MUST NOT be larger than the actual number of octets in the canonicalized
    // message body": the signature claims body the message does not have (cut short on the way, or a
    // signer's slip), so it is invalid, whatever the hash of what is there says (§6.1.1 PERMFAIL).
    return done({
      result: 'permerror',
      reason: `l=${sig.bodyLimit} is larger than the canonicalized body (${body.total} octets) (RFC 6376 §3.5)`,
    });
  }
  if (sig.bodyLimit !== undefined) out.unsignedBodyBytes = body.total - body.hashed;
  if (sig.bh !== body.hash) {
    // §6.1.3 step 4: PERMFAIL, reported as "fail" (RFC 8601 §2.7.1)
    return done({
      result: 'fail',
      reason: 'body hash did not verify: the body changed after signing (RFC 6376 §6.1.3)',
    });
  }
  if (sig.hashAlgo === 'sha1') {
    return done({ result: 'fail', reason: 'rsa-sha1 signatures are not accepted (RFC 8301 §3.1)' });
  }

  const keyName = `${out.selector}._domainkey.${out.domain}`;
  const lookup = await ctx.key(toALabel(`${sig.selector}._domainkey.${sig.domain}`));
  if ('dns' in lookup) {
    if (lookup.dns === 'ENOTFOUND' || lookup.dns === 'ENODATA') {
      return done({ result: 'permerror', reason: `no key record at ${keyName} (RFC 6376 §6.1.2)` });
    }
    return done({
      result: 'temperror',
      reason: `key lookup for ${keyName} failed: DNS failure: ${lookup.dns} (RFC 6376 §6.1.2)`,
    });
  }
  const use = keyFor(lookup.record, sig.hashAlgo);
  if ('problem' in use) {
    if (use.problem === 'ESHORTKEY') {
      if (use.bits !== undefined) out.keyBits = use.bits;
      return done({ result: 'fail', reason: `RSA key of ${use.bits ?? 'under 1024'} bits (RFC 8301 §3.2)` });
    }
    if (use.problem === 'EINVALIDVAL' && lookup.rr !== undefined && /(?:^|;)p=(?:;|$)/.test(lookup.rr)) {
      // §3.6.1: "An empty value means that this public key has been revoked"; §6.1.2 step 7: "treat this
      // as a failed signature check"
      return done({ result: 'fail', reason: `key revoked: ${keyName} has an empty p= (RFC 6376 §3.6.1)` });
    }
    const detail = use.detail === undefined ? '' : `: ${use.detail}`;
    const cited = use.detail === undefined ? 'RFC 6376 §6.1.2' : 'RFC 6376 §3.2, §6.1.2';
    return done({
      result: 'permerror',
      reason: `unusable key record at ${keyName}: ${KEY_PROBLEMS[use.problem]}${detail} (${cited})`,
    });
  }

  const { key } = use;
  if (key.type !== sig.signAlgo) {
    // §6.1.2 step 8: a key "not suitable for use with the algorithm ... defined by the a= tag" MUST
    // PERMFAIL ("inappropriate key algorithm"); verifying anyway let an RSA signature pass as ed25519-sha256.
    return done({
      result: 'permerror',
      reason: `the key at ${keyName} is ${key.type}, not for a=${sig.algorithm.toLowerCase()} (RFC 6376 §6.1.2)`,
    });
  }
  for (const w of key.warnings) if (!warnings.includes(w)) warnings.push(w);
  if (key.flags.includes('y')) out.testing = true;
  if (key.bits !== undefined) out.keyBits = key.bits;
  if (
    key.flags.includes('s') &&
    sig.identityDomain &&
    domainName(sig.identityDomain) !== domainName(sig.domain) &&
    !warnings.includes('identity-domain')
  ) {
    warnings.push('identity-domain'); // §3.6.1 t=s: "the "i=" domain MUST NOT be a subdomain of "d=""
  }

  let valid: boolean;
  try {
    const input = headerHashInput(sig.headerCanon, signedFields(ctx.fields, sig.signedNames), sig.field);
    const signature = Buffer.from(sig.b, 'base64');
    valid =
      sig.signAlgo === 'rsa'
        ? verify('sha256', input, key.key, signature) // RFC 8017 §8.2 RSASSA-PKCS1-v1_5
        : verify(null, createHash('sha256').update(input).digest(), key.key, signature); // RFC 8463 §3
  } catch (err) {
    return done({ result: 'neutral', reason: (err as Error).message || 'signature could not be processed' });
  }
  if (!valid) return done({ result: 'fail', reason: HEADER_FAILED });
  const { timestamp, expiration } = sig;
  const expires = expiration === undefined ? Number.NaN : new Date(expiration).getTime();
  if (!Number.isNaN(expires) && expires < ctx.now) {
    return done({
      result: 'neutral',
      reason: `signature expired at ${new Date(expires).toISOString()} (RFC 6376 §3.5)`,
    });
  }
  if (!Number.isNaN(expires) && timestamp !== undefined && expires < timestamp) {
    return done({ result: 'neutral', reason: 'invalid expiration' }); // §3.5 x=: "MUST be greater than ... t="
  }
  // RFC 6376 §3.5 t= is when the signature was made: one from the future, past any clock's error, is no
  // signature of this message's sending (OpenDKIM and dkimpy refuse it; a pre-dated one would outlive
  // every age check). Twelve hours cover clocks that are off and local times taken for UTC (dkimpy allows 11;
  // a Stalwart conformance vector is signed 5 hours after the time it is verified at).
  if (timestamp !== undefined && timestamp > ctx.now + FUTURE_TIMESTAMP_MS) {
    return done({
      result: 'neutral',
      reason: `signature timestamp ${Number.isFinite(new Date(timestamp).getTime()) ? new Date(timestamp).toISOString() : 't='} is in the future (RFC 6376 §3.5)`,
    });
  }
  if (warnings.includes('identity-domain')) return done({ result: 'neutral', reason: identityProblem(out) });
  return done({ result: 'pass', reason: passReason(out) });
}

/** RFC 6376 §5.4.2: each name of h= takes the last instance of its field not taken yet; a missing one is none. */
function signedFields(fields: HeaderField[], names: string[]): HeaderField[] {
  const byName = new Map<string, HeaderField[]>(); // instances top to bottom, taken from the end
  for (const field of fields) {
    if (field.key === null) continue;
    const same = byName.get(field.key);
    if (same === undefined) byName.set(field.key, [field]);
    else same.push(field);
  }
  const out: HeaderField[] = [];
  for (const name of names) {
    const field = byName.get(name)?.pop();
    if (field !== undefined) out.push(field);
  }
  return out;
}

/** The signature's names for the result, also for one that is never verified. */
export function identify(tags: TagList['values']): Omit<DkimSignatureResult, 'result' | 'reason'> {
  const id: Omit<DkimSignatureResult, 'result' | 'reason'> = {
    domain: text(tags, 'd').toLowerCase(),
    selector: text(tags, 's'),
    algorithm: text(tags, 'a').toLowerCase(),
  };
  if (tags.has('i')) id.identity = decodeQuotedPrintable(String(tags.get('i')));
  const b = text(tags, 'b');
  if (b !== '') id.headerB = b.slice(0, 8); // RFC 6008 §4: at least 8 characters
  return id;
}

/** A signature RFC 6376 §6.1.1 makes invalid before any hashing or DNS (signature.ts says why): PERMFAIL. */
export function invalid(tags: TagList['values'], reason: string): DkimSignatureResult {
  return { ...identify(tags), result: 'permerror', reason };
}

/** A signature that cannot be processed: RFC 8601 §2.7.1 neutral, "not otherwise able to be processed". */
export function unprocessable(tags: TagList['values']): DkimSignatureResult {
  const [a, c, d, s] = [text(tags, 'a'), tags.get('c'), text(tags, 'd'), text(tags, 's')];
  let reason = 'signature could not be processed';
  if (!d || !s) reason = 'signature lacks d= or s= (RFC 6376 §3.5)';
  else if (!/^(rsa-sha256|rsa-sha1|ed25519-sha256)$/i.test(a)) reason = `unknown algorithm a=${a}`;
  else if (c !== undefined && !/^(simple|relaxed)(\/(simple|relaxed))?$/i.test(String(c))) reason = `unknown c=${c}`;
  else if (!isLookupName(toALabel(d)) || !isLookupName(toALabel(s))) {
    reason = 'd= or s= is not a DNS name a key could be looked up under (RFC 6376 §3.6.2.1)';
  }
  return { ...identify(tags), result: 'neutral', reason: `${reason} (RFC 6376 §6.1.1)` };
}

function domainName(domain: string): string {
  return toALabel(domain.trim()).toLowerCase().replace(/\.$/, '');
}

function identityProblem(sig: DkimSignatureResult): string {
  const domain = (sig.identity ?? '').slice((sig.identity ?? '').lastIndexOf('@') + 1).toLowerCase();
  if (domain === sig.domain || domain.endsWith(`.${sig.domain}`)) {
    return `i= is a subdomain of d=${sig.domain}, which the key's t=s forbids (RFC 6376 §3.6.1)`;
  }
  return `i= domain ${domain} is not d=${sig.domain} or its subdomain (RFC 6376 §6.1.1)`;
}

function passReason(sig: DkimSignatureResult): string {
  const key = sig.keyBits === undefined ? sig.algorithm : `${sig.keyBits}-bit RSA key`;
  let reason = `signature verified (${key})`;
  if (sig.unsignedBodyBytes) {
    // RFC 6376 §8.2: content appended after the signed length is unauthenticated.
    reason += `; l= leaves the last ${sig.unsignedBodyBytes} body octets unsigned (RFC 6376 §8.2)`;
  }
  if (sig.testing) reason += '; the key is in testing mode, t=y (RFC 6376 §3.6.1)';
  return reason;
}
