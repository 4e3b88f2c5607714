/**
 * Differential test: verifyDkim (our RFC 6376 verifier) against the mailauth-based verifier it replaced
 * (legacy-verify-dkim.ts) and against mailauth's dkimVerify itself, on the conformance vectors and on
 * generated messages (folding, trailing and inner white space, empty and blank bodies, l=, bare LF and
 * CR, repeated and over-signed fields, key record variants, several signatures, an ARC set).
 *
 * Per message: the same results field for field as the legacy verifier (result, reason, key size, l=
 * remainder, testing flag, warnings, identity), the same From addresses, the same ARC outcome; and per
 * signature the same pass or not-pass as mailauth's own verdict. Where the tag-lists are read strictly
 * (RFC 6376 §3.2, §6.1.1: a repeated tag, a REQUIRED tag missing, v= not 1, tag names case-sensitive, in
 * signatures and key records) and mailauth reads them leniently, a case says what we give instead
 * (`strict`); tag-list-strict.test.ts holds these to dkimpy's verdicts.
 */

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { DNSResolver } from 'mailauth';
import { sealMessage } from 'mailauth/lib/arc/index.js';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { verifyArc } from '../../../src/authentication/arc/verify-arc.ts';
import type { DkimSignatureResult, DkimVerification } from '../../../src/authentication/dkim/dkim-result.ts';
import { isLookupName, toALabel } from '../../../src/authentication/dkim/syntax.ts';
import { verifyDkim } from '../../../src/authentication/dkim/verify-dkim.ts';
import { mailauthResolver } from '../../../src/authentication/mailauth-resolver.ts';
import type { Resolver } from '../../../src/dns/resolver.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';
import { NOW as VECTORS_NOW, vectors } from './conformance-vectors.ts';
import { legacyVerifyDkim } from './legacy-verify-dkim.ts';

const NOW = new Date('2025-03-01T12:00:00Z');
const HEADER = [
  'Received: from a.example by b.example; Sat, 01 Mar 2025 11:59:00 +0000',
  'Received: from c.example by a.example; Sat, 01 Mar 2025 11:58:00 +0000',
  'From: Joe SixPack <joe@example.com>',
  'To: Suzie Q <suzie@example.net>',
  'To: second@example.net',
  'Subject: Is dinner',
  '  ready?\t',
  'Date: Sat, 01 Mar 2025 12:00:00 +0000',
  'Message-ID: <20250301120000.1@example.com>',
].join('\r\n');
const BODY = ['Hi.  ', '', 'We lost the game.\tAre you hungry yet?', ' indented', '', 'Joe.', '', ''].join('\r\n');
const MESSAGE = `${HEADER}\r\n\r\n${BODY}`;

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
const rsa512 = generateKeyPairSync('rsa', { modulusLength: 512 });
const ed = generateKeyPairSync('ed25519');
const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' }).toString('base64');
const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
const P = spki(rsa.publicKey);
const ED = ed.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');

/** Selector → key record (all at example.com); the RSA ones publish `rsa` unless said otherwise. */
const RECORDS: Record<string, string> = {
  rsa: `v=DKIM1; k=rsa; p=${P}`,
  ed: `v=DKIM1; k=ed25519; p=${ED}`,
  edspki: `v=DKIM1; k=ed25519; p=${spki(ed.publicKey)}`,
  edinfer: `v=DKIM1; p=${ED}`,
  trial: `v=DKIM1; k=rsa; t=y; p=${P}`,
  exact: `v=DKIM1; k=rsa; t=s:y; p=${P}`,
  sha1only: `v=DKIM1; k=rsa; h=sha1; p=${P}`,
  sha256: `v=DKIM1; k=rsa; h=sha1:sha256; p=${P}`,
  tlsrpt: `v=DKIM1; k=rsa; s=tlsrpt; p=${P}`,
  star: `v=DKIM1; k=rsa; s=*; p=${P}`,
  v2: `v=DKIM2; k=rsa; p=${P}`,
  vlate: `k=rsa; v=DKIM1; p=${P}`,
  nov: `k=rsa; p=${P}`,
  faulty: `v=DKIM1; k=rsa;; P=${P}; n=a=b`,
  spaced: `v=DKIM1; k=rsa; p=${P.slice(0, 40)} ${P.slice(40)}`,
  revoked: 'v=DKIM1; k=rsa; p=',
  nop: 'v=DKIM1; k=rsa',
  badb64: 'v=DKIM1; k=rsa; p=!!!!',
  notakey: `v=DKIM1; k=rsa; p=${Buffer.from('not a key at all').toString('base64')}`,
  kmismatch: `v=DKIM1; k=ed25519; p=${P}`,
  bare: `v=DKIM1; k=rsa; p=${rsa.publicKey.export({ type: 'pkcs1', format: 'der' }).toString('base64')}`,
  old: `v=DKIM1; k=rsa; p=${spki(rsa1024.publicKey)}`,
  short: `v=DKIM1; k=rsa; p=${spki(rsa512.publicKey)}`,
  empty: '',
};
const KEYS: Record<string, KeyObject> = { ed: ed.privateKey, edspki: ed.privateKey, edinfer: ed.privateKey };
KEYS.old = rsa1024.privateKey;
KEYS.short = rsa512.privateKey;

interface Signer {
  selector: string;
  canon?: string;
  algorithm?: string;
  limit?: number;
  identity?: string;
  headerList?: string;
  expires?: Date;
  key?: KeyObject;
}

async function sign(message: string, ...signers: Signer[]): Promise<string> {
  const data = signers.map((s) => ({
    signingDomain: 'example.com',
    selector: s.selector,
    privateKey: pem(s.key ?? KEYS[s.selector] ?? rsa.privateKey),
    canonicalization: s.canon ?? 'relaxed/relaxed',
    ...(s.algorithm ? { algorithm: s.algorithm } : {}),
    ...(s.limit === undefined ? {} : { maxBodyLength: s.limit }),
    ...(s.identity ? { identity: s.identity } : {}),
    ...(s.headerList ? { headerList: s.headerList } : {}),
  }));
  const expires = signers[0]?.expires;
  const { signatures } = await dkimSign(message, {
    ...(data[0] as (typeof data)[number]),
    signTime: new Date(NOW.getTime() - 60_000),
    ...(expires ? { expires } : {}),
    signatureData: data,
  });
  return signatures + message;
}

/** Our permerror for a case's one signature where the legacy verifier and mailauth read leniently. */
interface Strict {
  reason: string;
  /** d= as we name it, when it differs (a D= tag is not d=). */
  domain?: string;
}

interface Case {
  id: string;
  message: () => Promise<string | Buffer>;
  strict?: Strict;
  now?: Date;
  /** Key records by owner name, for the vectors; the generated cases use RECORDS. */
  keys?: Record<string, string>;
}

const cases: Case[] = [];
const add = (id: string, message: () => Promise<string | Buffer>, strict?: Strict) =>
  cases.push(strict === undefined ? { id, message } : { id, message, strict });
const CANONS = ['simple/simple', 'simple/relaxed', 'relaxed/simple', 'relaxed/relaxed'];
const MUTATIONS: [string, (m: string) => string][] = [
  ['as signed', (m) => m],
  ['header white space', (m) => m.replace('Subject: Is dinner', 'Subject:   Is  \tdinner')],
  ['header name case', (m) => m.replace('\r\nSubject:', '\r\nSUBJECT :')],
  ['header refolded', (m) => m.replace('Is dinner\r\n  ready?\t', 'Is\r\n\tdinner ready?')],
  ['body trailing white space', (m) => m.replace('Hi.  \r\n', 'Hi. \t \r\n')],
  ['body inner white space', (m) => m.replace('lost the', 'lost \t  the')],
  ['body blank lines appended', (m) => `${m}\r\n \r\n\t\r\n`],
  ['body changed', (m) => m.replace('hungry', 'thirsty')],
  ['bare LF everywhere', (m) => m.replace(/\r\n/g, '\n')],
  ['bare LF in the body', (m) => m.replace('Joe.\r\n', 'Joe.\n\n')],
  ['bare CR added to the body', (m) => m.replace('Joe.', 'Jo\re \r.')],
  ['a field added on top', (m) => `To: evil@example.org\r\n${m}`],
];
for (const canon of CANONS) {
  for (const selector of ['rsa', 'ed']) {
    for (const [name, mutate] of MUTATIONS) {
      add(`${selector} ${canon}: ${name}`, async () => mutate(await sign(MESSAGE, { selector, canon })));
    }
  }
}
const BODIES: [string, string][] = [
  ['empty body', ''],
  ['body of one CRLF', '\r\n'],
  ['body of blank lines', '\r\n \r\n\t\r\n\r\n'],
  ['no CRLF at the end', 'last line  '],
  ['only white space, no CRLF', ' \t '],
  ['bare CR before CRLF', 'a \r\r\nb\r \r\n'],
  ['leading blank lines', '\r\n\r\n  x  y  \r\n'],
  ['long body', `${'The quick brown fox  jumps over the lazy dog \r\n'.repeat(300)}\t\r\n`],
];
for (const [name, body] of BODIES) {
  for (const canon of ['simple/simple', 'relaxed/relaxed']) {
    add(`${name}, ${canon}`, () => sign(`${HEADER}\r\n\r\n${body}`, { selector: 'rsa', canon }));
  }
}
add('header only, no empty line', () => sign(`${HEADER}\r\n`, { selector: 'rsa' }));
for (const limit of [0, 1, 10, 10_000]) {
  for (const canon of ['simple/simple', 'relaxed/relaxed']) {
    add(
      `l=${limit} ${canon}, text appended`,
      async () => `${await sign(MESSAGE, { selector: 'rsa', canon, limit })}PS: click\r\n`,
    );
  }
}
add('three signatures sharing body hashes, one with l=', async () =>
  (
    await sign(
      MESSAGE,
      { selector: 'rsa' },
      { selector: 'ed' },
      { selector: 'trial', canon: 'simple/simple', limit: 20 },
      { selector: 'old', canon: 'relaxed/simple' },
    )
  ).replace('hungry', 'HUNGRY'),
);
add('over-signed and absent fields in h=', () =>
  sign(MESSAGE, { selector: 'rsa', headerList: 'From:From:To:To:To:Subject:Received:X-Absent:Date' }),
);
add(
  'over-signed From, a From added',
  async () =>
    `From: mallory@example.org\r\n${await sign(MESSAGE, { selector: 'rsa', headerList: 'From:From:Subject' })}`,
);
/** Key records read strictly (RFC 6376 §3.2): the permerror each gives. */
const STRICT_RECORDS: Record<string, Strict> = {
  faulty: {
    reason:
      'unusable key record at faulty._domainkey.example.com: invalid public key: no p= (P= is not p=: tag names are case-sensitive) (RFC 6376 §3.2, §6.1.2)',
  },
};
for (const selector of Object.keys(RECORDS)) {
  add(`key record ${selector}`, () => sign(MESSAGE, { selector }), STRICT_RECORDS[selector]);
}
add('no key record', () => sign(MESSAGE, { selector: 'absent' }));
add('key lookup SERVFAIL', () => sign(MESSAGE, { selector: 'broken' }));
add('h= without From, with l=', async () =>
  (await sign(MESSAGE, { selector: 'rsa', limit: 5 })).replace(/h=[^;]*/, 'h=To:Subject'),
);
add('a skipped signature between two verified ones', async () =>
  (await sign(MESSAGE, { selector: 'rsa' }, { selector: 'ed', canon: 'simple/simple' }, { selector: 'old' })).replace(
    'a=ed25519-sha256',
    'a=ed25519-sha512',
  ),
);
add('signature field name in lower case (relaxed)', async () =>
  (await sign(MESSAGE, { selector: 'rsa' })).replace('DKIM-Signature:', 'dkim-signature :'),
);
add('rsa-sha1', () => sign(MESSAGE, { selector: 'rsa', algorithm: 'rsa-sha1' }));
add('rsa-sha1, body changed', async () =>
  (await sign(MESSAGE, { selector: 'sha1only', algorithm: 'rsa-sha1' })).replace('hungry', 'x'),
);
add('ed25519 signature, RSA key', () => sign(MESSAGE, { selector: 'rsa', key: ed.privateKey }));
add('rsa signature, key of another RSA pair', () => sign(MESSAGE, { selector: 'old', key: rsa.privateKey }));
for (const identity of ['joe@example.com', '@mail.example.com', 'ceo@example.org', 'joe=40x@example.com']) {
  add(`i=${identity}`, () => sign(MESSAGE, { selector: 'rsa', identity }));
  add(`i=${identity}, key t=s`, () => sign(MESSAGE, { selector: 'exact', identity }));
}
add('expired x=', () => sign(MESSAGE, { selector: 'rsa', expires: new Date(NOW.getTime() - 1000) }));
add('x= in the future', () => sign(MESSAGE, { selector: 'rsa', expires: new Date(NOW.getTime() + 3_600_000) }));
const missing = (tag: string) => `signature missing required tag ${tag}= (RFC 6376 §6.1.1)`;
const TAG_EDITS: [string, (m: string) => string, Strict?][] = [
  ['a=rsa-sha512', (m) => m.replace('a=rsa-sha256', 'a=rsa-sha512')],
  ['c=odd/relaxed', (m) => m.replace('c=relaxed/relaxed', 'c=odd/relaxed')],
  ['c=relaxed', (m) => m.replace('c=relaxed/relaxed', 'c=relaxed')],
  ['no s=', (m) => m.replace(/s=rsa;/, ''), { reason: missing('s') }],
  ['h= without From', (m) => m.replace(/h=[^;]*/, 'h=To:Subject')],
  ['no h=', (m) => m.replace(/h=[^;]*;/, ''), { reason: missing('h') }],
  ['no bh=', (m) => m.replace(/bh=[^;]*;/, ''), { reason: missing('bh') }],
  ['no v=', (m) => m.replace('v=1; ', ''), { reason: missing('v') }],
  ['v=2', (m) => m.replace('v=1;', 'v=2;'), { reason: 'v=2 is not v=1: incompatible version (RFC 6376 §3.5, §6.1.1)' }],
  [
    'upper-case tag names',
    (m) => m.replace('d=example.com', 'D=example.com'),
    {
      reason:
        'signature missing required tag d= (D= is not d=: tag names are case-sensitive, RFC 6376 §3.2) (RFC 6376 §6.1.1)',
      domain: '',
    },
  ],
  [
    'repeated tag',
    (m) => m.replace('d=example.com;', 'd=example.com; d=example.com;'),
    { reason: 'the tag d= occurs more than once, which makes the tag-list invalid (RFC 6376 §3.2, §6.1.1)' },
  ],
  ['unknown tag with b=', (m) => m.replace('d=example.com;', 'd=example.com; z=x|b=y;')],
  [
    'q=dns/other', // mailauth's signer writes q=dns/txt: a second q=
    (m) => m.replace('d=example.com;', 'd=example.com; q=dns/other;'),
    { reason: 'the tag q= occurs more than once, which makes the tag-list invalid (RFC 6376 §3.2, §6.1.1)' },
  ],
  [
    't= not a number', // §3.5 sig-t-tag = 1*12DIGIT: a syntax error (§6.1.1), as dkimpy; mailauth ignores it
    (m) => m.replace(/t=\d+/, 't=soon'),
    { reason: 't=soon is not 1*12DIGIT: signature syntax error (RFC 6376 §3.5, §6.1.1)' },
  ],
  ['b= emptied', (m) => m.replace(/\bb=[^;]*$/m, 'b=')],
];
for (const [name, edit, strict] of TAG_EDITS)
  add(`tag edit: ${name}`, async () => edit(await sign(MESSAGE, { selector: 'rsa' })), strict);
const FROMS = [
  'From: Joe <joe@example.com>, "Doe, Jane" <jane@example.net>',
  'From: undisclosed: a@example.com, b@example.net;',
  'From: (comment) joe@example.com (Joe)',
  'From: =?utf-8?q?J=C3=B6e?= <joe@example.com>',
  'From: Jöe <jöe@exämple.com>',
  'From\r\n : late@example.com',
  'Subject: no From at all',
  'From: a@example.com\r\nFrom: b@example.net',
];
for (const from of FROMS) {
  add(`unsigned, ${from.split('\r\n').join(' / ')}`, async () =>
    Buffer.from(`${from}\r\nTo: x@example.net\r\n\r\nHi\r\n`),
  );
}
add(
  'unsigned, odd header lines',
  async () => 'Subject: x\r\nnot a field\r\n continued\r\nFrom: a@example.com\r\n\r\nb\r\n',
);
add('unsigned, empty header section', async () => '\r\nFrom: a@example.com\r\n');
add('DKIM-signed over an ARC set', async () => {
  const arcSet = await sealMessage(Buffer.from(MESSAGE), {
    signingDomain: 'example.com',
    selector: 'rsa',
    privateKey: pem(rsa.privateKey),
    authResults: 'example.com; dkim=pass header.d=example.com',
  });
  return sign(arcSet.toString('latin1') + MESSAGE, { selector: 'ed' });
});
for (const v of vectors) {
  cases.push({ id: `vector ${v.id}`, message: v.message, now: VECTORS_NOW, keys: v.keys });
}

let dns: TestDnsServer;
let resolver: Resolver;
const zone = (keys: Record<string, string>) => ({
  records: Object.fromEntries(Object.entries(keys).map(([name, txt]) => [name, { TXT: [txt] }])),
  servfail: ['broken._domainkey.example.com'],
});
const generated = Object.fromEntries(Object.entries(RECORDS).map(([s, txt]) => [`${s}._domainkey.example.com`, txt]));
before(async () => {
  dns = await startTestDnsServer(zone(generated));
  resolver = createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1, cacheTtlMs: 0 });
});
after(() => dns.close());

/** What the legacy verifier reported that was not so; the new verifier is right (see each). */
function expected(legacy: DkimVerification): DkimVerification {
  for (const s of legacy.signatures) {
    // mailauth reported 0 unsigned octets for a signature it did not hash at all (h= without From).
    if (s.reason.startsWith('From is not among') && s.unsignedBodyBytes === 0) delete s.unsignedBodyBytes;
    // mailauth verified an ed25519-sha256 signature with an RSA key (keyBits is an RSA key's size):
    // RFC 6376 §6.1.2 step 8 says permerror, "inappropriate key algorithm", without verifying.
    if (s.algorithm === 'ed25519-sha256' && s.keyBits !== undefined) {
      s.result = 'permerror';
      s.reason = `the key at ${s.selector}._domainkey.${s.domain} is rsa, not for a=ed25519-sha256 (RFC 6376 §6.1.2)`;
      delete s.keyBits;
    }
    // mailauth asked DNS for a key under a d= or s= that is no DNS name (one with a NUL is asked for
    // elsewhere); such a signature cannot be processed: neutral (RFC 8601 §2.7.1), nothing asked.
    if (s.domain && s.selector && (!isLookupName(toALabel(s.domain)) || !isLookupName(toALabel(s.selector)))) {
      s.result = 'neutral';
      s.reason = 'd= or s= is not a DNS name a key could be looked up under (RFC 6376 §3.6.2.1) (RFC 6376 §6.1.1)';
      delete s.warnings;
    }
  }
  return legacy;
}

/** A signature's result as a strict reading gives it: permerror before any key is used. */
function strictly(s: DkimSignatureResult, strict: Strict): DkimSignatureResult {
  const { domain, selector, algorithm, identity, headerB } = s;
  return {
    domain: strict.domain ?? domain,
    selector,
    algorithm,
    ...(identity === undefined ? {} : { identity }),
    ...(headerB === undefined ? {} : { headerB }),
    result: 'permerror',
    reason: strict.reason,
  };
}

for (const c of cases) {
  test(`differential: ${c.id}`, async () => {
    dns.setZone(zone(c.keys ?? generated));
    const raw = await c.message();
    const message = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
    const now = c.now ?? NOW;
    const got = await verifyDkim(message, { resolver, now });
    const legacy = await legacyVerifyDkim(message, { resolver, now });
    const { strict } = c;
    const want = expected(legacy).signatures;
    assert.deepEqual(got.signatures, strict === undefined ? want : want.map((s) => strictly(s, strict)));
    assert.deepEqual([got.headerFrom, got.fromFields], [legacy.headerFrom, legacy.fromFields]);
    assert.deepEqual(await verifyArc(got.arc, { resolver }), await verifyArc(legacy.arc, { resolver }));

    // Per signature, pass or not, against mailauth's own verdict (it leaves out what it cannot process).
    const mailauth = await dkimVerify(message, {
      resolver: mailauthResolver(resolver) as DNSResolver,
      curTime: now,
      minBitLength: 1024,
      rejectRsaSha1: true,
    });
    for (const r of mailauth.results.filter((x) => x.status.result !== 'none')) {
      const ours = got.signatures.find((s) => (s.headerB ?? false) === (r.status.header?.b ?? false));
      assert.ok(ours, `no result for mailauth's ${r.status.header?.b}`);
      if (strict !== undefined) continue; // compared with the legacy verifier's result above
      const pass = r.status.result === 'pass' && !r.status.warnings?.includes('identity-domain');
      assert.equal(ours.result === 'pass', pass, `${ours.result} (${ours.reason}) vs mailauth ${r.status.result}`);
    }
  });
}
