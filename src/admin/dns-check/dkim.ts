/**
 * DKIM keys (RFC 6376 §3.6) of the domain: each stored key that is published (pending, active, retiring)
 * has its record at `selector._domainkey.domain`, the record parses (§3.6.1: v=DKIM1 first, k=, p=) and
 * carries the stored public key; RSA keys are 2048 bits or more (RFC 8301 §3.2). A retired key's record is
 * gone or revoked (empty p=, §3.6.1). Keys come from the store, so a record in DNS for a selector Postern
 * does not know is not judged.
 */

import { createPublicKey } from 'node:crypto';
import { isKeyBase64 } from '../../authentication/dkim/key-record.ts';
import { list, parseTagList } from '../../authentication/dkim/tag-list.ts';
import type { DkimKey } from '../../store/store.ts';
import { notBase64, truncatedKey } from '../dkim-keys.ts';
import type { CheckContext } from './context.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';

const PUBLISHED = new Set<DkimKey['state']>(['pending', 'active', 'retiring']);

export async function checkDkim(ctx: CheckContext): Promise<Check[]> {
  const { domain } = ctx;
  const stored = await ctx.store.listDkimKeys(domain);
  const keys = stored.filter((key) => PUBLISHED.has(key.state));
  const active = keys.filter((key) => key.state === 'active');
  const checks: Check[] = [];
  if (active.length > 0) {
    // "active", not "signing": the keys are kept and published; outbound signing comes with delivery.
    checks.push(pass('dkim', 'dkim.keys', `active key ${active.map((k) => k.selector).join(', ')}`));
  } else if (keys.length > 0) {
    checks.push(
      warn(
        'dkim',
        'dkim.keys',
        `no active key yet; ${keys.map((k) => `${k.selector} is ${k.state}`).join(', ')}`,
        `Publish the pending key's record (postern dns records ${domain}); postern starts signing once DNS serves it.`,
      ),
    );
  } else {
    checks.push(
      fail(
        'dkim',
        'dkim.keys',
        `postern has no DKIM key for ${domain}: its mail goes out unsigned`,
        `Run "postern dkim keygen --domain ${domain} --selector <name>" and publish the record it prints.`,
      ),
    );
  }
  for (const key of keys) {
    checks.push(await recordCheck(ctx, key), strength(key));
  }
  // Side by side: retired keys pile up over rotations, and a DNS timeout should cost its wait once.
  checks.push(...(await Promise.all(stored.filter((k) => k.state === 'retired').map((k) => retiredCheck(ctx, k)))));
  return checks;
}

/**
 * A retired key signs nothing, but while its record is published, signatures made with it still verify:
 * a key rotated because it leaked goes on signing as the domain. The M3AAWG DKIM key rotation
 * BCP removes the record; RFC 6376 §3.6.1 revokes a key by an empty p=. Only the retired key's own
 * bytes count: another key at the selector is not Postern's to judge.
 */
async function retiredCheck(ctx: CheckContext, key: DkimKey): Promise<Check> {
  const name = `${key.selector}._domainkey.${ctx.domain}`;
  const txt = await ctx.resolver.txt(name);
  if (!txt.ok) {
    if (txt.error === 'temperror')
      return couldNotCheck('dkim', 'dkim.retired', `TXT ${name}`, txt.reason, key.selector);
    return pass(
      'dkim',
      'dkim.retired',
      `${name} (the retired key ${key.selector}) is no longer published`,
      key.selector,
    );
  }
  // Read as the most lenient verifier reads it (tag names in any case): the one that would still accept it.
  const keys = txt.records.map((text) => parseTagList(text).values.get('p')).filter((p) => p !== undefined);
  // §3.6.2.2: with several records at the name a verifier may use any of them, so one publishing the key is enough.
  if (keys.some((p) => p !== '' && sameKey(String(p), key))) {
    return warn(
      'dkim',
      'dkim.retired',
      `${name} still publishes the retired key ${key.selector}: mail signed with it still verifies, so if the key leaked, forged mail passes DKIM as ${ctx.domain}`,
      `Remove the TXT record ${name}, or revoke the key by publishing "v=DKIM1; p=" there (RFC 6376 §3.6.1).`,
      key.selector,
    );
  }
  const summary = keys.includes('')
    ? `${name} revokes the retired key ${key.selector} (empty p=, RFC 6376 §3.6.1)`
    : `${name} no longer publishes the retired key ${key.selector}`;
  return pass('dkim', 'dkim.retired', summary, key.selector);
}

async function recordCheck(ctx: CheckContext, key: DkimKey): Promise<Check> {
  const name = `${key.selector}._domainkey.${ctx.domain}`;
  const republish = `Publish the record "postern dns records ${ctx.domain}" prints for ${name}.`;
  const bad = (summary: string) => fail('dkim', 'dkim.record', summary, republish, key.selector);
  const txt = await ctx.resolver.txt(name);
  if (!txt.ok) {
    if (txt.error === 'temperror') return couldNotCheck('dkim', 'dkim.record', `TXT ${name}`, txt.reason, key.selector);
    const summary = `${name} has no DKIM record (the ${key.state} key ${key.selector})`;
    // A pending key is published on the admin's time; a retiring one still verifies mail in transit.
    if (key.state === 'active') return bad(summary);
    return warn('dkim', 'dkim.record', summary, republish, key.selector);
  }
  // RFC 6376 §3.6.2.2: several records at one name make the verifier's choice undefined.
  if (txt.records.length > 1) return bad(`${name} has ${txt.records.length} TXT records; keep only the DKIM record`);
  const judged = judgeDkimRecord(name, txt.records[0] as string, key);
  switch (judged.verdict) {
    case 'fail':
      return bad(judged.summary);
    case 'warn':
      return warn('dkim', 'dkim.record', judged.summary, judged.fix, key.selector);
    case 'pass':
      return pass('dkim', 'dkim.record', `${name} publishes the stored ${key.algorithm} key`, key.selector);
    default:
      return judged satisfies never;
  }
}

/** What judgeDkimRecord makes of a key's one TXT record; `problem` says why a failing one fails. */
export type DkimRecordVerdict =
  | { verdict: 'pass' }
  | { verdict: 'warn'; summary: string; fix: string }
  | { verdict: 'fail'; summary: string; problem: RecordFault };

/** Why a failing record fails: no p=, a p= verifiers cannot decode (stray characters, or cut short), or another key. */
export type RecordFault = 'no-key' | 'not-base64' | 'truncated' | 'unusable';

/**
 * The one judgement of a DKIM key record, shared by `postern dns check` and rotation (which activates
 * a key only on a `pass`): the record at `name` must be the key's, written as RFC 6376 §3.6.1 and RFC
 * 8463 §4.2 say, not merely one some verifier might still read.
 */
export function judgeDkimRecord(
  name: string,
  text: string,
  key: Pick<DkimKey, 'selector' | 'algorithm' | 'publicKey'>,
): DkimRecordVerdict {
  const bad = (summary: string, problem: RecordFault = 'unusable'): DkimRecordVerdict => ({
    verdict: 'fail',
    summary,
    problem,
  });
  const record = text.replace(/\s+/g, '');
  const { specs, faults } = parseTagList(record);
  // §3.2: tag names are case-sensitive; a repeated tag makes the record invalid.
  if (faults > 0) return bad(`${name} is not a valid tag=value list (RFC 6376 §3.2): "${record.slice(0, 60)}"`);
  const tag = (n: string) => specs.find((s) => s.name === n)?.value;
  const v = tag('v');
  if (v !== undefined && (v !== 'DKIM1' || specs[0]?.name !== 'v')) {
    return bad(`${name}: v= must come first and be DKIM1 (RFC 6376 §3.6.1), found v=${v}`);
  }
  const k = tag('k') ?? 'rsa'; // §3.6.1: k= defaults to rsa
  // RFC 5234 §2.3: the ABNF literals "rsa" and "ed25519" match in any case, as verifiers read them.
  if (k.toLowerCase() !== key.algorithm) {
    const said = tag('k') === undefined ? 'has no k=, which means k=rsa (RFC 6376 §3.6.1)' : `says k=${k}`;
    return bad(`${name} ${said}, but the stored key ${key.selector} is ${key.algorithm}`);
  }
  const p = tag('p');
  if (p === undefined) {
    // §3.2: tag names are case-sensitive, so "P=" is no p=.
    const cased = specs.find((s) => s.name === 'P') ?? specs.find((s) => s.name !== s.name.toLowerCase());
    return bad(
      cased
        ? `${name} has no p= but ${cased.name}=: tag names are case-sensitive (RFC 6376 §3.2), write them in lower case`
        : `${name} has no p= (the public key)`,
      'no-key',
    );
  }
  if (p === '') return bad(`${name} has an empty p=, which revokes the key (RFC 6376 §3.6.1)`);
  if (!isKeyBase64(p)) {
    // Only base64 characters, but a length no base64 has: the value stops early, no quote got in.
    return BASE64_ALPHABET.test(p) ? bad(truncatedKey(name), 'truncated') : bad(notBase64(name), 'not-base64');
  }
  // RFC 5234 §2.3: the values of s=, h= and t= are ABNF literals ("email", "sha256", "y"), matched in any
  // case, and key-record.ts (the verifier) reads them so: the same list() here.
  const services = tag('s') === undefined ? undefined : list(tag('s'));
  if (services && !services.includes('email') && !services.includes('*')) {
    return bad(`${name}: s=${tag('s')} does not allow email (RFC 6376 §3.6.1)`);
  }
  const hashes = tag('h') === undefined ? undefined : list(tag('h'));
  if (hashes && !hashes.includes('sha256')) return bad(`${name}: h=${tag('h')} does not allow sha256`);
  if (!sameKey(p, key)) {
    if (key.algorithm === 'ed25519' && ed25519Spki(p)?.equals(Buffer.from(key.publicKey, 'base64'))) {
      return bad(
        `${name} publishes the stored key as a SubjectPublicKeyInfo; an Ed25519 p= is the bare 32-byte key (RFC 8463 §4.2), so receivers cannot use it`,
      );
    }
    if (cutShort(p, key)) return bad(truncatedKey(name), 'truncated');
    return bad(`${name} publishes a different public key than the stored ${key.selector}: signatures will fail`);
  }
  if (list(tag('t')).includes('y')) {
    return {
      verdict: 'warn',
      summary: `${name} is in testing mode (t=y): receivers treat signed mail as unsigned (RFC 6376 §3.6.1)`,
      fix: 'Remove t=y from the record once signatures verify.',
    };
  }
  return { verdict: 'pass' };
}

/** The record's p= against the store's: the same bytes, or for RSA the same key in another DER form. */
function sameKey(published: string, key: Pick<DkimKey, 'algorithm' | 'publicKey'>): boolean {
  const a = Buffer.from(published, 'base64');
  const b = Buffer.from(key.publicKey, 'base64');
  if (a.equals(b)) return true;
  if (key.algorithm !== 'rsa') return false;
  const x = rsaSpki(a);
  const y = rsaSpki(b);
  return x !== undefined && y !== undefined && x.equals(y);
}

const BASE64_ALPHABET = /^[A-Za-z0-9+/=]+$/;

/**
 * A p= that decodes, yet to no key, and is shorter than the stored one: a record cut at a string's end
 * (the strings are joined without spaces, RFC 6376 §3.6.2.2) can still be of a base64 length.
 */
function cutShort(published: string, key: Pick<DkimKey, 'algorithm' | 'publicKey'>): boolean {
  if (published.length >= key.publicKey.length) return false;
  const der = Buffer.from(published, 'base64');
  // RFC 8463 §4.2: an Ed25519 p= is the bare 32-octet key.
  return key.algorithm === 'ed25519' ? der.length < 32 : rsaSpki(der) === undefined;
}

/** The bare 32-byte key inside an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4), as some tools publish it. */
function ed25519Spki(published: string): Buffer | undefined {
  try {
    const key = createPublicKey({ key: Buffer.from(published, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' ? key.export({ format: 'der', type: 'spki' }).subarray(-32) : undefined;
  } catch {
    return undefined;
  }
}

/** §3.6.1 k=rsa: p= is a SubjectPublicKeyInfo, though some publish the bare RSAPublicKey (RFC 8017 A.1.1). */
function rsaSpki(der: Buffer): Buffer | undefined {
  for (const type of ['spki', 'pkcs1'] as const) {
    try {
      return createPublicKey({ key: der, format: 'der', type }).export({ type: 'spki', format: 'der' });
    } catch {
      // not this form; try the next
    }
  }
  return undefined;
}

/** RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits and SHOULD use 2048 or more. */
function strength(key: DkimKey): Check {
  if (key.algorithm === 'ed25519')
    return pass('dkim', 'dkim.strength', `${key.selector}: Ed25519 (RFC 8463)`, key.selector);
  const rotate = `Rotate to an RSA key of 2048 bits or more: postern dkim rotate --domain ${key.domain}.`;
  if (key.bits < 1024) {
    return fail(
      'dkim',
      'dkim.strength',
      `${key.selector}: RSA ${key.bits} bits; receivers must ignore such signatures (RFC 8301 §3.2)`,
      rotate,
      key.selector,
    );
  }
  if (key.bits < 2048) {
    return warn(
      'dkim',
      'dkim.strength',
      `${key.selector}: RSA ${key.bits} bits, below the 2048 RFC 8301 §3.2 recommends`,
      rotate,
      key.selector,
    );
  }
  return pass('dkim', 'dkim.strength', `${key.selector}: RSA ${key.bits} bits`, key.selector);
}
