/**
 * DKIM key records (RFC 6376 §3.6.1, §3.6.2.2; RFC 8463 §4): fetched from `selector._domainkey.domain`
 * through our Resolver, parsed into a node:crypto KeyObject, and the parse remembered.
 *
 * The Resolver is asked every time (it caches the DNS answer and decides how long an answer lives);
 * what is cached here is the parse, keyed by the owner name and used only while the TXT text is the same,
 * so a key rotated or revoked in DNS takes effect as soon as the resolver sees it. Creating the KeyObject
 * is what costs (createPublicKey and its key details). A DNS failure is never cached.
 *
 * The record is a tag-list read as RFC 6376 §3.2 says: tag names case-sensitive (`P=` is an unknown tag,
 * ignored, not p=) and a repeated tag makes the record unusable, as dkimpy reads it. Past that, rules and
 * their order follow mailauth's lenient getPublicKey (lib/tools.js): an unusable record is a code (the
 * KEY_ERROR_COMMENTS of mailauth), a tolerated slip a warning.
 */

import { Buffer } from 'node:buffer';
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Resolver } from '../../dns/resolver.ts';
import { mailauthResolver } from '../mailauth-resolver.ts';
import { list, parseTagList } from './tag-list.ts';

/** RFC 8301 §3.2: "Verifiers MUST NOT consider signatures using RSA keys of less than 1024 bits as valid". */
export const MIN_RSA_BITS = 1024;

export type KeyProblem =
  | 'EKEYSYNTAX' // the tag-list is invalid (RFC 6376 §3.2): a repeated tag
  | 'EINVALIDVAL' // no usable p=: missing, empty (revoked), not base64, or no record text at all
  | 'EINVALIDVER' // v= is not DKIM1
  | 'EINVALIDSERVICE' // s= does not list email or *
  | 'EINVALIDHASH' // h= does not list the signature's hash (RFC 6376 §6.1.2 step 6)
  | 'EINVALIDTYPE' // not an RSA or Ed25519 key, or not the k= type
  | 'ESHORTKEY'; // RSA under MIN_RSA_BITS

export interface PublicKey {
  key: KeyObject;
  type: 'rsa' | 'ed25519';
  /** RSA modulus length. */
  bits?: number;
  /** t= flags, lower case: "y" testing, "s" no i= subdomains (RFC 6376 §3.6.1). */
  flags: string[];
  warnings: string[];
}

/** One record's parse. `early` problems come before the h= check, `late` ones after, as mailauth orders them. */
interface KeyRecord {
  early?: KeyProblem;
  /** What is wrong with the tag-list (RFC 6376 §3.2), in words, when the code alone does not say it. */
  detail?: string;
  hashes?: string[];
  late?: KeyProblem;
  bits?: number;
  key?: PublicKey;
}

export type KeyLookup =
  | { dns: string } // the DNS error code: ENOTFOUND / ENODATA (no key), anything else temporary
  | { rr: string | undefined; record: KeyRecord };

export type KeyUse = { key: PublicKey } | { problem: KeyProblem; bits?: number; detail?: string };

/** What a record allows a signature hashed with `hashAlgo` (RFC 6376 §6.1.2 steps 5–8). */
export function keyFor(record: KeyRecord, hashAlgo: string): KeyUse {
  if (record.early)
    return record.detail === undefined ? { problem: record.early } : { problem: record.early, detail: record.detail };
  if (record.hashes && !record.hashes.includes(hashAlgo)) return { problem: 'EINVALIDHASH' };
  if (record.late)
    return record.bits === undefined ? { problem: record.late } : { problem: record.late, bits: record.bits };
  return { key: record.key as PublicKey };
}

const TTL_MS = 60_000;
const MAX_ENTRIES = 1000;
const cache = new Map<string, { rr: string; record: KeyRecord; expires: number }>();

/** For tests: how often a record was parsed and how often a parse was reused. */
export const keyCacheStats = { parses: 0, hits: 0 };

export function clearKeyCache(): void {
  cache.clear();
  keyCacheStats.parses = 0;
  keyCacheStats.hits = 0;
}

/** Fetches and parses the key record at `name` (already an A-label name, RFC 8616 §3). */
export async function lookupKey(resolver: Resolver, name: string): Promise<KeyLookup> {
  let rr: string | undefined;
  try {
    const answer = (await mailauthResolver(resolver)(name, 'TXT')) as string[][];
    // RFC 6376 §3.6.2.2: the strings of a record are concatenated; white space is not part of it.
    rr = answer[0]?.join('').replace(/\s+/g, '') || undefined;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return { dns: typeof code === 'string' && code !== '' ? code : String((err as Error)?.message ?? err) };
  }
  if (rr === undefined) return { rr, record: { early: 'EINVALIDVAL' } };
  const at = name.toLowerCase();
  const now = Date.now();
  const hit = cache.get(at);
  if (hit !== undefined && hit.rr === rr && hit.expires > now) {
    keyCacheStats.hits++;
    return { rr, record: hit.record };
  }
  const record = parseKeyRecord(rr);
  keyCacheStats.parses++;
  cache.delete(at);
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string); // the oldest goes
  cache.set(at, { rr, record, expires: now + TTL_MS });
  return { rr, record };
}

/** The base64 Joi accepts without padding (mailauth validates p= with it). */
const BASE64 = /^(?:[A-Za-z0-9+/]{2}[A-Za-z0-9+/]{2})*(?:[A-Za-z0-9+/]{2}(==)?|[A-Za-z0-9+/]{3}=?)?$/;

/**
 * Whether a p= value (whitespace already removed) is base64 as verifiers read it (RFC 6376 §3.6.1
 * `base64string`). Node's decoder skips what is not base64, so a check that only decoded would pass
 * a record every verifier refuses.
 */
export function isKeyBase64(value: string): boolean {
  return BASE64.test(value);
}
/** RFC 8410 §4 SubjectPublicKeyInfo prefix for a bare 32-octet Ed25519 key (RFC 8463 §4.2). */
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');

function parseKeyRecord(rr: string): KeyRecord {
  // §3.2: "Tags MUST be interpreted in a case-sensitive manner"; §3.6.1: "Unrecognized tags MUST be ignored"
  const { specs, values, faults, repeated } = parseTagList(rr.trim(), { caseSensitive: true });
  if (repeated.length > 0) {
    // §3.2: "if a tag name does occur more than once, the entire tag-list is invalid"; §6.1.2 step 5:
    // a record that does not parse is ignored, PERMFAIL (key syntax error)
    const names = repeated.map((name) => `${name}=`).join(', ');
    const which = repeated.length === 1 ? `the tag ${names} occurs` : `the tags ${names} occur`;
    return { early: 'EKEYSYNTAX', detail: `${which} more than once` };
  }
  const warnings: string[] = [];
  const warn = (w: string) => {
    if (!warnings.includes(w)) warnings.push(w);
  };
  if (faults > 0) warn('key-syntax'); // other §3.2 slips: §6.1.2 step 5 would ignore the record; mailauth reads it
  const p = values.get('p');
  if (p === undefined) {
    const variant = specs.find((s) => s.name.toLowerCase() === 'p')?.name;
    if (variant === undefined) return { early: 'EINVALIDVAL' };
    return {
      early: 'EINVALIDVAL',
      detail: `no p= (${variant}= is not p=: tag names are case-sensitive)`,
    };
  }
  // §3.6.1 p=: "An empty value means that this public key has been revoked"
  if (p === '' || p === 0 || !BASE64.test(String(p))) return { early: 'EINVALIDVAL' };
  const v = values.get('v');
  if (v !== undefined) {
    // §3.6.1 v=: "MUST be the first tag", value exactly DKIM1; other spellings are only warned about
    if (String(v).toLowerCase().trim() !== 'dkim1') return { early: 'EINVALIDVER' };
    if (v !== 'DKIM1' || specs[0]?.name !== 'v') warn('key-v-syntax');
  }
  const services = values.has('s') ? list(values.get('s')) : undefined;
  // §3.6.1 s=: "Verifiers ... MUST ignore this record if the appropriate type is not listed"
  if (services && !services.includes('email') && !services.includes('*')) return { early: 'EINVALIDSERVICE' };
  const record: KeyRecord = values.has('h') ? { hashes: list(values.get('h')) } : {};
  const declared = values.has('k')
    ? String(values.get('k') || '')
        .toLowerCase()
        .trim()
    : '';
  const raw = Buffer.from(String(p), 'base64');
  let key: KeyObject;
  try {
    key =
      raw.length === 32 // RFC 8463 §4.2: the bare Ed25519 key
        ? createPublicKey({ key: Buffer.concat([ED25519_SPKI, raw]), format: 'der', type: 'spki' })
        : createPublicKey({ key: raw, format: 'der', type: bareRsa(raw) ? 'pkcs1' : 'spki' });
  } catch {
    return { ...record, late: 'EINVALIDTYPE' };
  }
  const type = key.asymmetricKeyType;
  if ((type !== 'rsa' && type !== 'ed25519') || (declared !== '' && declared !== type)) {
    return { ...record, late: 'EINVALIDTYPE' };
  }
  if (declared === '' && type !== 'rsa') warn('key-type-inferred'); // k= defaults to rsa (§3.6.1)
  const bits = type === 'rsa' ? key.asymmetricKeyDetails?.modulusLength : undefined;
  if (bits !== undefined && bits < MIN_RSA_BITS) return { ...record, late: 'ESHORTKEY', bits };
  const flags = list(values.get('t'));
  return { ...record, key: { key, type, ...(bits === undefined ? {} : { bits }), flags, warnings } };
}

/** RFC 3447 A.1.1 RSAPublicKey (SEQUENCE of INTEGERs) rather than a SubjectPublicKeyInfo (§3.6.1 k=rsa). */
function bareRsa(der: Buffer): boolean {
  if (der.length < 3 || der[0] !== 0x30) return false;
  const header = (der[1] as number) < 0x80 ? 2 : 2 + ((der[1] as number) & 0x7f);
  return der[header] === 0x02;
}
