/**
 * DKIM signing keys of our domains (RFC 6376 §3.6; Ed25519 per RFC 8463): generated with node:crypto,
 * stored (the store keeps the private key), and the TXT record to publish for each. Selectors and
 * domains are checked before anything is stored. Rotation (keys replacing keys once DNS serves them)
 * is in dkim-rotation.ts; signing mail is not done here.
 */

import { generateKeyPair, type KeyObject } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { promisify } from 'node:util';
import type { Config } from '../config/schema.ts';
import { type DkimKey, DkimKeyExistsError, DkimKeyStateTakenError, type Store } from '../store/store.ts';
import { presentationValue, txtStrings } from './zone-lines.ts';

export type DkimAlgorithm = DkimKey['algorithm'];

/** RFC 8301 §3.2: signers MUST use at least 1024 bits and SHOULD use 2048; more is slower but allowed. */
export const RSA_BITS = [2048, 3072, 4096] as const;
export const DEFAULT_RSA_BITS = 2048;
/** What DkimKey.bits holds for an Ed25519 key (RFC 8032 §5.1: 32-octet keys). */
export const ED25519_BITS = 256;

/** The TTL `postern dns records` gives (dns-records.ts RECORD_TTL), so both print the same line. */
const RECORD_TTL = 3600;

export type DkimKeyProblem =
  | 'unknown-domain'
  | 'bad-selector'
  | 'selector-taken'
  | 'bad-bits'
  | 'nothing-to-rotate'
  | 'rotation-under-way'
  | 'which-algorithm'
  | 'no-such-key'
  | 'key-in-use';

/** A request the admin can fix: the message names what is wrong and what to do. */
export class DkimKeyError extends Error {
  readonly code: DkimKeyProblem;
  constructor(code: DkimKeyProblem, message: string) {
    super(message);
    this.code = code;
  }
}

export interface GeneratedKey {
  algorithm: DkimAlgorithm;
  bits: number;
  /** PKCS#8 PEM. */
  privateKey: string;
  /** The record's p= value. */
  publicKey: string;
}

const generate = promisify(generateKeyPair);

/** A fresh key pair; async, because a 4096-bit RSA key takes seconds of CPU. */
export async function generateDkimKey(
  algorithm: DkimAlgorithm,
  bits: number = DEFAULT_RSA_BITS,
): Promise<GeneratedKey> {
  if (algorithm === 'ed25519') {
    const { privateKey, publicKey } = await generate('ed25519');
    return {
      algorithm,
      bits: ED25519_BITS,
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKey: dkimPublicKey(publicKey),
    };
  }
  checkRsaBits(bits);
  const { privateKey, publicKey } = await generate('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  return {
    algorithm,
    bits,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: dkimPublicKey(publicKey),
  };
}

export function checkRsaBits(bits: number): void {
  if (!(RSA_BITS as readonly number[]).includes(bits)) {
    throw new DkimKeyError('bad-bits', `RSA keys are ${RSA_BITS.join(', ')} bits; ${bits} is not one of them`);
  }
}

/** RFC 8410 §4: the SubjectPublicKeyInfo DER of an Ed25519 key is this prefix and the 32-octet key. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * The p= value of a public key. RSA: base64 of the DER SubjectPublicKeyInfo (RFC 6376 §3.6.1 k=rsa);
 * Ed25519: base64 of the bare 32-octet key, not the SPKI (RFC 8463 §4.2), 44 characters.
 */
export function dkimPublicKey(key: KeyObject): string {
  const spki = key.export({ type: 'spki', format: 'der' });
  if (key.asymmetricKeyType === 'rsa') return spki.toString('base64');
  if (key.asymmetricKeyType === 'ed25519' && spki.subarray(0, ED25519_SPKI_PREFIX.length).equals(ED25519_SPKI_PREFIX)) {
    return spki.subarray(ED25519_SPKI_PREFIX.length).toString('base64');
  }
  throw new Error(`not a DKIM key type: ${key.asymmetricKeyType}`);
}

export interface DkimRecord {
  /** `selector._domainkey.domain`, no trailing dot (RFC 6376 §3.6.2.1). */
  name: string;
  /** The record's text as one string: what a DNS provider's web form takes. */
  value: string;
  /** The value as the record's character-strings, each at most 255 octets (RFC 1035 §3.3.14). */
  strings: string[];
  /** `name. TTL IN TXT "…" "…"`: a zone-file line (RFC 1035 §5.1). */
  zoneLine: string;
}

/**
 * The key record of RFC 6376 §3.6.1: v=DKIM1 first (it MUST be), k= always, though rsa is the default,
 * so a reader sees the type. Receivers join the strings without spaces (§3.6.2.2), so a split may
 * fall anywhere, inside p= too.
 */
export function dkimRecord(key: Pick<DkimKey, 'domain' | 'selector' | 'algorithm' | 'publicKey'>): DkimRecord {
  const name = dkimRecordName(key);
  const value = `v=DKIM1; k=${key.algorithm}; p=${key.publicKey}`;
  const rdata = presentationValue({ name, type: 'TXT', ttl: RECORD_TTL, value, purpose: '', where: 'zone' });
  return { name, value, strings: txtStrings(value), zoneLine: `${name}. ${RECORD_TTL} IN TXT ${rdata}` };
}

/** Where a key's record lives: `selector._domainkey.domain` (RFC 6376 §3.6.2.1). */
export function dkimRecordName(key: Pick<DkimKey, 'domain' | 'selector'>): string {
  return `${key.selector}._domainkey.${key.domain}`;
}

/** `postern-YYYYMM` (UTC): a label that sorts by date and says who made it. */
export function defaultSelector(now: Date): string {
  return `postern-${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
}

/**
 * RFC 6376 §3.1: selector = sub-domain *( "." sub-domain ), sub-domain = Let-dig [Ldh-str] (RFC 5321
 * §4.1.2); a label is at most 63 octets (RFC 1035 §2.3.4). Lower-cased: DNS names compare without
 * case (RFC 4343 §3), so `Mail` and `mail` are one selector.
 */
const SELECTOR_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkSelector(input: string, domain: string): string {
  const selector = input.toLowerCase();
  const labels = selector.split('.');
  const bad = labels.find((label) => !SELECTOR_LABEL.test(label));
  if (bad !== undefined) {
    throw new DkimKeyError(
      'bad-selector',
      `"${input}" is not a valid DKIM selector: use letters, digits and hyphens (not first or last), ` +
        'labels of at most 63 characters separated by dots (RFC 6376 §3.1), e.g. postern-202501',
    );
  }
  // RFC 1035 §3.1: the whole name, in text without the final dot, is at most 253 characters.
  if (dkimRecordName({ domain, selector }).length > 253) {
    throw new DkimKeyError(
      'bad-selector',
      `"${input}" is too long: ${selector}._domainkey.${domain} is over 253 characters`,
    );
  }
  return selector;
}

/** A domain of this server (config `domains`), lower case, without a final dot. */
export function checkDomain(config: Config, input: string): string {
  const domain = asciiDomain(input);
  if (!config.domains.includes(domain)) {
    const ours = config.domains.length > 0 ? config.domains.join(', ') : 'none yet';
    throw new DkimKeyError(
      'unknown-domain',
      `${domain} is not one of this server's domains (${ours}); add it to "domains" in the config`,
    );
  }
  return domain;
}

/**
 * A domain as the config holds it: lower case, no root dot, its U-labels as A-labels (RFC 5890
 * §2.3.2.1), so `bücher.example` is the configured `xn--bcher-kva.example`. An invalid IDN stays as
 * written, and matches nothing.
 */
export function asciiDomain(input: string): string {
  const domain = input.toLowerCase().replace(/\.$/, '');
  return domainToASCII(domain) || domain;
}

/** `base`, else `base-2`, `base-3` …: the first selector the domain has not used. */
export function freshSelector(base: string, taken: readonly DkimKey[]): string {
  const used = new Set(taken.map((key) => key.selector));
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) if (!used.has(`${base}-${n}`)) return `${base}-${n}`;
}

export interface NewKeyRequest {
  /** Checked with checkDomain. */
  domain: string;
  /** Checked here; a fresh `postern-YYYYMM` when absent. */
  selector?: string;
  algorithm: DkimAlgorithm;
  /** RSA only; DEFAULT_RSA_BITS when absent. */
  bits?: number;
  now: Date;
}

export interface CreatedKey {
  key: DkimKey;
  /** The active keys it replaces once it is seen in DNS (a pending key; see dkim-rotation.ts). */
  replaces: DkimKey[];
}

/**
 * `postern dkim keygen`: stores a new key. A domain that has no active key gets it active at once,
 * as nothing would sign otherwise; a domain that has one gets it pending, and advanceRotation makes
 * it active, replacing the active key of the same algorithm, once DNS serves its record.
 */
export async function createDkimKey(store: Store, request: NewKeyRequest): Promise<CreatedKey> {
  const { domain, algorithm, now } = request;
  const existing = await store.listDkimKeys(domain);
  // The default selector meets the same checks: postern-YYYYMM-N under a long domain can pass 253.
  const selector = checkSelector(request.selector ?? freshSelector(defaultSelector(now), existing), domain);
  const taken = existing.find((key) => key.selector === selector);
  if (taken) throw selectorTaken(domain, taken);
  if (algorithm === 'rsa') checkRsaBits(request.bits ?? DEFAULT_RSA_BITS);
  // One rotation per domain and algorithm at a time: two pending keys would activate and retire each
  // other in one pass of advanceRotation.
  const waiting = existing.find((key) => key.state === 'pending' && key.algorithm === algorithm);
  if (waiting) {
    throw new DkimKeyError(
      'rotation-under-way',
      `a rotation of ${domain} is under way: ${waiting.selector} waits for its DNS record ${dkimRecordName(waiting)} ` +
        `(postern dkim list shows it; postern dkim rotate --advance checks DNS now; postern dkim remove drops it)`,
    );
  }
  const generated = await generateDkimKey(algorithm, request.bits);
  // An RSA key takes a while to make: another keygen or rotate may have stored its key meanwhile, and
  // two pending (or two first active) keys would break the one-rotation rule. Read again, just before
  // the write; the store refuses what still slips through (two commands within a few milliseconds).
  const current = await store.listDkimKeys(domain);
  const raced = current.find(
    (key) => key.algorithm === algorithm && (key.state === 'pending' || !existing.some((k) => k.id === key.id)),
  );
  if (raced) {
    throw new DkimKeyError(
      'rotation-under-way',
      `another command stored key ${raced.selector} for ${domain} meanwhile (${raced.state}); postern dkim list shows it`,
    );
  }
  const active = current.filter((key) => key.state === 'active');
  try {
    const key = await store.addDkimKey({
      domain,
      selector,
      ...generated,
      state: active.length === 0 ? 'active' : 'pending',
      createdAt: now,
    });
    return { key, replaces: active.filter((k) => k.algorithm === algorithm) };
  } catch (error) {
    // Another process took the selector between our read and our write.
    if (error instanceof DkimKeyExistsError) throw new DkimKeyError('selector-taken', error.message);
    // Another command stored its key between our second read and our write.
    if (error instanceof DkimKeyStateTakenError) {
      throw new DkimKeyError('rotation-under-way', `another command stored a key meanwhile: ${error.message}`);
    }
    throw error;
  }
}

/**
 * `postern dkim remove`: deletes one key. A pending or retired key signs nothing and goes at once; an
 * active or retiring key only with `force` (a leaked key), since mail signed with it, or to be, would
 * then fail to verify: rotation is the safe way to replace it. The domain need not be ours any more.
 */
export async function removeDkimKey(
  store: Store,
  request: { domain: string; selector: string; force: boolean },
): Promise<DkimKey> {
  // Stored under its A-labels (RFC 5890 §2.3.2.1); not checkDomain: a domain no longer configured may go too.
  const domain = asciiDomain(request.domain);
  const keys = await store.listDkimKeys(domain);
  // Selectors are stored in lower case (checkSelector), as DNS compares names (RFC 4343 §3).
  const key = keys.find((k) => k.selector === request.selector.toLowerCase());
  if (!key) {
    const known = keys.map((k) => `${k.selector} (${k.state})`).join(', ') || 'none';
    throw new DkimKeyError(
      'no-such-key',
      `${domain} has no DKIM key with selector ${request.selector} (its keys: ${known})`,
    );
  }
  if (!request.force && key.state === 'active') {
    throw new DkimKeyError(
      'key-in-use',
      `${key.selector} is the active key of ${domain}: postern dkim rotate --domain ${domain} --algo ${key.algorithm} replaces it safely; ` +
        'add --force to remove it now (a leaked key), and then publish an empty key (p=) in its record',
    );
  }
  if (!request.force && key.state === 'retiring') {
    const until = key.retireAfter ? ` until ${key.retireAfter.toISOString()}` : '';
    throw new DkimKeyError(
      'key-in-use',
      `${key.selector} of ${domain} is retiring: receivers may still verify mail it signed${until}, and it is ` +
        'retired by itself then; add --force to remove it now',
    );
  }
  // Gone between our read and the delete: another process removed it first, which is what was asked.
  await store.removeDkimKey(key.id);
  return key;
}

function selectorTaken(domain: string, key: DkimKey): DkimKeyError {
  return new DkimKeyError(
    'selector-taken',
    `${domain} already has a DKIM key with selector ${key.selector} (${key.state}); choose another with --selector`,
  );
}

/** What a p= that is not base64 most often is: the zone-file form's quoted strings pasted into a web form. */
export function notBase64(name: string): string {
  return `${name}: p= holds characters that are not base64 (RFC 6376 §3.6.1), so verifiers refuse the key; quotes pasted from the zone-file form are the usual cause: enter the value as one text without quotes`;
}

/**
 * What a p= of base64 characters that is no whole key most often is: only the first of the zone line's
 * strings published. A key record is longer than one 255-octet string (RFC 1035 §3.3.14), and verifiers
 * join the strings (RFC 6376 §3.6.2.2), so a copy that stops at the first closing quote cuts p= short.
 */
export function truncatedKey(name: string): string {
  return `${name}: the record looks truncated: p= is base64 but no whole key (RFC 6376 §3.6.1), so verifiers refuse it; publish every string of the zone line, or the whole Value as one text`;
}
