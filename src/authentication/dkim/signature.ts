/**
 * A DKIM-Signature field read and checked before any hashing or DNS (RFC 6376 §3.5, §6.1.1), with the
 * rules of mailauth's lenient mode (lib/dkim/dkim-verifier.js prepareSignature), which verify-dkim.ts has
 * always reported: syntax slips common in the wild are tolerated and listed as warnings (mailauth's
 * DKIMWarning codes), an unknown algorithm or canonicalization or a missing d=/s= is not `usable` (reported as
 * neutral), and a signature whose h= leaves out From is `invalid` (§5.4: From MUST be signed).
 */

import { Buffer } from 'node:buffer';
import { type HeaderField, lowerCaseAscii, utf8 } from './message.ts';
import {
  BODY_LENGTH,
  DEFAULT_SIGNED_FIELDS,
  DOMAIN_NAME,
  isLookupName,
  isSameOrSubdomain,
  SELECTOR,
  TIMESTAMP,
  toALabel,
} from './syntax.ts';
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
  /** The lower-case names of h=, or mailauth's default list when h= is missing (lenient). */
  signedNames: string[];
  b: string;
  bh: string | undefined;
  /** A reason not to verify, reported as neutral (§6.1.1). */
  invalid?: string;
  warnings: string[];
}

/** Why a field cannot be processed at all (§6.1.1), or its Signature. */
export type ReadSignature = { usable: false; tags: TagList['values'] } | ({ usable: true } & Signature);

const REQUIRED = ['v', 'a', 'b', 'bh', 'd', 'h', 's'];
/** RFC 5322 dot-atom-text (with RFC 6531 UTF-8) or quoted-string: the i= local-part (mailauth's LOCAL_PART). */
const LOCAL_PART =
  /^(?:(?:[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]|[^\x00-\x7f])+(?:\.(?:[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]|[^\x00-\x7f])+)*|"(?:[^"\\\r\n]|\\.)*")$/;
const DEFAULT_NAMES = fieldNames(DEFAULT_SIGNED_FIELDS.join(':'));

export function readSignature(field: HeaderField): ReadSignature {
  const value = utf8(field.line).trim();
  const { specs, values: tags, faults } = parseTagList(value.slice(value.indexOf(':') + 1).trim());
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
  const raw = new Map(specs.map((s) => [s.name, s.value]));
  if (faults > 0 || specs.some((s) => s.name !== s.name.toLowerCase())) warn('tag-syntax'); // §3.2
  for (const tag of REQUIRED) if (!tags.has(tag)) warn(`missing-${tag}`); // §3.5: REQUIRED tags
  if (tags.has('v') && raw.get('v') !== '1') warn('invalid-v'); // §3.5 v= "MUST have the value 1"
  const numeric: [string, RegExp][] = [
    ['t', TIMESTAMP],
    ['x', TIMESTAMP],
    ['l', BODY_LENGTH],
  ];
  if (numeric.some(([tag, format]) => tags.has(tag) && !format.test(raw.get(tag) ?? ''))) warn('tag-syntax');
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
    signedNames: tags.has('h') ? fieldNames(String(tags.get('h'))) : DEFAULT_NAMES,
    b: text(tags, 'b'),
    bh: tags.has('bh') ? String(tags.get('bh')) : undefined,
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
  if (tags.has('h') && !list(String(tags.get('h'))).includes('from')) sig.invalid = 'From field not signed';
  return { usable: true, ...sig };
}

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
