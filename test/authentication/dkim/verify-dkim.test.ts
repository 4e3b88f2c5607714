/** verifyDkim through a real loopback DNS server (RFC 6376, RFC 8463, RFC 8301): messages signed here. */

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash, sign as cryptoSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { relaxedBody, relaxedField } from '../../../src/authentication/dkim/canonicalize.ts';
import type { DkimSignatureResult } from '../../../src/authentication/dkim/dkim-result.ts';
import { verifyDkim } from '../../../src/authentication/dkim/verify-dkim.ts';
import type { Resolver } from '../../../src/dns/resolver.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';

const NOW = new Date('2025-03-01T12:00:00Z');
const MESSAGE = [
  'From: Joe SixPack <joe@example.com>',
  'To: Suzie Q <suzie@example.net>',
  'Subject: Is dinner ready?',
  'Date: Sat, 01 Mar 2025 12:00:00 +0000',
  'Message-ID: <20250301120000.1@example.com>',
  '',
  'Hi.',
  '',
  'We lost the game. Are you hungry yet?',
  '',
  'Joe.',
  '',
].join('\r\n');

const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
const rsa512 = generateKeyPairSync('rsa', { modulusLength: 512 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');

const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' }).toString('base64');
/** RFC 8463 §4.2: the bare 32-octet Ed25519 key, the last octets of its SubjectPublicKeyInfo. */
const rawEd25519 = (key: KeyObject) => key.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');

let dns: TestDnsServer;
let resolver: Resolver;

before(async () => {
  dns = await startTestDnsServer({
    records: {
      'rsa._domainkey.example.com': { TXT: [`v=DKIM1; k=rsa; p=${spki(rsa2048.publicKey)}`] },
      'old._domainkey.example.com': { TXT: [`v=DKIM1; k=rsa; p=${spki(rsa1024.publicKey)}`] },
      'short._domainkey.example.com': { TXT: [`v=DKIM1; k=rsa; p=${spki(rsa512.publicKey)}`] },
      'ed._domainkey.example.com': { TXT: [`v=DKIM1; k=ed25519; p=${rawEd25519(ed.publicKey)}`] },
      'revoked._domainkey.example.com': { TXT: ['v=DKIM1; k=rsa; p='] },
      'trial._domainkey.example.com': { TXT: [`v=DKIM1; k=rsa; t=y; p=${spki(rsa2048.publicKey)}`] },
      'exact._domainkey.example.com': { TXT: [`v=DKIM1; k=rsa; t=s; p=${spki(rsa2048.publicKey)}`] },
    },
    timeout: ['slow._domainkey.example.com'],
    servfail: ['broken._domainkey.example.com'],
  });
  resolver = createResolver({ servers: [dns.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
});
after(() => dns.close());

interface Signer {
  selector: string;
  key: KeyObject;
  domain?: string;
  canonicalization?: string;
  algorithm?: string;
  maxBodyLength?: number;
  expires?: Date;
  identity?: string;
}

/** The DKIM-Signature fields mailauth makes, one per signer, first signer on top. */
async function sign(message: string, ...signers: Signer[]): Promise<string> {
  const data = signers.map((s) => ({
    signingDomain: s.domain ?? 'example.com',
    selector: s.selector,
    privateKey: pem(s.key),
    canonicalization: s.canonicalization ?? 'relaxed/relaxed',
    ...(s.algorithm === undefined ? {} : { algorithm: s.algorithm }),
    ...(s.maxBodyLength === undefined ? {} : { maxBodyLength: s.maxBodyLength }),
    ...(s.identity === undefined ? {} : { identity: s.identity }),
  }));
  const first = data[0]!;
  const expires = signers[0]?.expires;
  const { signatures, errors } = await dkimSign(message, {
    ...first,
    signTime: new Date(NOW.getTime() - 60_000),
    ...(expires === undefined ? {} : { expires }),
    signatureData: data,
  });
  assert.deepEqual(errors, []);
  return signatures;
}

const verify = (message: string) => verifyDkim(Buffer.from(message), { resolver, now: NOW });
const only = async (message: string): Promise<DkimSignatureResult> => {
  const { signatures } = await verify(message);
  assert.equal(signatures.length, 1, JSON.stringify(signatures));
  return signatures[0]!;
};

const passes: [name: string, signer: Signer, keyBits: number | undefined][] = [
  ['rsa-sha256 2048, relaxed/relaxed', { selector: 'rsa', key: rsa2048.privateKey }, 2048],
  [
    'rsa-sha256 2048, simple/simple',
    { selector: 'rsa', key: rsa2048.privateKey, canonicalization: 'simple/simple' },
    2048,
  ],
  [
    'rsa-sha256 1024, relaxed/simple',
    { selector: 'old', key: rsa1024.privateKey, canonicalization: 'relaxed/simple' },
    1024,
  ],
  ['ed25519-sha256, relaxed/relaxed (RFC 8463)', { selector: 'ed', key: ed.privateKey }, undefined],
  [
    'ed25519-sha256, simple/simple (RFC 8463)',
    { selector: 'ed', key: ed.privateKey, canonicalization: 'simple/simple' },
    undefined,
  ],
];
for (const [name, signer, keyBits] of passes) {
  test(`pass: ${name}`, async () => {
    const signatures = await sign(MESSAGE, signer);
    const got = await only(signatures + MESSAGE);
    assert.equal(got.result, 'pass', got.reason);
    assert.equal(got.domain, 'example.com');
    assert.equal(got.selector, signer.selector);
    assert.equal(got.algorithm, signer.key.asymmetricKeyType === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256');
    assert.equal(got.keyBits, keyBits);
    assert.equal(got.unsignedBodyBytes, undefined);
    const b = /\bb=([^;]+)/.exec(signatures.replace(/\bbh=[^;]+/, ''))?.[1]?.replace(/\s+/g, '');
    assert.equal(got.headerB, b?.slice(0, 8)); // RFC 6008 §4
  });
}

test('header.b tells apart signatures whose b= start alike: a forged copy of a good one reads otherwise (RFC 6008 §4)', async () => {
  const good = await sign(MESSAGE, { selector: 'rsa', key: rsa2048.privateKey });
  const b = /\bb=([^;]+)/.exec(good.replace(/\bbh=[^;]+/, ''))?.[1]?.replace(/\s+/g, '') as string;
  // The same signature with b= changed at its 10th character: it fails, and started as the good one.
  const changed = `${b.slice(0, 9)}${b[9] === 'A' ? 'B' : 'A'}${b.slice(10)}`;
  // Unfolded: b= may be folded in the field, which changes nothing of what it says (RFC 6376 §3.5).
  const forged = good.replace(/\r\n[ \t]+/g, ' ').replace(/\bb=[^;]+$/, `b=${changed}\r\n`);
  assert.notEqual(forged, good);
  const { signatures } = await verify(forged + good + MESSAGE);
  assert.deepEqual(
    signatures.map((s) => s.result),
    ['fail', 'pass'],
  );
  const [fail, pass] = signatures.map((s) => s.headerB as string);
  assert.notEqual(fail, pass);
  assert.equal(fail, changed.slice(0, 10));
  assert.equal(pass, b.slice(0, 10));
  // One signature alone keeps the 8 characters RFC 6008 §4 asks for at least.
  assert.equal((await only(good + MESSAGE)).headerB, b.slice(0, 8));
});

test('the body changed after signing → fail, and the reason says so (RFC 6376 §6.1.3)', async () => {
  const signatures = await sign(MESSAGE, { selector: 'rsa', key: rsa2048.privateKey });
  const got = await only(signatures + MESSAGE.replace('hungry', 'thirsty'));
  assert.equal(got.result, 'fail');
  assert.match(got.reason, /body hash did not verify: the body changed/);
});

test('a signed header field changed → fail, header signature (RFC 6376 §6.1.3)', async () => {
  const signatures = await sign(MESSAGE, { selector: 'ed', key: ed.privateKey });
  const got = await only(signatures + MESSAGE.replace('Is dinner ready?', 'Wire the money'));
  assert.equal(got.result, 'fail');
  assert.match(got.reason, /header signature did not verify/);
});

test('no key record → permerror, "no key" (RFC 6376 §6.1.2)', async () => {
  const got = await only((await sign(MESSAGE, { selector: 'absent', key: rsa2048.privateKey })) + MESSAGE);
  assert.equal(got.result, 'permerror');
  assert.match(got.reason, /no key record at absent\._domainkey\.example\.com/);
});

test('the key lookup times out → temperror', async () => {
  const got = await only((await sign(MESSAGE, { selector: 'slow', key: rsa2048.privateKey })) + MESSAGE);
  assert.equal(got.result, 'temperror');
  assert.match(got.reason, /slow\._domainkey\.example\.com/);
});

test('the key lookup gets SERVFAIL → temperror', async () => {
  const got = await only((await sign(MESSAGE, { selector: 'broken', key: rsa2048.privateKey })) + MESSAGE);
  assert.equal(got.result, 'temperror');
});

test('RSA key of 512 bits → fail (RFC 8301 §3.2)', async () => {
  const got = await only((await sign(MESSAGE, { selector: 'short', key: rsa512.privateKey })) + MESSAGE);
  assert.equal(got.result, 'fail');
  assert.equal(got.keyBits, 512);
  assert.match(got.reason, /RSA key of 512 bits \(RFC 8301 §3\.2\)/);
});

test('rsa-sha1 → fail (RFC 8301 §3.1)', async () => {
  const signer = { selector: 'rsa', key: rsa2048.privateKey, algorithm: 'rsa-sha1' };
  const got = await only((await sign(MESSAGE, signer)) + MESSAGE);
  assert.deepEqual([got.result, got.algorithm], ['fail', 'rsa-sha1']);
  assert.match(got.reason, /rsa-sha1.*RFC 8301 §3\.1/);
});

test('revoked key (empty p=) → fail (RFC 6376 §3.6.1)', async () => {
  const got = await only((await sign(MESSAGE, { selector: 'revoked', key: rsa2048.privateKey })) + MESSAGE);
  assert.equal(got.result, 'fail');
  assert.match(got.reason, /revoked/);
});

test('l= with content appended after signing: pass, the unsigned octets flagged (RFC 6376 §8.2)', async () => {
  const signer = { selector: 'rsa', key: rsa2048.privateKey, maxBodyLength: 40 };
  const signed = await only((await sign(MESSAGE, signer)) + MESSAGE);
  assert.equal(signed.result, 'pass');
  const before = signed.unsignedBodyBytes ?? -1;
  const appended = await only((await sign(MESSAGE, signer)) + MESSAGE + 'Click here: http://192.0.2.1/\r\n');
  assert.equal(appended.result, 'pass', appended.reason);
  assert.ok((appended.unsignedBodyBytes ?? 0) > before && before >= 0, `${before} → ${appended.unsignedBodyBytes}`);
  assert.match(appended.reason, /l= leaves the last \d+ body octets unsigned/);
});

test('without l= nothing is unsigned, and no count is given', async () => {
  const got = await only((await sign(MESSAGE, { selector: 'rsa', key: rsa2048.privateKey })) + MESSAGE);
  assert.equal(got.unsignedBodyBytes, undefined);
});

test('two signatures, one good and one bad: each judged, in header order', async () => {
  // "rsa" signed with a key that is not the one published: the header signature cannot verify
  const signatures = await sign(
    MESSAGE,
    { selector: 'ed', key: ed.privateKey },
    { selector: 'rsa', key: other.privateKey },
  );
  const { signatures: got } = await verify(signatures + MESSAGE);
  assert.deepEqual(
    got.map((s) => [s.selector, s.result]),
    [
      ['ed', 'pass'],
      ['rsa', 'fail'],
    ],
  );
});

test('unsigned message → no signatures; From is still reported for DMARC', async () => {
  const got = await verify(MESSAGE);
  assert.deepEqual(got.signatures, []);
  assert.deepEqual(got.headerFrom, ['joe@example.com']);
  assert.equal(got.fromFields, 1);
  assert.ok(got.arc !== undefined, 'the ARC data rides along for arc/');
});

test('key in testing mode (t=y) is flagged (RFC 6376 §3.6.1)', async () => {
  const got = await only((await sign(MESSAGE, { selector: 'trial', key: rsa2048.privateKey })) + MESSAGE);
  assert.deepEqual([got.result, got.testing], ['pass', true]);
});

test('i= is reported', async () => {
  const signer = { selector: 'rsa', key: rsa2048.privateKey, identity: 'joe@mail.example.com' };
  const got = await only((await sign(MESSAGE, signer)) + MESSAGE);
  assert.deepEqual([got.result, got.identity], ['pass', 'joe@mail.example.com']);
});

test('a valid signature whose i= is outside d= is not a pass (RFC 6376 §6.1.1)', async () => {
  // mailauth's lenient signer makes it (with a warning), so the signature itself verifies
  const signer = { selector: 'rsa', key: rsa2048.privateKey, identity: 'ceo@example.org' };
  const got = await only((await sign(MESSAGE, signer)) + MESSAGE);
  assert.deepEqual([got.result, got.identity], ['neutral', 'ceo@example.org']);
  assert.match(got.reason, /i= domain example\.org is not d=example\.com or its subdomain/);
});

test('a key with t=s refuses an i= in a subdomain of d= (RFC 6376 §3.6.1)', async () => {
  const signer = { selector: 'exact', key: rsa2048.privateKey, identity: 'joe@mail.example.com' };
  const got = await only((await sign(MESSAGE, signer)) + MESSAGE);
  assert.equal(got.result, 'neutral');
  assert.match(got.reason, /t=s/);
  const same = await only((await sign(MESSAGE, { ...signer, identity: 'joe@example.com' })) + MESSAGE);
  assert.equal(same.result, 'pass');
});

test('expired signature (x=) is not a pass (RFC 6376 §3.5)', async () => {
  const signer = { selector: 'rsa', key: rsa2048.privateKey, expires: new Date(NOW.getTime() - 1000) };
  const got = await only((await sign(MESSAGE, signer)) + MESSAGE);
  assert.equal(got.result, 'neutral');
  assert.match(got.reason, /expired/);
});

test('a signature made in the future (t= past 12 hours of clock error) is not a pass (RFC 6376 §3.5)', async () => {
  // Signed a minute before NOW; judged as if it were 13 hours earlier, and 11 hours earlier. Before,
  // any t= passed: a pre-dated signature outlives every age check, and OpenDKIM and dkimpy refuse it.
  const message = (await sign(MESSAGE, { selector: 'rsa', key: rsa2048.privateKey })) + MESSAGE;
  const at = (minutes: number) =>
    verifyDkim(Buffer.from(message), { resolver, now: new Date(NOW.getTime() - minutes * 60_000) });
  const [early] = (await at(13 * 60)).signatures;
  assert.equal(early?.result, 'neutral');
  assert.match(early?.reason ?? '', /signature timestamp 2025-03-01T11:59:00\.000Z is in the future/);
  assert.equal((await at(11 * 60)).signatures[0]?.result, 'pass', 'a clock hours off (a time zone) is forgiven');
});

test('an unknown algorithm is still reported, as neutral (RFC 6376 §6.1.1, RFC 8601 §2.7.1)', async () => {
  const signatures = await sign(MESSAGE, { selector: 'rsa', key: rsa2048.privateKey });
  const got = await only(signatures.replace('a=rsa-sha256', 'a=rsa-sha512') + MESSAGE);
  assert.deepEqual([got.result, got.domain, got.algorithm], ['neutral', 'example.com', 'rsa-sha512']);
  assert.match(got.reason, /unknown algorithm/);
});

test('a signature that does not cover From is not a pass (RFC 6376 §6.1.1)', async () => {
  const signatures = await sign(MESSAGE, { selector: 'rsa', key: rsa2048.privateKey });
  const got = await only(signatures.replace(/\bh=[^;]*/, 'h=To:Subject') + MESSAGE);
  assert.equal(got.result, 'neutral');
  assert.match(got.reason, /From/);
});

test('a bug inside the verifier becomes temperror for each signature, never an exception or a pass', async () => {
  // A clock that throws stands in for any bug: it is read after the header section is parsed.
  const broken = {
    getTime() {
      throw new TypeError('boom');
    },
  } as unknown as Date;
  const signatures = await sign(MESSAGE, { selector: 'rsa', key: rsa2048.privateKey });
  const got = await verifyDkim(Buffer.from(signatures + MESSAGE), { resolver, now: broken });
  assert.deepEqual(
    got.signatures.map((s) => [s.result, s.domain]),
    [['temperror', 'example.com']],
  );
  assert.match(got.signatures[0]!.reason, /boom/);
  assert.equal(got.arc, undefined);
});

test('at most 8 signatures are verified (RFC 6376 §6.1), the author domain first; the rest are policy', async () => {
  // Eleven signatures of another domain, each with its own l= (each would hash the body again), on
  // top of the author's own: the author's is verified though it comes last.
  const others = Array.from({ length: 11 }, (_, i) => ({
    selector: 'rsa',
    key: rsa2048.privateKey,
    domain: `list${i}.example.org`,
    maxBodyLength: 10 + i,
  }));
  const signatures = await sign(MESSAGE, ...others, { selector: 'rsa', key: rsa2048.privateKey });
  const { signatures: results } = await verify(signatures + MESSAGE);
  assert.equal(results.length, 12);
  assert.equal(results.filter((r) => r.result === 'policy').length, 4, JSON.stringify(results.map((r) => r.result)));
  const author = results.find((r) => r.domain === 'example.com');
  assert.equal(author?.result, 'pass', author?.reason);
  for (const skipped of results.filter((r) => r.result === 'policy')) {
    assert.match(skipped.reason, /not verified: the message has more than 8 DKIM signatures \(RFC 6376 §6\.1\)/);
    assert.notEqual(skipped.domain, 'example.com');
  }
});

test('the cap counts unusable signatures too when the message has ARC fields (mailauth hashes the body for each)', async () => {
  // Forty signatures whose d= no key could be looked up under, each with its own l=, and one ARC field:
  // mailauth's verifier, which reads the chain, got them all and hashed the body forty times.
  const fields = Array.from(
    { length: 40 },
    (_, i) =>
      `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=exa mple.com; s=s; l=${1000 + i}; h=from; bh=AAAA; b=AAAA\r\n`,
  ).join('');
  const message = `${fields}ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=s; b=AAAA\r\n${MESSAGE}`;
  // Count the hashes mailauth's body hashers make (they call createHash on the CommonJS module object).
  const cjsCrypto = createRequire(import.meta.url)('node:crypto') as { createHash: typeof createHash };
  const original = cjsCrypto.createHash;
  let hashes = 0;
  cjsCrypto.createHash = ((...args: Parameters<typeof createHash>) => {
    hashes++;
    return original(...args);
  }) as typeof createHash;
  try {
    const got = await verifyDkim(Buffer.from(message), { resolver });
    assert.equal(got.signatures.length, 40);
    assert.ok(got.signatures.every((sig) => sig.result === 'neutral'));
  } finally {
    cjsCrypto.createHash = original;
  }
  assert.ok(hashes <= 2 * 8, `${hashes} hashes: no more than the capped signatures' work`);
});

test('a=ed25519-sha256 with an RSA key → permerror, not verified (RFC 6376 §6.1.2 step 8)', async () => {
  // RSA-signed over SHA-256 of the hash input, which is what verify(null, …) with an RSA key accepted.
  const end = MESSAGE.indexOf('\r\n\r\n');
  const [head, body] = [MESSAGE.slice(0, end), MESSAGE.slice(end + 4)];
  const bh = createHash('sha256')
    .update(Buffer.concat(relaxedBody(Buffer.from(body)).parts))
    .digest('base64');
  const unsigned = `DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=rsa; h=from:subject; bh=${bh}; b=`;
  const fields = head.split('\r\n').filter((f) => /^(From|Subject):/.test(f));
  const input = fields.map((f) => `${relaxedField(f)}\r\n`).join('') + relaxedField(unsigned);
  const digest = createHash('sha256').update(input, 'latin1').digest();
  const b = cryptoSign('sha256', digest, rsa2048.privateKey).toString('base64');
  const got = await only(`${unsigned}${b}\r\n${MESSAGE}`);
  assert.equal(got.result, 'permerror', got.reason);
  assert.match(got.reason, /the key at rsa\._domainkey\.example\.com is rsa, not for a=ed25519-sha256/);
});
