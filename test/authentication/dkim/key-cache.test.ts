/**
 * What verifyDkim does once: the key record parse across messages (key-record.ts), and per message each
 * key lookup and each body hash however many signatures share it (message-context.ts).
 */

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { beforeEach, test } from 'node:test';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { clearKeyCache, keyCacheStats } from '../../../src/authentication/dkim/key-record.ts';
import { readMessage } from '../../../src/authentication/dkim/message.ts';
import { messageContext } from '../../../src/authentication/dkim/message-context.ts';
import { verifyDkim } from '../../../src/authentication/dkim/verify-dkim.ts';
import type { DnsAnswer, Resolver } from '../../../src/dns/resolver.ts';

const NOW = new Date('2025-03-01T12:00:00Z');
const MESSAGE = 'From: joe@example.com\r\nTo: suzie@example.net\r\nSubject: hi\r\n\r\nHello  there.\r\n';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const record = (key: KeyObject) => `v=DKIM1; p=${key.export({ type: 'spki', format: 'der' }).toString('base64')}`;
/** RFC 8463 §4.2: the bare 32-octet key. */
const rawEd25519 = ed.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();

/** An in-memory Resolver: TXT answers by name (a function for answers that change), counting questions. */
function fakeResolver(txt: Record<string, () => DnsAnswer<string>>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const none = async () => ({ ok: false, error: 'nodata' }) as const;
  return {
    asked,
    txt: async (name) => {
      asked.push(name);
      return txt[name]?.() ?? { ok: false, error: 'nxdomain' };
    },
    a: none,
    aaaa: none,
    mx: none,
    ptr: none,
    cname: none,
    tlsa: none,
  };
}

async function signed(...signers: { selector: string; key: KeyObject; canon?: string; limit?: number }[]) {
  const data = signers.map((s) => ({
    signingDomain: 'example.com',
    selector: s.selector,
    privateKey: pem(s.key),
    canonicalization: s.canon ?? 'relaxed/relaxed',
    ...(s.limit === undefined ? {} : { maxBodyLength: s.limit }),
  }));
  const { signatures } = await dkimSign(MESSAGE, { ...data[0]!, signTime: NOW, signatureData: data });
  return Buffer.from(signatures + MESSAGE);
}

const ok = (text: string): DnsAnswer<string> => ({ ok: true, records: [text] });

beforeEach(() => clearKeyCache());

test('a second message with the same key record does not parse the key again', async () => {
  const resolver = fakeResolver({ 'sel._domainkey.example.com': () => ok(record(rsa.publicKey)) });
  const message = await signed({ selector: 'sel', key: rsa.privateKey });
  for (let i = 0; i < 3; i++) {
    const { signatures } = await verifyDkim(message, { resolver, now: NOW });
    assert.equal(signatures[0]?.result, 'pass', signatures[0]?.reason);
  }
  assert.deepEqual(keyCacheStats, { parses: 1, hits: 2 });
  assert.equal(resolver.asked.length, 3, 'DNS is still asked: the resolver decides how long an answer lives');
});

test('a changed key record is parsed again at once (rotation, revocation)', async () => {
  let published = record(rsa.publicKey);
  const resolver = fakeResolver({ 'sel._domainkey.example.com': () => ok(published) });
  const message = await signed({ selector: 'sel', key: rsa.privateKey });
  assert.equal((await verifyDkim(message, { resolver, now: NOW })).signatures[0]?.result, 'pass');
  published = record(other.publicKey);
  assert.equal((await verifyDkim(message, { resolver, now: NOW })).signatures[0]?.result, 'fail');
  published = 'v=DKIM1; p=';
  const revoked = (await verifyDkim(message, { resolver, now: NOW })).signatures[0];
  assert.deepEqual([revoked?.result, /revoked/.test(revoked?.reason ?? '')], ['fail', true]);
  assert.equal(keyCacheStats.parses, 3);
});

test('a temporary DNS failure is not cached: the next message gets the key', async () => {
  let answer: DnsAnswer<string> = { ok: false, error: 'temperror', reason: 'ETIMEOUT: query timed out' };
  const resolver = fakeResolver({ 'sel._domainkey.example.com': () => answer });
  const message = await signed({ selector: 'sel', key: rsa.privateKey });
  const first = (await verifyDkim(message, { resolver, now: NOW })).signatures[0];
  assert.deepEqual(
    [first?.result, first?.reason],
    ['temperror', 'key lookup for sel._domainkey.example.com failed: DNS failure: ETIMEOUT (RFC 6376 §6.1.2)'],
  );
  assert.deepEqual(keyCacheStats, { parses: 0, hits: 0 });
  answer = ok(record(rsa.publicKey));
  assert.equal((await verifyDkim(message, { resolver, now: NOW })).signatures[0]?.result, 'pass');
  assert.deepEqual(keyCacheStats, { parses: 1, hits: 0 });
});

test('several signatures of one message: one body hash per canonicalization and l=, one lookup per key', async () => {
  const resolver = fakeResolver({
    'rsa._domainkey.example.com': () => ok(record(rsa.publicKey)),
    'ed._domainkey.example.com': () => ok(`v=DKIM1; k=ed25519; p=${rawEd25519}`),
  });
  const message = await signed(
    { selector: 'rsa', key: rsa.privateKey },
    { selector: 'ed', key: ed.privateKey },
    { selector: 'rsa', key: rsa.privateKey },
    { selector: 'rsa', key: rsa.privateKey, limit: 5 },
  );
  const { signatures } = await verifyDkim(message, { resolver, now: NOW });
  assert.deepEqual(
    signatures.map((s) => s.result),
    ['pass', 'pass', 'pass', 'pass'],
  );
  assert.deepEqual(resolver.asked.sort(), ['ed._domainkey.example.com', 'rsa._domainkey.example.com']);

  const { fields, body } = readMessage(message);
  const ctx = messageContext(fields, body, NOW.getTime(), resolver);
  const first = ctx.bodyHash('relaxed', 'sha256', undefined);
  assert.equal(ctx.bodyHash('relaxed', 'sha256', undefined), first, 'the same hash object: computed once');
  assert.notEqual(ctx.bodyHash('relaxed', 'sha256', 5), first);
  assert.equal(ctx.bodyHash('relaxed', 'sha256', 5), ctx.bodyHash('relaxed', 'sha256', 5));
  assert.equal(ctx.key('rsa._domainkey.example.com'), ctx.key('RSA._domainkey.example.com'));
});
