// DKIM keys (src/admin/dkim-keys.ts): generation, the p= value, the TXT record and its 255-octet
// strings, selectors and domains, and keygen's choice of state. The records are read back by our own
// verifier's key parser (src/authentication/dkim/key-record.ts) over the loopback DNS server.
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  checkDomain,
  checkSelector,
  createDkimKey,
  DkimKeyError,
  defaultSelector,
  dkimRecord,
  freshSelector,
  generateDkimKey,
  removeDkimKey,
} from '../../src/admin/dkim-keys.ts';
import { keyFor, lookupKey } from '../../src/authentication/dkim/key-record.ts';
import { configSchema } from '../../src/config/schema.ts';
import { createResolver } from '../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../src/dns/test-server.ts';
import { NullStore } from '../../src/store/null-store.ts';
import type { DkimKey } from '../../src/store/store.ts';

const config = configSchema.parse({ domains: ['example.com', 'example.org'] });
const T0 = new Date('2025-01-31T23:59:00Z');
const message = Buffer.from('the data a DKIM signature covers');

/** A key of our own making, signed with and checked against the p= value the record publishes. */
function assertPairMatches(privatePem: string, publicKey: KeyObjectLike): void {
  const signature = sign(publicKey.algorithm === 'rsa' ? 'sha256' : null, message, createPrivateKey(privatePem));
  assert.ok(verify(publicKey.algorithm === 'rsa' ? 'sha256' : null, message, publicKey.key, signature));
}
type KeyObjectLike = { algorithm: 'rsa' | 'ed25519'; key: ReturnType<typeof createPublicKey> };

test('RSA 2048: p= is the base64 DER SubjectPublicKeyInfo of the key (RFC 6376 §3.6.1)', async () => {
  const key = await generateDkimKey('rsa');
  assert.equal(key.bits, 2048);
  assert.match(key.privateKey, /^-----BEGIN PRIVATE KEY-----\n/); // PKCS#8
  const spki = createPublicKey({ key: Buffer.from(key.publicKey, 'base64'), format: 'der', type: 'spki' });
  assert.equal(spki.asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal(spki.asymmetricKeyDetails?.publicExponent, 65537n);
  assertPairMatches(key.privateKey, { algorithm: 'rsa', key: spki });
});

test('Ed25519: p= is the bare 32-octet key in 44 base64 characters (RFC 8463 §4.2)', async () => {
  const key = await generateDkimKey('ed25519', 4096);
  assert.equal(key.bits, 256, '--bits does not apply to Ed25519');
  assert.equal(key.publicKey.length, 44);
  const raw = Buffer.from(key.publicKey, 'base64');
  assert.equal(raw.length, 32);
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]); // RFC 8410 §4
  const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  assertPairMatches(key.privateKey, { algorithm: 'ed25519', key: publicKey });
  const [a, b] = await Promise.all([generateDkimKey('ed25519'), generateDkimKey('ed25519')]);
  assert.notEqual(a.publicKey, b.publicKey);
});

test('RSA sizes other than 2048, 3072 and 4096 are refused', async () => {
  for (const bits of [1024, 2047, 8192, Number.NaN]) {
    await assert.rejects(
      generateDkimKey('rsa', bits),
      (e: unknown) => e instanceof DkimKeyError && e.code === 'bad-bits',
    );
  }
});

/** A record whose p= makes the value exactly `length` octets. */
function recordOfLength(length: number) {
  const prefix = 'v=DKIM1; k=rsa; p=';
  return dkimRecord({
    domain: 'example.com',
    selector: 's',
    algorithm: 'rsa',
    publicKey: 'A'.repeat(length - prefix.length),
  });
}

const splits: [length: number, strings: number[]][] = [
  [254, [254]],
  [255, [255]], // RFC 1035 §3.3: one character-string holds at most 255 octets
  [256, [255, 1]],
  [510, [255, 255]],
  [511, [255, 255, 1]],
];
for (const [length, sizes] of splits) {
  test(`a ${length}-octet value is published as strings of ${sizes.join(' + ')} octets`, () => {
    const record = recordOfLength(length);
    assert.deepEqual(
      record.strings.map((s) => s.length),
      sizes,
    );
    assert.equal(record.strings.join(''), record.value, 'receivers join them without spaces (RFC 6376 §3.6.2.2)');
    assert.equal(
      record.zoneLine,
      `s._domainkey.example.com. 3600 IN TXT ${record.strings.map((s) => `"${s}"`).join(' ')}`,
    );
  });
}

test('a 4096-bit key: v=DKIM1 first, k=rsa, p= over several 255-octet strings', async () => {
  const key = await generateDkimKey('rsa', 4096);
  const record = dkimRecord({ domain: 'example.com', selector: 'postern-202501', ...key });
  assert.equal(record.name, 'postern-202501._domainkey.example.com');
  assert.equal(record.value, `v=DKIM1; k=rsa; p=${key.publicKey}`);
  assert.equal(record.strings.length, 3);
  assert.deepEqual(
    record.strings.slice(0, -1).map((s) => s.length),
    [255, 255],
  );
  assert.equal(record.strings.join(''), record.value);
  assert.match(
    record.zoneLine,
    /^postern-202501\._domainkey\.example\.com\. 3600 IN TXT "v=DKIM1; k=rsa; p=[^"]+" "[^"]+" "[^"]+"$/,
  );
});

let dns: TestDnsServer;
before(async () => {
  dns = await startTestDnsServer({ records: {} });
});
after(() => dns.close());

test('our verifier reads the records we print: RSA and Ed25519 keys, from DNS, verify our signatures', async () => {
  const rsa = await generateDkimKey('rsa', 3072);
  const ed = await generateDkimKey('ed25519');
  const rsaRecord = dkimRecord({ domain: 'example.com', selector: 'rsa', ...rsa });
  const edRecord = dkimRecord({ domain: 'example.com', selector: 'ed', ...ed });
  dns.setZone({
    records: { [rsaRecord.name]: { TXT: [rsaRecord.strings] }, [edRecord.name]: { TXT: [edRecord.strings] } },
  });
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1, cacheTtlMs: 0 });
  for (const [record, generated, hash] of [
    [rsaRecord, rsa, 'sha256'],
    [edRecord, ed, 'sha256'],
  ] as const) {
    const lookup = await lookupKey(resolver, record.name);
    assert.ok('record' in lookup, `DNS answered for ${record.name}`);
    const use = keyFor(lookup.record, hash);
    assert.ok('key' in use, `${record.name}: ${JSON.stringify(use)}`);
    assert.equal(use.key.type, generated.algorithm);
    assert.deepEqual(use.key.warnings, [], 'nothing a verifier would warn about');
    assertPairMatches(generated.privateKey, { algorithm: generated.algorithm, key: use.key.key });
  }
});

test('the default selector is postern-YYYYMM in UTC, a valid label', () => {
  assert.equal(defaultSelector(T0), 'postern-202501');
  assert.equal(defaultSelector(new Date('2025-12-01T00:00:00Z')), 'postern-202512');
  assert.equal(checkSelector(defaultSelector(T0), 'example.com'), 'postern-202501');
});

const selectors: [input: string, want: string | null][] = [
  ['postern-202501', 'postern-202501'],
  ['Mail', 'mail'], // RFC 4343 §3: one name whatever the case
  ['2025', '2025'], // sub-domain = Let-dig [Ldh-str] (RFC 5321 §4.1.2): a digit may lead
  ['eu.2025-01', 'eu.2025-01'], // RFC 6376 §3.1: selectors may have dots
  [`a${'b'.repeat(62)}`, `a${'b'.repeat(62)}`], // 63 octets: the longest label
  [`a${'b'.repeat(63)}`, null],
  ['-mail', null],
  ['mail-', null],
  ['mail_2025', null],
  ['mail..x', null],
  ['.mail', null],
  ['', null],
  ['mäil', null],
  [`${'a.'.repeat(120)}a`, null], // labels fine, but the name is over 253 characters
];
for (const [input, want] of selectors) {
  test(`selector ${JSON.stringify(input.length > 30 ? `${input.slice(0, 20)}…` : input)} is ${want ?? 'refused'}`, () => {
    if (want !== null) assert.equal(checkSelector(input, 'example.com'), want);
    else
      assert.throws(
        () => checkSelector(input, 'example.com'),
        (e: unknown) => e instanceof DkimKeyError && e.code === 'bad-selector',
      );
  });
}

test('a domain must be one of config domains; case and a final dot do not matter', () => {
  assert.equal(checkDomain(config, 'Example.COM.'), 'example.com');
  assert.throws(
    () => checkDomain(config, 'example.net'),
    (e: unknown) =>
      e instanceof DkimKeyError &&
      e.code === 'unknown-domain' &&
      e.message ===
        `example.net is not one of this server's domains (example.com, example.org); add it to "domains" in the config`,
  );
});

test('freshSelector: the base, else the first free -N', () => {
  const taken = (...selectors: string[]) => selectors.map((selector) => ({ selector }) as DkimKey);
  assert.equal(freshSelector('postern-202501', []), 'postern-202501');
  assert.equal(freshSelector('postern-202501', taken('postern-202501')), 'postern-202501-2');
  assert.equal(freshSelector('postern-202501', taken('postern-202501', 'postern-202501-2')), 'postern-202501-3');
});

test("keygen: a domain's first key is active at once; later ones are pending, replacing the active key of their algorithm", async () => {
  const store = new NullStore([]);
  const first = await createDkimKey(store, { domain: 'example.com', algorithm: 'rsa', now: T0 });
  assert.equal(first.key.state, 'active');
  assert.equal(first.key.selector, 'postern-202501');
  assert.equal(first.key.activatedAt?.getTime(), T0.getTime());
  assert.deepEqual(first.replaces, []);

  const second = await createDkimKey(store, { domain: 'example.com', algorithm: 'rsa', bits: 3072, now: T0 });
  assert.equal(second.key.state, 'pending');
  assert.equal(second.key.selector, 'postern-202501-2', 'a fresh selector in the same month');
  assert.equal(second.key.bits, 3072);
  assert.deepEqual(
    second.replaces.map((k) => k.selector),
    ['postern-202501'],
  );

  const ed = await createDkimKey(store, { domain: 'example.com', selector: 'ED', algorithm: 'ed25519', now: T0 });
  assert.equal(ed.key.state, 'pending');
  assert.equal(ed.key.selector, 'ed');
  assert.deepEqual(ed.replaces, [], 'an Ed25519 key signs beside the RSA one');

  const other = await createDkimKey(store, { domain: 'example.org', selector: 'ed', algorithm: 'ed25519', now: T0 });
  assert.equal(other.key.state, 'active', 'each domain has its own keys');

  await assert.rejects(
    createDkimKey(store, { domain: 'example.com', selector: 'Postern-202501', algorithm: 'rsa', now: T0 }),
    (e: unknown) =>
      e instanceof DkimKeyError &&
      e.code === 'selector-taken' &&
      /example\.com already has a DKIM key with selector postern-202501 \(active\)/.test(e.message),
  );
  await assert.rejects(
    createDkimKey(store, { domain: 'example.com', selector: 'x_y', algorithm: 'rsa', now: T0 }),
    (e: unknown) => e instanceof DkimKeyError && e.code === 'bad-selector',
  );
  await assert.rejects(
    createDkimKey(store, { domain: 'example.com', algorithm: 'rsa', bits: 1024, now: T0 }),
    (e: unknown) => e instanceof DkimKeyError && e.code === 'bad-bits',
  );
  // One rotation per domain and algorithm at a time: a second pending RSA key is refused.
  await assert.rejects(
    createDkimKey(store, { domain: 'example.com', algorithm: 'rsa', now: T0 }),
    (e: unknown) =>
      e instanceof DkimKeyError &&
      e.code === 'rotation-under-way' &&
      /postern-202501-2 waits for its DNS record postern-202501-2\._domainkey\.example\.com/.test(e.message),
  );
  assert.equal((await store.listDkimKeys()).length, 4, 'nothing stored for a refused request');
});

test('the default selector is refused too when the record name would pass 253 characters', async () => {
  const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(40)}.example`;
  const store = new NullStore([]);
  await assert.rejects(
    createDkimKey(store, { domain: long, algorithm: 'ed25519', now: T0 }),
    /is too long: postern-202501\._domainkey\..* is over 253 characters/,
  );
});

test('keygens run at once keep one rotation at a time: one stores its key, the others are refused', async () => {
  const store = new NullStore([]);
  const fresh = await Promise.allSettled(
    ['a', 'b', 'c'].map((selector) =>
      createDkimKey(store, { domain: 'example.com', selector, algorithm: 'ed25519', now: T0 }),
    ),
  );
  assert.equal(fresh.filter((r) => r.status === 'fulfilled').length, 1, 'one first key, active');
  for (const r of fresh) if (r.status === 'rejected') assert.match(String(r.reason), /another command stored key/);
  const rotations = await Promise.allSettled(
    ['d', 'e', 'f'].map((selector) =>
      createDkimKey(store, { domain: 'example.com', selector, algorithm: 'ed25519', now: T0 }),
    ),
  );
  assert.equal(rotations.filter((r) => r.status === 'fulfilled').length, 1, 'one pending key');
  const keys = await store.listDkimKeys('example.com');
  assert.deepEqual(keys.map((k) => k.state).sort(), ['active', 'pending']);
});

test('removeDkimKey: pending and retired keys go; active and retiring ones only when forced', async () => {
  const store = new NullStore([]);
  const at = new Date('2025-05-01T00:00:00Z');
  const add = (selector: string, state: DkimKey['state']) =>
    store.addDkimKey({
      domain: 'example.com',
      selector,
      algorithm: 'ed25519',
      bits: 256,
      privateKey: 'k',
      publicKey: 'p',
      state: state === 'active' ? 'active' : 'pending',
      createdAt: at,
    });
  // Retiring and retired keys were pending once, each moved on before the next was added.
  for (const [selector, state] of [
    ['r', 'retiring'],
    ['x', 'retired'],
    ['a', 'active'],
    ['p', 'pending'],
  ] as const) {
    const key = await add(selector, state);
    if (state === 'retiring' || state === 'retired') {
      await store.setDkimKeyState(key.id, state, { retireAfter: new Date('2025-05-08T00:00:00Z') });
    }
  }
  const remove = (selector: string, force = false) => removeDkimKey(store, { domain: 'EXAMPLE.com', selector, force });
  assert.equal((await remove('p')).state, 'pending');
  assert.equal((await remove('x')).state, 'retired');
  await assert.rejects(remove('a'), (e: unknown) => e instanceof DkimKeyError && e.code === 'key-in-use');
  await assert.rejects(
    remove('r'),
    (e: unknown) =>
      e instanceof DkimKeyError && e.code === 'key-in-use' && /until 2025-05-08T00:00:00\.000Z/.test(e.message),
  );
  await assert.rejects(remove('p'), (e: unknown) => e instanceof DkimKeyError && e.code === 'no-such-key');
  assert.deepEqual(
    (await store.listDkimKeys()).map((k) => k.selector),
    ['r', 'a'],
  );
  assert.equal((await remove('r', true)).state, 'retiring');
  assert.equal((await remove('a', true)).state, 'active');
  assert.deepEqual(await store.listDkimKeys(), []);
});
