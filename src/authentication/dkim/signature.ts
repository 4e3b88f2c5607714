/**
 * A DKIM-Signature field read and checked before any hashing or DNS (RFC 6376 §3.5, §6.1.1). The tag-list
 * itself is read as RFC 6376 §3.2 says, tag names case-sensitive: a repeated tag, a REQUIRED tag missing
 * (`V=1` is not v=) or a v= other than 1 makes the signature unusable, reported as permerror with why
 * (§6.1.1 PERMFAIL). Past that, the rules of mailauth's lenient mode (lib/dkim/dkim-verifier.js
 * prepareSignature), which verify-dkim.ts has always reported: other syntax slips common in the wild are
 * tolerated and listed as warnings (mailauth's DKIMWarning codes), an unknown algorithm or canonicalization
 * or an empty d=/s= is not `usable` (reported as neutral), and a signature whose h= leaves out From is
 * `invalid` (§5.4: From MUST be signed).
 */

import { Buffer } from 'node:buffer';
import { type HeaderField, lowerCaseAscii, utf8 } from './message.ts';
import { BODY_LENGTH, DOMAIN_NAME, isLookupName, isSameOrSubdomain, SELECTOR, TIMESTAMP, toALabel } from './syntax.ts';
import { list, parseTagList, type TagList, text } from './tag-list.ts';

export interface Signature {
  field: HeaderField;
  tags: TagList['values'];
  /** a= as written (e.g. `rsa-sha256`). */
  algorithm: string;
  signAlgo: 'rsa' | 'ed25519';
  hashAlgo: 'sha256' | 'sha1';
  headerCanon: 'simple' | 'relaxed';
  bodyCanon: 'simple' | 'relaxed';
  /** d= and s= as written. */
  domain: string;
  selector: string;
  /** i= decoded (§2.11), when the tag is there. */
  identity?: string;
  /** The domain of i=, checked against a key's t=s. */
  identityDomain?: string;
  /** t= and x= in ms. */
  timestamp?: number;
  expiration?: number;
  /** l= */
  bodyLimit?: number;
  /** The lower-case names of h=. */
  signedNames: string[];
  b: string;
  bh: string;
  /** A reason not to verify, reported as neutral (§6.1.1). */
  invalid?: string;
  warnings: string[];
}

/**
 * Why a field cannot be processed at all (§6.1.1), or its Signature. `permerror` says why the field is
 * invalid (§6.1.1 PERMFAIL); without it the field is one the verifier cannot process (neutral).
 */
export type ReadSignature =
  | { usable: false; tags: TagList['values']; permerror?: string }
  | ({ usable: true } & Signature);

const REQUIRED = ['v', 'a', 'b', 'bh', 'd', 'h', 's'];
/** RFC 5322 dot-atom-text (with RFC 6531 UTF-8) or quoted-string: the i= local-part (mailauth's LOCAL_PART). */
const LOCAL_PART =
  /^(?:(?:[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]|[^\x00-\x7f])+(?:\.(?:[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]|[^\x00-\x7f])+)*|"(?:[^"\\\r\n]|\\.)*")$/;

export function readSignature(field: HeaderField): ReadSignature {
  const value = utf8(field.line).trim();
  const tagList = value.slice(value.indexOf(':') + 1).trim();
  // §3.2: "Tags MUST be interpreted in a case-sensitive manner"
  const { specs, values: tags, faults, repeated } = parseTagList(tagList, { caseSensitive: true });
  const permerror = tagListProblem(specs, tags, repeated);
  if (permerror !== undefined) return { usable: false, tags, permerror };
  const algorithm = text(tags, 'a');
  const alg = /^(rsa|ed25519)-(sha256|sha1)$/.exec(algorithm.toLowerCase().trim());
  // §3.5 c=: header/body, "simple" when either is left out
  const [headerCanon = '', bodyCanon = ''] = text(tags, 'c').split('/');
  const hc = headerCanon.toLowerCase().trim() || 'simple';
  const bc = (bodyCanon || 'simple').toLowerCase().trim();
  const domain = text(tags, 'd');
  const selector = text(tags, 's');
  // §3.5 a=: rsa-sha256, and ed25519-sha256 (RFC 8463 §3); rsa-sha1 is read so it can be refused (RFC 8301)
  if (alg === null || (alg[1] === 'ed25519' && alg[2] === 'sha1')) return { usable: false, tags };
  if (!isCanon(hc) || !isCanon(bc) || domain === '' || selector === '') return { usable: false, tags };
  // §6.1.1: the key is asked for at s._domainkey.d (§3.6.2.1), so both must be DNS names. A NUL or a
  // space would change the name asked for (a NUL cut it short at the signer's choosing, to a key of its
  // own); PERMFAIL. Beyond this, the strict §3.5 syntax only warns, as mailauth (underscores, say).
  if (!isLookupName(toALabel(domain)) || !isLookupName(toALabel(selector))) return { usable: false, tags };

  const warnings: string[] = [];
  const warn = (w: string) => {
    if (!warnings.includes(w)) warnings.push(w);
  };
  if (faults > 0 || specs.some((s) => s.name !== s.name.toLowerCase())) warn('tag-syntax'); // §3.2
  if (!DOMAIN_NAME.test(toALabel(domain)) || !SELECTOR.test(toALabel(selector))) {
    warn('tag-syntax');
  }
  if (tags.has('q') && !list(String(tags.get('q'))).includes('dns/txt')) warn('query-method'); // §3.5 q=

  const sig: Signature = {
    field,
    tags,
    algorithm,
    signAlgo: alg[1] as Signature['signAlgo'],
    hashAlgo: alg[2] as Signature['hashAlgo'],
    headerCanon: hc,
    bodyCanon: bc,
    domain,
    selector,
    signedNames: fieldNames(String(tags.get('h'))),
    b: text(tags, 'b'),
    bh: String(tags.get('bh')),
    warnings,
  };
  const t = seconds(tags.get('t'));
  const x = seconds(tags.get('x'));
  if (t !== undefined) sig.timestamp = t;
  if (x !== undefined) sig.expiration = x;
  const l = tags.get('l');
  if (typeof l === 'number') sig.bodyLimit = l; // l=0 is a limit too: no body octet signed

  if (tags.has('i')) {
    // §6.1.1: the domain of i= must be d= or a subdomain of it; the pass is refused in verify-dkim.ts
    const identity = decodeQuotedPrintable(String(tags.get('i')));
    const at = identity.lastIndexOf('@');
    const local = at >= 0 ? identity.slice(0, at) : '';
    const identityDomain = at >= 0 ? identity.slice(at + 1) : '';
    const validSyntax =
      at >= 0 && (local === '' || LOCAL_PART.test(local)) && DOMAIN_NAME.test(toALabel(identityDomain));
    if (!validSyntax || !isSameOrSubdomain(identityDomain, domain)) warn('identity-domain');
    sig.identity = identity;
    sig.identityDomain = identityDomain;
  }
  // §3.5 x=: "MUST be greater than the value of the t= tag"; x= before t= is refused after verifying
  if (t !== undefined && x !== undefined && x === t) warn('invalid-expiration');
  if (sig.hashAlgo === 'sha1') warn('rsa-sha1');
  // §5.4: "The From header field MUST be signed"; a signature that does not cover it says nothing of the author
  if (!list(String(tags.get('h'))).includes('from')) sig.invalid = 'From field not signed';
  return { usable: true, ...sig };
}

/**
 * Why the tag-list makes the signature invalid, checked in RFC 6376 §6.1.1's terms before anything else
 * is read from it (a repeated d= or h= would otherwise mean one thing here and another to the next
 * verifier), or undefined.
 */
function tagListProblem(specs: TagList['specs'], tags: TagList['values'], repeated: string[]): string | undefined {
  // §3.2: "Tags with duplicate names MUST NOT occur within a single tag-list; if a tag name does occur
  // more than once, the entire tag-list is invalid." (§6.1.1 PERMFAIL, signature syntax error)
  if (repeated.length > 0) {
    const names = repeated.map((name) => `${name}=`).join(', ');
    const which = repeated.length === 1 ? `the tag ${names} occurs` : `the tags ${names} occur`;
    return `${which} more than once, which makes the tag-list invalid (RFC 6376 §3.2, §6.1.1)`;
  }
  // §6.1.1: "If any tag listed as "required" in Section 3.5 is omitted from the DKIM-Signature header
  // field, the Verifier MUST ignore the DKIM-Signature header field and return PERMFAIL (signature
  // missing required tag)."
  const missing = REQUIRED.find((tag) => !tags.has(tag));
  if (missing !== undefined) {
    const variant = specs.find((s) => s.name.toLowerCase() === missing)?.name;
    const other =
      variant === undefined ? '' : ` (${variant}= is not ${missing}=: tag names are case-sensitive, RFC 6376 §3.2)`;
    return `signature missing required tag ${missing}=${other} (RFC 6376 §6.1.1)`;
  }
  // §3.5 v=: "MUST have the value "1""; §6.1.1: "Verifiers MUST return PERMFAIL (incompatible version)"
  const version = specs.find((s) => s.name === 'v')?.value;
  if (version !== '1') return `v=${version} is not v=1: incompatible version (RFC 6376 §3.5, §6.1.1)`;
  // §3.5 sig-t-tag and sig-x-tag are 1*12DIGIT, sig-l-tag 1*76DIGIT; §6.1.1: "a value that does not match
  // the grammar" is PERMFAIL (signature syntax error), as dkimpy has it. Read as a number anyway, "t=abc"
  // was no time and "x=12a" no expiry, so a signature its signer wrote wrong passed unchecked.
  for (const [tag, format, grammar] of NUMERIC_TAGS) {
    const value = specs.find((s) => s.name === tag)?.value;
    if (value !== undefined && !format.test(value)) {
      const shown = value.length > 24 ? `${value.slice(0, 24)}...` : value;
      return `${tag}=${shown} is not ${grammar}: signature syntax error (RFC 6376 §3.5, §6.1.1)`;
    }
  }
  return undefined;
}

const NUMERIC_TAGS: [tag: string, format: RegExp, grammar: string][] = [
  ['t', TIMESTAMP, '1*12DIGIT'],
  ['x', TIMESTAMP, '1*12DIGIT'],
  ['l', BODY_LENGTH, '1*76DIGIT'],
];

const isCanon = (c: string): c is 'simple' | 'relaxed' => c === 'simple' || c === 'relaxed';

/** t= / x=: seconds since the epoch, as ms; mailauth reads anything numeric (`!isNaN`). */
function seconds(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isNaN(n) ? undefined : n * 1000;
}

/** h= names as the header fields' keys are read (message.ts): trimmed, ASCII lowercased. */
function fieldNames(value: string): string[] {
  return value
    .split(':')
    .map((name) => lowerCaseAscii(name.replace(/^[ \t]+|[ \t]+$/g, '')))
    .filter((name) => name !== '');
}

/** dkim-quoted-printable (§2.11): FWS is not part of the value, =XX is an octet; the octets are UTF-8. */
export function decodeQuotedPrintable(value: string): string {
  const compact = value.replace(/[ \t\r\n]+/g, '');
  if (!compact.includes('=')) return compact;
  const bytes = Buffer.from(compact, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const hex = i + 2 < bytes.length ? bytes.toString('latin1', i + 1, i + 3) : '';
    if (bytes[i] === 0x3d && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(Number.parseInt(hex, 16));
      i += 2;
    } else out.push(bytes[i] as number);
  }
  return Buffer.from(out).toString('utf8');
}
