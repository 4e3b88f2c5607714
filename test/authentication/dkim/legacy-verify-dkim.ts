/**
 * The verifier this project used before src/authentication/dkim/ had its own: mailauth's dkimVerify in its
 * lenient mode, its results mapped to ours. Kept for the differential test (differential.test.ts), which
 * requires the new verifier to give the same results on varied input. Not used by the server.
 */

import { Buffer } from 'node:buffer';
import { createPublicKey } from 'node:crypto';
import type { DKIMResult, DNSResolver } from 'mailauth';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import type { DkimSignatureResult, DkimVerification } from '../../../src/authentication/dkim/dkim-result.ts';
import { mailauthResolver } from '../../../src/authentication/mailauth-resolver.ts';
import type { Resolver } from '../../../src/dns/resolver.ts';

export interface VerifyDkimOptions {
  resolver: Resolver;
  /** The time x= expiry is checked against; defaults to the clock. */
  now?: Date;
}

/** RFC 8301 §3.2: "Verifiers MUST NOT consider signatures using RSA keys of less than 1024 bits as valid". */
const MIN_RSA_BITS = 1024;

/** mailauth's comments for a key record it could not use (lib/tools.js KEY_ERROR_COMMENTS). */
const KEY_PROBLEMS = new Set([
  'no key',
  'unknown key version',
  'unknown key type',
  'invalid public key',
  'inappropriate hash algorithm',
  'key not for email',
]);

export async function legacyVerifyDkim(message: Uint8Array, options: VerifyDkimOptions): Promise<DkimVerification> {
  let fields: SignatureField[] | undefined;
  try {
    fields = signatureFields(message);
    const response = await dkimVerify(Buffer.from(message.buffer, message.byteOffset, message.byteLength), {
      // mailauth types its resolver's answer as strings; ours also gives MX objects, which DKIM never asks for.
      resolver: mailauthResolver(options.resolver) as DNSResolver,
      curTime: options.now ?? new Date(),
      minBitLength: MIN_RSA_BITS,
      rejectRsaSha1: true, // RFC 8301 §3.1
    });
    return {
      signatures: pair(fields, response.results),
      headerFrom: response.headerFrom,
      fromFields: response.fromFields,
      arc: response.arc,
    };
  } catch (err) {
    // mailauth turns DNS and key problems into results itself; reaching here is a bug in it or in us, and a
    // doubt must become neither a pass nor a permanent fail: RFC 6376 §6.1 TEMPFAIL for every signature.
    const reason = `DKIM verification failed unexpectedly: ${String(err)}`;
    const unnamed = { domain: '', selector: '', algorithm: '' };
    return {
      signatures: (fields ?? [undefined]).map((f) => ({
        ...(f === undefined ? unnamed : identify(f)),
        result: 'temperror',
        reason,
      })),
      headerFrom: [],
      fromFields: 0,
      arc: undefined,
    };
  }
}

/**
 * mailauth reports the signatures it processed, in header order; it leaves out those it cannot process
 * (lenient mode), and reports "none" for an unsigned message. Walk our own list of fields so each one
 * gets exactly one entry, matching by b= (whitespace removed, RFC 6376 §3.5).
 */
function pair(fields: SignatureField[], results: DKIMResult[]): DkimSignatureResult[] {
  const pending = results.filter((r) => r.status.result !== 'none');
  const out: DkimSignatureResult[] = [];
  for (const field of fields) {
    const at = pending.findIndex((r) => (r.signature ?? '').replace(/\s+/g, '') === (field.tags.b ?? ''));
    const match = at < 0 ? undefined : pending.splice(at, 1)[0];
    out.push(match === undefined ? skipped(field) : convert(match, field));
  }
  // Never drop a verdict mailauth gave, even if our field list missed its signature.
  for (const r of pending) out.push(convert(r, undefined));
  return out;
}

function identify(field: SignatureField): Omit<DkimSignatureResult, 'result' | 'reason'> {
  const id: Omit<DkimSignatureResult, 'result' | 'reason'> = {
    domain: (field.tags.d ?? '').toLowerCase(),
    selector: field.tags.s ?? '',
    algorithm: (field.tags.a ?? '').toLowerCase(),
  };
  if (field.tags.i !== undefined) id.identity = field.tags.i;
  if (field.tags.b) id.headerB = field.tags.b.slice(0, 8); // RFC 6008 §4: at least 8 characters
  return id;
}

/** A field mailauth did not process: RFC 8601 §2.7.1 neutral, "not otherwise able to be processed". */
function skipped(field: SignatureField): DkimSignatureResult {
  const { a, c, d, s } = field.tags;
  let reason = 'signature could not be processed';
  if (!d || !s) reason = 'signature lacks d= or s= (RFC 6376 §3.5)';
  else if (!/^(rsa-sha256|rsa-sha1|ed25519-sha256)$/i.test(a ?? '')) reason = `unknown algorithm a=${a ?? ''}`;
  else if (c !== undefined && !/^(simple|relaxed)(\/(simple|relaxed))?$/i.test(c)) reason = `unknown c=${c}`;
  return { ...identify(field), result: 'neutral', reason: `${reason} (RFC 6376 §6.1.1)` };
}

function convert(r: DKIMResult, field: SignatureField | undefined): DkimSignatureResult {
  const out: DkimSignatureResult = {
    ...(field === undefined ? { domain: '', selector: '', algorithm: '' } : identify(field)),
    result: 'temperror',
    reason: '',
  };
  if (r.signingDomain) out.domain = r.signingDomain.toLowerCase();
  if (r.selector) out.selector = r.selector;
  if (r.algo) out.algorithm = r.algo.toLowerCase();
  if (out.headerB === undefined && r.status.header?.b) out.headerB = String(r.status.header.b);
  if (r.status.testing) out.testing = true;
  if (r.status.warnings?.length) out.warnings = [...r.status.warnings];
  // mailauth gives no size for a key it refused as too short; the reason should name it (RFC 8301 §3.2).
  const weak = r.status.policy?.['dkim-rules'] === 'weak-key';
  const bits = r.modulusLength ?? (weak ? rsaBits(r.rr) : undefined);
  if (bits !== undefined) out.keyBits = bits;
  if (r.canonBodyLengthLimited) out.unsignedBodyBytes = r.status.underSized ?? 0;
  return { ...out, ...judge(r, out) };
}

/** mailauth's status → our code and an admin's reason. */
function judge(r: DKIMResult, sig: DkimSignatureResult): Pick<DkimSignatureResult, 'result' | 'reason'> {
  const comment = r.status.comment ?? '';
  const keyName = `${sig.selector}._domainkey.${sig.domain}`;
  switch (r.status.result) {
    case 'pass':
      if (r.status.warnings?.includes('identity-domain')) {
        // mailauth's lenient mode passes these, but i= would then claim a domain the key does not cover.
        return { result: 'neutral', reason: identityProblem(sig) };
      }
      return { result: 'pass', reason: passReason(sig) };
    case 'fail':
      return {
        result: 'fail',
        reason:
          'header signature did not verify: a signed header field or the DKIM-Signature changed after signing, ' +
          'or the key does not match (RFC 6376 §6.1.3)',
      };
    case 'policy':
      if (r.status.policy?.['dkim-rules'] === 'weak-algorithm') {
        return { result: 'fail', reason: 'rsa-sha1 signatures are not accepted (RFC 8301 §3.1)' };
      }
      return {
        result: 'fail',
        reason: `RSA key ${sig.keyBits === undefined ? 'under 1024 bits' : `of ${sig.keyBits} bits`} (RFC 8301 §3.2)`,
      };
    case 'temperror':
      return { result: 'temperror', reason: `key lookup for ${keyName} failed: ${comment} (RFC 6376 §6.1.2)` };
    case 'neutral':
      return neutral(comment, keyName, r);
    case 'permerror':
      return { result: 'permerror', reason: comment || 'permanent error' };
    default:
      return { result: 'temperror', reason: `unexpected DKIM result "${r.status.result}" ${comment}`.trim() };
  }
}

/** mailauth's lenient mode says "neutral" for several RFC 6376 PERMFAILs; tell them apart by its comment. */
function neutral(comment: string, keyName: string, r: DKIMResult): Pick<DkimSignatureResult, 'result' | 'reason'> {
  if (comment === 'body hash did not verify') {
    // RFC 6376 §6.1.3 step 4: PERMFAIL, reported as "fail" (RFC 8601 §2.7.1)
    return { result: 'fail', reason: 'body hash did not verify: the body changed after signing (RFC 6376 §6.1.3)' };
  }
  if (comment === 'invalid public key' && r.rr !== undefined && /(?:^|;)p=(?:;|$)/.test(r.rr)) {
    // RFC 6376 §3.6.1: "An empty value means that this public key has been revoked"; §6.1.2 step 7:
    // "treat this as a failed signature check".
    return { result: 'fail', reason: `key revoked: ${keyName} has an empty p= (RFC 6376 §3.6.1)` };
  }
  if (comment === 'no key') {
    return { result: 'permerror', reason: `no key record at ${keyName} (RFC 6376 §6.1.2)` };
  }
  if (KEY_PROBLEMS.has(comment)) {
    return { result: 'permerror', reason: `unusable key record at ${keyName}: ${comment} (RFC 6376 §6.1.2)` };
  }
  if (comment === 'expired') {
    return { result: 'neutral', reason: `signature expired at ${r.expiresAfter ?? 'its x= time'} (RFC 6376 §3.5)` };
  }
  if (comment === 'From field not signed') {
    return { result: 'neutral', reason: 'From is not among the signed header fields (RFC 6376 §5.4, §6.1.1)' };
  }
  // RFC 8601 §2.7.1 neutral: "syntax errors or were not otherwise able to be processed"
  return { result: 'neutral', reason: comment || 'signature could not be processed' };
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

/** The size of the RSA key in a key record mailauth refused as too short, for the reason text. */
function rsaBits(record: string | undefined): number | undefined {
  const p = /(?:^|;)p=([^;]+)/.exec(record ?? '')?.[1];
  if (p === undefined) return undefined;
  const der = Buffer.from(p, 'base64');
  for (const type of ['spki', 'pkcs1'] as const) {
    try {
      const key = createPublicKey({ key: der, format: 'der', type });
      return key.asymmetricKeyType === 'rsa' ? key.asymmetricKeyDetails?.modulusLength : undefined;
    } catch {
      // try the other form: a bare RSAPublicKey (RFC 6376 §3.6.1) or a SubjectPublicKeyInfo
    }
  }
  return undefined;
}

/** The tags of a DKIM-Signature we read ourselves, to name a signature mailauth skipped or choked on. */
interface SignatureField {
  tags: Partial<Record<'a' | 'b' | 'c' | 'd' | 'i' | 's', string>>;
}

/** The DKIM-Signature fields of the header section, unfolded (RFC 5322 §2.2.3), in order. */
function signatureFields(message: Uint8Array): SignatureField[] {
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  // The header section ends at the first empty line (RFC 5322 §2.1); the body is not decoded.
  const ends = [bytes.indexOf('\n\n'), bytes.indexOf('\n\r\n')].filter((i) => i >= 0);
  const startsEmpty = bytes[0] === 0x0a || (bytes[0] === 0x0d && bytes[1] === 0x0a);
  const header = startsEmpty
    ? ''
    : bytes.subarray(0, ends.length > 0 ? Math.min(...ends) : bytes.length).toString('utf8');
  const fields: string[] = [];
  for (const line of header.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) fields[fields.length - 1] += line;
    else fields.push(line);
  }
  return fields
    .filter((f) => /^dkim-signature[ \t]*:/i.test(f))
    .map((f) => ({ tags: tagList(f.slice(f.indexOf(':') + 1)) }));
}

/** RFC 6376 §3.2 tag=value list; the first of a repeated tag wins, as the field is invalid anyway. */
function tagList(value: string): SignatureField['tags'] {
  const tags: SignatureField['tags'] = {};
  for (const spec of value.split(';')) {
    const eq = spec.indexOf('=');
    const name = spec.slice(0, eq).trim();
    if (eq < 0 || !['a', 'b', 'c', 'd', 'i', 's'].includes(name)) continue;
    const key = name as keyof SignatureField['tags'];
    const raw = spec.slice(eq + 1).trim();
    // b= may hold FWS anywhere (RFC 6376 §3.5); i= is dkim-quoted-printable (§2.11)
    if (tags[key] === undefined) tags[key] = key === 'b' ? raw.replace(/\s+/g, '') : key === 'i' ? quoted(raw) : raw;
  }
  return tags;
}

/** dkim-quoted-printable (RFC 6376 §2.11): =XX is an octet; the octets are UTF-8 (RFC 6376 §3.5 i=). */
function quoted(value: string): string {
  const escaped = value
    .replace(/\s+/g, '')
    .replace(/%/g, '%25')
    .replace(/=([0-9A-Fa-f]{2})/g, '%$1');
  try {
    return decodeURIComponent(escaped);
  } catch {
    return value; // not UTF-8 once decoded: show it as written
  }
}
