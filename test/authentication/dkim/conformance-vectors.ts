/**
 * DKIM conformance vectors (../shared/conformance/dkim/, see its SOURCE.md), shared by vectors.test.ts
 * (wanted results) and differential.test.ts (the same results as the mailauth-based verifier).
 *
 * - Verify vectors: messages signed elsewhere (Stalwart's 001–006, RFC 8463 A.3 = 001; dkimpy's signed
 *   messages) with the key records given beside them.
 * - Sign-then-verify vectors: dkimpy's key pairs and key records (RSA 1024/2048 as SubjectPublicKeyInfo and
 *   bare RSAPublicKey, PKCS#1 and PKCS#8 private keys, Ed25519 seeds) on dkimpy's messages, signed here with
 *   mailauth, as dkimpy's own tests do; the malformed key records are expected to stop verification.
 */

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import type { DkimResultCode } from '../../../src/authentication/dkim/dkim-result.ts';

const DIR = new URL('../../../../shared/conformance/dkim/', import.meta.url);
/** Stalwart verifies its vectors at this time (SOURCE.md); the dkimpy vectors carry no x=. */
export const NOW = new Date(1667843664 * 1000);

export type Want = DkimResultCode[]; // any one of these
export interface Vector {
  id: string;
  message: () => Promise<Buffer>;
  /** Key records by owner name. */
  keys: Record<string, string>;
  /** One entry per DKIM-Signature field, in header order. */
  want: Want[];
  /** The From fields the verifier must count, when the vector is about them. */
  fromFields?: number;
}

const read = (path: string): Buffer => readFileSync(new URL(path, DIR));
const text = (path: string): string => read(path).toString('utf8').trim();
/** The files use LF; mail on the wire uses CRLF (RFC 5322 §2.1). Bytes kept as they are otherwise. */
const crlf = (bytes: Buffer): Buffer => Buffer.from(bytes.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
const PASS: Want = ['pass'];
const NOT_PASS: Want = ['fail', 'permerror', 'neutral'];

/** Stalwart's format: "name TXT-value" lines, a blank line, the message (SOURCE.md). */
function stalwart(n: string, want: Want[]): Vector {
  const raw = read(`stalwart/${n}.txt`).toString('latin1');
  const split = raw.indexOf('\n\n');
  const keys: Record<string, string> = {};
  for (const line of raw.slice(0, split).split('\n')) {
    const space = line.indexOf(' ');
    keys[line.slice(0, space)] = line.slice(space + 1).trim();
  }
  const message = crlf(Buffer.from(raw.slice(split + 2), 'latin1'));
  return { id: `stalwart/${n}`, message: async () => message, keys, want };
}

/** A raw 32-octet Ed25519 seed (dkimpy's .key files, RFC 8032 §5.1.5) as PKCS#8 PEM. */
function ed25519Pem(path: string): string {
  const seed = Buffer.from(text(path), 'base64');
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]); // RFC 8410 §7
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

interface Signing {
  file: string;
  key: string;
  domain: string;
  selector: string;
  canonicalization?: string;
  maxBodyLength?: number;
  /** Appended after signing. */
  tamper?: string;
}

/** Signs a dkimpy message with mailauth; the signature goes on top, as dkimpy's tests prepend theirs. */
function signed(s: Signing): () => Promise<Buffer> {
  return async () => {
    const message = crlf(read(`dkimpy/${s.file}`));
    const privateKey = s.key.startsWith('ed25519:') ? ed25519Pem(s.key.slice(8)) : text(`dkimpy/${s.key}`);
    const data = {
      signingDomain: s.domain,
      selector: s.selector,
      privateKey,
      canonicalization: s.canonicalization ?? 'relaxed/relaxed',
      ...(s.maxBodyLength === undefined ? {} : { maxBodyLength: s.maxBodyLength }),
    };
    // mailauth signs what signatureData lists; its types also want the fields at the top level.
    const { signatures, errors } = await dkimSign(message, { ...data, signTime: NOW, signatureData: [data] });
    assert.ok(signatures, `mailauth did not sign ${s.file}: ${JSON.stringify(errors)}`);
    return Buffer.concat([Buffer.from(signatures), message, Buffer.from(s.tamper ?? '')]);
  };
}

const CANONS = ['simple/simple', 'simple/relaxed', 'relaxed/simple', 'relaxed/relaxed'];
const testKey = (record: string) => ({ 'test._domainkey.example.com': text(`dkimpy/${record}`) });
const rsa = (file: string, key: string, record: string, want: Want, canonicalization?: string): Vector => ({
  id: `dkimpy/${file} signed with ${key}, key ${record}${canonicalization ? ` ${canonicalization}` : ''}`,
  message: signed({
    file,
    key,
    domain: 'example.com',
    selector: 'test',
    ...(canonicalization ? { canonicalization } : {}),
  }),
  keys: testKey(record),
  want: [want],
});

/** dkimpy's RFC 8463 A.2 key records, as its test_dkim.py dnsfunc5 serves them. */
const FOOTBALL = {
  'brisbane._domainkey.football.example.com': 'v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=',
  'test._domainkey.football.example.com': text('dkimpy/test.txt'),
};
/** The gmail.com key test2.message was signed with; dkimpy keeps it in test_dkim.py (dnsfunc), not a file. */
const GMAIL_20120113 =
  'k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1Kd87/UeJjenpabgbFwh+eBCsSTrqmwIYYvywlbhbqoo2DymndFkbjOVIPIldNs/m40KF+yzMn1skyoxcTUGCQs8g3FgD2Ap3ZB5DekAo5wMmk4wimDO+U8QzI3SD07y2+07wlNWwIt8svnxgdxGkVbbhzY8i+RQ9DpSVpPbF7ykQxtKXkv/ahW3KjViiAH+ghvvIhkx4xYSIc9oSwVmAl5OctMEeWUwg8Istjqz8BZeTWbf41fbNhte7Y+YqZOwq1Sd0DbvYAD9NOZK9vlfuac0598HY+vtSBczUiKERHv1yRbcaQtZFh5wtiRrN04BLUTD21MycBX5jYchHjPY/wIDAQAB';
/** test_dkim.py dnsfunc6 (test_catch_bad_key): a 512-bit key with a character dropped from its base64. */
const DEFECTIVE_KEY =
  'k=rsa; p=MFwwDQYJKoZIhvNAQEBBQADSwAwSAJBANmBe10IgY+u7h3enWTukkqtUD5PR52Tb/mPfjC0QJTocVBq6Za/PlzfV+Py92VaCak19F4WrbVTK5Gg5tW220MCAwEAAQ==';

const file = (name: string) => async () => crlf(read(`dkimpy/${name}`));

export const vectors: Vector[] = [
  // RFC 8463 A.3: Ed25519 and RSA signatures of the RFC 6376 example (relaxed/relaxed)
  stalwart('001', [PASS, PASS]),
  stalwart('002', [PASS]),
  stalwart('003', [PASS, PASS]),
  stalwart('004', [PASS]),
  stalwart('005', [PASS]),
  stalwart('006', [PASS]),
  { id: 'dkimpy/rfc6376.signed.msg', message: file('rfc6376.signed.msg'), keys: FOOTBALL, want: [PASS, PASS] },
  { id: 'dkimpy/rfc6376.signed.rsa.msg', message: file('rfc6376.signed.rsa.msg'), keys: FOOTBALL, want: [PASS] },
  {
    id: 'dkimpy/ed25519test2.msg (Exim) + eximtest.dns',
    message: file('ed25519test2.msg'),
    keys: { 'sed._domainkey.test.ex': text('dkimpy/eximtest.dns') },
    want: [PASS],
  },
  {
    id: 'dkimpy/test2.message (degenerate folding, Debian #711751)',
    message: file('test2.message'),
    keys: { '20120113._domainkey.gmail.com': GMAIL_20120113 },
    want: [PASS],
  },
  {
    // d= "legitimate.com(.attacker.com" is not a domain name; dkimpy's test serves a key there, but the
    // name cannot be asked for (c-ares refuses it), so there is no key: permerror, and never a pass.
    id: 'dkimpy/test.message.baddomain',
    message: file('test.message.baddomain'),
    keys: {},
    want: [NOT_PASS],
  },
  {
    id: 'dkimpy/rfc6376.signed.rsa.msg with a defective key (test_catch_bad_key)',
    message: file('rfc6376.signed.rsa.msg'),
    keys: { 'test._domainkey.football.example.com': DEFECTIVE_KEY },
    want: [['permerror']],
  },
  // dkimpy test_verifies: test.private with test.txt, every canonicalization
  ...CANONS.map((c) => rsa('test.message', 'test.private', 'test.txt', PASS, c)),
  rsa('test.message', 'test2.private', 'test.txt', PASS),
  rsa('test.message', 'test.private', 'test2.txt', PASS), // no k=: rsa is the default (RFC 6376 §3.6.1)
  rsa('test.message', 'test.private', 'badversion.txt', ['permerror']), // v= is not DKIM1 (§3.6.1)
  rsa('test.message', 'test.private', 'badk.txt', ['permerror']), // k=ed25519-sha256 is no key type
  rsa('test.message', 'test.private', 'test_bad.txt', ['permerror', 'fail']), // p= is not the signing key
  rsa('test.message', 'test.private', 'test_tlsrpt.txt', ['permerror']), // s=tlsrpt, not email (§3.6.1)
  rsa('test.message', '1024_testkey.key', '1024_testkey_wo_markers.pub.txt', PASS),
  rsa('test.message', '1024_testkey.key', '1024_testkey_wo_markers.pub.rsa.txt', PASS), // bare RSAPublicKey
  rsa('test.message', '2048_testkey.key', '2048_testkey_wo_markers.pub.txt', PASS),
  rsa('test.message', '2048_testkey.key', '2048_testkey_wo_markers.pub.rsa.txt', PASS),
  rsa('test.message', '2048_testkey_PKCS8.key', '2048_testkey_PKCS8.key.pub.txt', PASS),
  rsa('test_extra.message', 'test.private', 'test.txt', PASS),
  rsa('rfc6376.w1258.msg', 'test.private', 'test.txt', PASS), // Windows-1258 octets in From
  {
    // dkimpy (test_no_from_fails) and mailauth both refuse to sign it (RFC 6376 §5.4: From MUST be signed)
    id: 'dkimpy/test_nofrom.message, unsigned',
    message: file('test_nofrom.message'),
    keys: {},
    want: [],
    fromFields: 0,
  },
  {
    // test_extra_headers: signed on top of kitterman.com's 2011 signature, whose key is not served
    id: 'dkimpy/message.mbox signed with test.private over its own signature',
    message: signed({ file: 'message.mbox', key: 'test.private', domain: 'example.com', selector: 'test' }),
    keys: testKey('test.txt'),
    want: [PASS, ['permerror']],
  },
  {
    id: 'dkimpy/test.message with "foo" appended (test_altered_body_fails)',
    message: signed({
      file: 'test.message',
      key: 'test.private',
      domain: 'example.com',
      selector: 'test',
      tamper: 'foo',
    }),
    keys: testKey('test.txt'),
    want: [['fail']],
  },
  {
    id: 'dkimpy/test.message signed with l=10: pass, the rest unsigned (RFC 6376 §8.2)',
    message: signed({
      file: 'test.message',
      key: 'test.private',
      domain: 'example.com',
      selector: 'test',
      maxBodyLength: 10,
    }),
    keys: testKey('test.txt'),
    want: [PASS],
  },
  ...CANONS.map((canonicalization) => ({
    id: `dkimpy/ed25519test.msg signed with ed25519test.key ${canonicalization}`,
    message: signed({
      file: 'ed25519test.msg',
      key: 'ed25519:dkimpy/ed25519test.key',
      domain: 'example.net',
      selector: 'test',
      canonicalization,
    }),
    keys: { 'test._domainkey.example.net': text('dkimpy/ed25519test.dns') },
    want: [PASS],
  })),
  {
    id: 'dkimpy/rfc6376.msg signed with rfc8032_7_1.key (RFC 8463 A.1)',
    message: signed({
      file: 'rfc6376.msg',
      key: 'ed25519:dkimpy/rfc8032_7_1.key',
      domain: 'football.example.com',
      selector: 'brisbane',
    }),
    keys: FOOTBALL,
    want: [PASS],
  },
];
