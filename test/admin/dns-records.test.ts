// The records `postern dns records` prints: exact values, TXT splitting, TLSA from a known certificate,
// and the same records served by the loopback DNS server.
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as x509 from '@peculiar/x509';
import { createDkimKey } from '../../src/admin/dkim-keys.ts';
import { spfSyntaxError, walkSpf } from '../../src/admin/dns-check/spf-walk.ts';
import {
  type DnsRecord,
  MailHostError,
  RECORD_TTL,
  recordsFor,
  spfRecordProblem,
} from '../../src/admin/dns-records.ts';
import { hostCertificates, spkiSha256 } from '../../src/admin/host-certificates.ts';
import { mtaStsPolicy } from '../../src/admin/mta-sts-policy.ts';
import { recordsToTestZone } from '../../src/admin/records-test-zone.ts';
import { presentationValue, recordsJson, txtStrings, zoneLines } from '../../src/admin/zone-lines.ts';
import { checkSpf } from '../../src/authentication/spf/check-spf.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { createResolver } from '../../src/dns/system-resolver.ts';
import { startTestDnsServer } from '../../src/dns/test-server.ts';
import { NullStore } from '../../src/store/null-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Store } from '../../src/store/store.ts';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { tempDir } from '../support/server.ts';
import { createTestCa } from '../support/test-ca.ts';

type Context = { after(fn: () => unknown): void };

function configOf(extra: Partial<ConfigInput> = {}, dataDir = '/nonexistent') {
  return parseConfig(
    {
      hostname: 'mx.example.com',
      domains: ['example.com', 'example.org'],
      dataDir,
      serverAddresses: ['192.0.2.1', '2001:db8::1'],
      ...extra,
    },
    'test',
  );
}

/** A store holding nothing: for the records that do not depend on keys. */
const noKeys = { listDkimKeys: async () => [] };

async function storeWithKeys(t: Context): Promise<{ store: Store; rsa: string; ed: string }> {
  const dir = tempDir('postern-dns-records-');
  const store = await openSqliteStore({ dataDir: path.join(dir, 'data') });
  t.after(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // RFC 6376 §3.6.1: p= is the base64 SubjectPublicKeyInfo for RSA; RFC 8463 §4: the raw 32 octets for Ed25519.
  const rsaKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsa = rsaKeys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const edKeys = generateKeyPairSync('ed25519');
  const ed = edKeys.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
  const privateKey = rsaKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const common = { domain: 'example.com', privateKey };
  await store.addDkimKey({ ...common, selector: 'old', algorithm: 'rsa', bits: 2048, publicKey: rsa, state: 'active' });
  const gone = await store.addDkimKey({
    ...common,
    selector: 'gone',
    algorithm: 'ed25519',
    bits: 256,
    publicKey: ed,
    state: 'active',
  });
  await store.addDkimKey({
    ...common,
    selector: 'new',
    algorithm: 'ed25519',
    bits: 256,
    publicKey: ed,
    state: 'pending',
  });
  await store.addDkimKey({
    ...common,
    domain: 'example.org',
    selector: 'org',
    algorithm: 'ed25519',
    bits: 256,
    publicKey: ed,
    state: 'active',
  });
  await store.setDkimKeyState(gone.id, 'retired');
  const [old] = (await store.listDkimKeys('example.com')).filter((k) => k.selector === 'old');
  await store.setDkimKeyState(old!.id, 'retiring', { retireAfter: new Date('2030-01-02T00:00:00Z') });
  return { store, rsa, ed };
}

const find = (records: DnsRecord[], name: string, type: string) =>
  records.filter((r) => r.name === name && r.type === type);
const one = (records: DnsRecord[], name: string, type: string) => {
  const found = find(records, name, type);
  assert.equal(found.length, 1, `one ${type} at ${name}: ${JSON.stringify(found)}`);
  return found[0]!;
};

test('the records of a configured domain: exact values, RFC-shaped', async (t) => {
  const { store, rsa, ed } = await storeWithKeys(t);
  const config = configOf({
    publish: { spfInclude: ['include:_spf.example.net', 'ip4:198.51.100.0/24'] },
    mtaSts: { listen: '0.0.0.0:443' },
  });
  const records = await recordsFor('example.com', { config, store });
  const { id } = mtaStsPolicy(config);
  const cases: [name: string, type: string, value: string][] = [
    ['mx.example.com', 'A', '192.0.2.1'],
    ['mx.example.com', 'AAAA', '2001:db8::1'],
    ['example.com', 'MX', '10 mx.example.com.'], // RFC 5321 §5.1: a host name
    ['example.com', 'TXT', 'v=spf1 mx include:_spf.example.net ip4:198.51.100.0/24 -all'], // RFC 7208
    ['mx.example.com', 'TXT', 'v=spf1 a -all'], // RFC 7208 §2.3, the HELO identity
    ['_dmarc.example.com', 'TXT', 'v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com'], // RFC 7489 §6.3
    ['_smtp._tls.example.com', 'TXT', 'v=TLSRPTv1; rua=mailto:tls-reports@example.com'], // RFC 8460 §3
    ['_mta-sts.example.com', 'TXT', `v=STSv1; id=${id}`], // RFC 8461 §3.1
    ['mta-sts.example.com', 'CNAME', 'mx.example.com.'],
    ['old._domainkey.example.com', 'TXT', `v=DKIM1; k=rsa; p=${rsa}`], // RFC 6376 §3.6.1
    ['new._domainkey.example.com', 'TXT', `v=DKIM1; k=ed25519; p=${ed}`], // RFC 8463 §4
    ['_submissions._tcp.example.com', 'SRV', '0 1 465 mx.example.com.'], // RFC 8314 §5.1
    ['_submission._tcp.example.com', 'SRV', '10 1 587 mx.example.com.'], // RFC 6186 §3.4, RFC 8314 §5.1: after 465
    ['_imap._tcp.example.com', 'SRV', '0 0 0 .'], // RFC 6186 §4: not offered
    ['_pop3._tcp.example.com', 'SRV', '0 0 0 .'],
    ['example.com', 'CAA', '0 issue "letsencrypt.org"'], // RFC 8659 §4.2
    ['1.2.0.192.in-addr.arpa', 'PTR', 'mx.example.com.'],
    ['1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa', 'PTR', 'mx.example.com.'],
  ];
  for (const [name, type, value] of cases) {
    const record = one(records, name, type);
    assert.equal(record.value, value, `${name} ${type}`);
    assert.equal(record.todo, undefined, `${name} ${type} is ready`);
    assert.equal(record.ttl, RECORD_TTL);
    assert.ok(record.purpose.length > 10 && !record.purpose.includes('\n'), 'a one-line purpose');
  }
  assert.match(id, /^[A-Za-z0-9]{1,32}$/, 'RFC 8461 §3.1 id syntax');
  assert.match(one(records, 'old._domainkey.example.com', 'TXT').purpose, /retiring.*2030-01-02/);
  assert.match(
    one(records, 'new._domainkey.example.com', 'TXT').purpose,
    /pending\): publish now: it starts signing once DNS serves it/,
  );
  assert.equal(find(records, 'gone._domainkey.example.com', 'TXT').length, 0, 'a retired key is not published');
  assert.equal(find(records, 'org._domainkey.example.com', 'TXT').length, 0, "another domain's key is not");
  assert.match(one(records, '_imaps._tcp.example.com', 'SRV').todo ?? '', /IMAP comes with a later version/);
  assert.match(one(records, '_dmarc.example.com', 'TXT').purpose, /quarantine.*reject/);
  assert.match(one(records, 'example.com', 'TXT').purpose, /~all while testing/);
  // PTR is the one record not set in the zone.
  for (const r of records) assert.equal(r.where, r.type === 'PTR' ? 'hosting-provider' : 'zone', `${r.name} ${r.type}`);
  // No BIMI without a logo; no report authorization for a rua in the same domain.
  assert.equal(find(records, 'default._bimi.example.com', 'TXT').length, 0);
  assert.equal(records.filter((r) => r.name.includes('._report._dmarc.')).length, 0);
});

test('MX names the host, never an address: a hostname that is an IP is refused', async () => {
  const records = await recordsFor('example.com', { config: configOf(), store: noKeys });
  const mx = one(records, 'example.com', 'MX');
  const target = mx.value.split(' ')[1]!;
  assert.equal(target, 'mx.example.com.');
  // The MX target has the address records of the same list (RFC 2181 §10.3: not an alias).
  assert.ok(find(records, 'mx.example.com', 'A').length > 0);
  assert.equal(find(records, 'mx.example.com', 'CNAME').length, 0);
  // The config refuses such a hostname at load; recordsFor still refuses a Config made some other way.
  assert.throws(() => configOf({ hostname: '192.0.2.1' }), /hostname: "192\.0\.2\.1" is invalid: must be a host name/);
  await assert.rejects(
    recordsFor('example.com', { config: { ...configOf(), hostname: '192.0.2.1' }, store: noKeys }),
    (err: unknown) => err instanceof MailHostError && /RFC 5321 §5\.1/.test(err.message),
  );
});

test('what is not known yet is a to-do, never a made-up value', async () => {
  const config = configOf({ serverAddresses: [] });
  const records = await recordsFor('example.com', { config, store: noKeys });
  for (const type of ['A', 'AAAA'] as const) {
    const r = one(records, 'mx.example.com', type);
    assert.match(r.todo ?? '', /serverAddresses/);
    assert.doesNotMatch(r.value, /^[0-9a-f.:]+$/i, 'no bogus address');
  }
  assert.match(one(records, '<reverse name of each public address>', 'PTR').todo ?? '', /hosting provider/);
  assert.match(one(records, '<selector>._domainkey.example.com', 'TXT').todo ?? '', /postern dkim keygen/);
  // mtaSts.listen is off: the id would point at a policy nobody serves.
  assert.match(one(records, '_mta-sts.example.com', 'TXT').todo ?? '', /mtaSts\.listen/);
  assert.match(one(records, '_25._tcp.mx.example.com', 'TLSA').todo ?? '', /no certificate/);
  // Only addresses of the family configured: an IPv4-only host gets no AAAA to-do.
  const v4only = await recordsFor('example.com', {
    config: configOf({ serverAddresses: ['192.0.2.1'] }),
    store: noKeys,
  });
  assert.equal(find(v4only, 'mx.example.com', 'AAAA').length, 0);
});

test('publish.*: DMARC policy and rua, TLS-RPT rua, BIMI, CAA issuers; report authorization in another domain', async () => {
  const config = configOf({
    publish: {
      dmarcPolicy: 'quarantine',
      dmarcRua: 'mailto:dmarc@reports.example.net,mailto:d@example.com!10m',
      tlsRptRua: 'https://tlsrpt.example.net/v1',
      bimi: { logo: 'https://example.com/logo.svg', authority: 'https://example.com/vmc.pem' },
      caaIssuers: ['letsencrypt.org', 'pki.goog'],
    },
  });
  const records = await recordsFor('example.com', { config, store: noKeys });
  const dmarc = 'v=DMARC1; p=quarantine; rua=mailto:dmarc@reports.example.net,mailto:d@example.com!10m';
  assert.equal(one(records, '_dmarc.example.com', 'TXT').value, dmarc);
  // RFC 7489 §7.1: example.net must say it takes reports for example.com; example.com needs nothing.
  assert.equal(one(records, 'example.com._report._dmarc.reports.example.net', 'TXT').value, 'v=DMARC1');
  assert.equal(records.filter((r) => r.name.includes('._report._dmarc.')).length, 1);
  assert.equal(one(records, '_smtp._tls.example.com', 'TXT').value, 'v=TLSRPTv1; rua=https://tlsrpt.example.net/v1');
  const bimi = one(records, 'default._bimi.example.com', 'TXT');
  assert.equal(bimi.value, 'v=BIMI1; l=https://example.com/logo.svg; a=https://example.com/vmc.pem');
  assert.doesNotMatch(bimi.purpose, /ignore/, 'p=quarantine is enough for BIMI');
  assert.deepEqual(
    find(records, 'example.com', 'CAA').map((r) => r.value),
    ['0 issue "letsencrypt.org"', '0 issue "pki.goog"'],
  );
  // CAA from the ACME directory: a known CA by its issuer domain, an unknown one is a to-do.
  const acme = (directory: string) =>
    configOf({ tls: { acme: { directory, termsOfServiceAgreed: true, http01: { listen: '0.0.0.0:80' } } } });
  const zerossl = await recordsFor('example.com', { config: acme('https://acme.zerossl.com/v2/DV90'), store: noKeys });
  assert.equal(one(zerossl, 'example.com', 'CAA').value, '0 issue "sectigo.com"');
  const own = await recordsFor('example.com', { config: acme('https://ca.example.net/dir'), store: noKeys });
  assert.match(one(own, 'example.com', 'CAA').todo ?? '', /publish\.caaIssuers/);
  // Certificates from files: their CA is the admin's to name; guessing Let's Encrypt would stop its renewals.
  const files = configOf({ tls: { certificates: [{ cert: '/etc/ssl/mail.pem', key: '/etc/ssl/mail.key' }] } });
  const fromFiles = one(await recordsFor('example.com', { config: files, store: noKeys }), 'example.com', 'CAA');
  assert.match(fromFiles.todo ?? '', /the CA that issues your certificates.*publish\.caaIssuers/);
  assert.equal(
    one(await recordsFor('example.com', { config: configOf(), store: noKeys }), 'example.com', 'CAA').value,
    '0 issue "letsencrypt.org"',
    'no certificate yet: the likely choice',
  );
  // Submission turned off: the SRV says not offered (RFC 6186 §4).
  const off = await recordsFor('example.com', {
    config: configOf({ listen: { submission: null, submissions: null } }),
    store: noKeys,
  });
  assert.equal(one(off, '_submissions._tcp.example.com', 'SRV').value, '0 0 0 .');
  assert.equal(one(off, '_submission._tcp.example.com', 'SRV').value, '0 0 0 .');
  // BIMI with p=none is published, with the caveat that receivers ignore it.
  const early = await recordsFor('example.com', {
    config: configOf({ publish: { bimi: { logo: 'https://example.com/logo.svg' } } }),
    store: noKeys,
  });
  assert.equal(one(early, 'default._bimi.example.com', 'TXT').value, 'v=BIMI1; l=https://example.com/logo.svg');
  assert.match(one(early, 'default._bimi.example.com', 'TXT').purpose, /ignore it until DMARC/);
});

test('TXT values split into strings of at most 255 octets, never inside a character', () => {
  const cases: [text: string, lengths: number[]][] = [
    ['', [0]],
    ['a'.repeat(255), [255]],
    ['a'.repeat(256), [255, 1]],
    ['a'.repeat(600), [255, 255, 90]],
    [`${'a'.repeat(254)}é`, [254, 2]], // é is two octets: it moves to the next string whole
  ];
  for (const [text, lengths] of cases) {
    const strings = txtStrings(text);
    assert.deepEqual(
      strings.map((s) => Buffer.byteLength(s)),
      lengths,
      `${text.length} characters`,
    );
    assert.equal(strings.join(''), text);
  }
  const quoted = presentationValue({
    name: 'x.example.com',
    type: 'TXT',
    ttl: 1,
    value: 'say "hi" \\ bye',
    purpose: 'p',
    where: 'zone',
  });
  assert.equal(quoted, '"say \\"hi\\" \\\\ bye"', 'RFC 1035 §5.1 escapes');
});

test('a 2048-bit DKIM key: one record of several strings in the zone lines and the JSON', async (t) => {
  const { store, rsa } = await storeWithKeys(t);
  const config = configOf();
  const records = await recordsFor('example.com', { config, store });
  const text = zoneLines('example.com', records, mtaStsPolicy(config));
  const line = text.split('\n').find((l) => l.startsWith('old._domainkey.example.com.'))!;
  const strings = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  assert.ok(strings.length >= 2, 'split');
  assert.ok(strings.every((s) => s.length <= 255));
  assert.equal(strings.join(''), `v=DKIM1; k=rsa; p=${rsa}`);
  const json = recordsJson('example.com', records, mtaStsPolicy(config));
  const dkim = json.records.find((r) => r.name === 'old._domainkey.example.com')!;
  assert.deepEqual(dkim.strings, strings);
});

test('zone lines: a header saying where, every live line well-formed, to-dos and PTR set apart, the policy file', async () => {
  const config = configOf({ mtaSts: { listen: '0.0.0.0:443' } });
  const records = await recordsFor('example.com', { config, store: noKeys });
  const policy = mtaStsPolicy(config);
  const text = zoneLines('example.com', records, policy);
  assert.match(text, /^; DNS records for example\.com/);
  assert.match(text, /PTR records .* hosting provider/);
  const live = text.split('\n').filter((l) => l !== '' && !l.startsWith(';'));
  for (const l of live) assert.match(l, /^\S+\.\s+3600 IN (A|AAAA|MX|TXT|CNAME|SRV|TLSA|CAA|PTR)\s+\S/, l);
  assert.equal(live.length, records.filter((r) => !r.todo).length);
  // PTR lines come after the provider heading, and nothing else does.
  const [zonePart, providerPart] = text.split('; ---- At your hosting provider');
  assert.doesNotMatch(zonePart!, /^\S+ +3600 IN PTR/m);
  assert.match(providerPart!, /^1\.2\.0\.192\.in-addr\.arpa\. +3600 IN PTR +mx\.example\.com\.$/m);
  assert.match(text, /^; TO DO: no DKIM key/m);
  assert.match(text, /^; <selector>\._domainkey\.example\.com\. +3600 IN TXT/m);
  assert.match(text, /https:\/\/mta-sts\.example\.com\/\.well-known\/mta-sts\.txt/);
  assert.match(text, /^; {3}mode: testing$/m);
  const json = recordsJson('example.com', records, policy);
  assert.equal(json.mtaStsPolicy?.text, policy.text);
  assert.equal(json.records.length, records.length);
});

test('TLSA 3 1 1 is the SHA-256 of the served certificate SPKI, computed independently', async (t) => {
  const dir = tempDir('postern-tlsa-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ca = await createTestCa();
  const issued = await ca.issue(['mx.example.com', 'mta-sts.example.com']);
  const other = await ca.issue(['mail.example.org']); // not for the mail host: no TLSA from it
  const write = (name: string, pair: { cert: string; key: string }) => {
    fs.writeFileSync(path.join(dir, `${name}.crt`), pair.cert);
    fs.writeFileSync(path.join(dir, `${name}.key`), pair.key, { mode: 0o600 });
    return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  };
  const config = configOf({ tls: { certificates: [write('other', other), write('mx', issued)] } }, dir);
  const certificates = await hostCertificates(config);
  assert.deepEqual(
    certificates.map((c) => path.basename(c.source)),
    ['mx.crt'],
  );
  assert.equal(certificates[0]!.selfSigned, false);
  const records = await recordsFor('example.com', { config, store: noKeys, certificates });
  const tlsa = one(records, '_25._tcp.mx.example.com', 'TLSA');
  // Independently: the SPKI DER as @peculiar/x509 parses it from the certificate, and as Node derives it from the key.
  const spki = Buffer.from(new x509.X509Certificate(issued.cert.split('\n\n')[0]!).publicKey.rawData);
  const fromKey = createPublicKey(issued.key).export({ type: 'spki', format: 'der' });
  assert.deepEqual(spki, fromKey);
  assert.equal(tlsa.value, `3 1 1 ${createHash('sha256').update(spki).digest('hex')}`);
  assert.equal(tlsa.todo, undefined);

  // The self-signed development certificate: the record is shown, held back until there is a rotation plan.
  const own = await createSelfSignedCertificate({ hostnames: ['mx.example.com'] });
  const selfSigned = [{ source: 'self-signed.crt', pem: own.cert, selfSigned: true }];
  const held = one(
    await recordsFor('example.com', { config, store: noKeys, certificates: selfSigned }),
    '_25._tcp.mx.example.com',
    'TLSA',
  );
  assert.equal(held.value, `3 1 1 ${spkiSha256(own.cert)}`);
  assert.match(held.todo ?? '', /rotation plan/);

  // With nothing configured, the self-signed file in dataDir is what serve would use; without it, nothing.
  const bare = configOf({}, path.join(dir, 'data'));
  assert.deepEqual(await hostCertificates(bare), []);
  fs.mkdirSync(path.join(dir, 'data', 'tls'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'data', 'tls', 'self-signed.crt'), own.cert);
  const found = await hostCertificates(bare);
  assert.equal(found.length, 1);
  assert.equal(found[0]!.selfSigned, true);
});

test('MTA-STS in enforce mode is a to-do while the mail host has only the self-signed certificate (RFC 8461 §4.2, §5)', async () => {
  const own = await createSelfSignedCertificate({ hostnames: ['mx.example.com'] });
  const sts = async (extra: Partial<ConfigInput>, certificates?: { pem: string; selfSigned: boolean }[]) => {
    const config = configOf({ ...extra, mtaSts: { listen: '0.0.0.0:443', ...extra.mtaSts } });
    const found = certificates?.map((c) => ({ source: 'mx.crt', ...c }));
    const records = await recordsFor('example.com', {
      config,
      store: noKeys,
      ...(found === undefined ? {} : { certificates: found }),
    });
    return { record: one(records, '_mta-sts.example.com', 'TXT'), text: zoneLines('example.com', records) };
  };
  const enforce = { mtaSts: { mode: 'enforce' as const } };
  // The quickstart TLS settings (tls.selfSigned, nothing else), before and after serve made the certificate.
  for (const certificates of [undefined, [{ pem: own.cert, selfSigned: true }]]) {
    const { record, text } = await sts(enforce, certificates);
    assert.match(record.todo ?? '', /mode enforce while mx\.example\.com serves only the self-signed certificate/);
    assert.match(record.todo ?? '', /tls\.certificates or tls\.acme/);
    assert.match(text, /^; _mta-sts\.example\.com\. +3600 IN TXT/m, 'commented out, not ready to paste');
  }
  // Not enforcing, or a certificate senders can validate: ready.
  assert.equal((await sts({})).record.todo, undefined, 'testing mode');
  assert.equal((await sts(enforce, [{ pem: own.cert, selfSigned: false }])).record.todo, undefined, 'a CA-issued one');
  const files = { tls: { certificates: [{ cert: '/etc/ssl/mail.pem', key: '/etc/ssl/mail.key' }] } };
  assert.equal((await sts({ ...enforce, ...files })).record.todo, undefined, 'tls.certificates');
  const acme = {
    tls: {
      acme: {
        directory: 'https://ca.example.net/dir',
        termsOfServiceAgreed: true as const,
        http01: { listen: '0.0.0.0:80' },
      },
    },
  };
  assert.equal((await sts({ ...enforce, ...acme })).record.todo, undefined, 'tls.acme');
  // Both reasons at once are both said.
  const bare = await recordsFor('example.com', { config: configOf(enforce), store: noKeys });
  assert.match(one(bare, '_mta-sts.example.com', 'TXT').todo ?? '', /mtaSts\.listen.*; mode enforce while/);
});

test('the records as a test DNS zone answer like the published zone would', async (t) => {
  const { store, rsa } = await storeWithKeys(t);
  const config = configOf({ mtaSts: { listen: '0.0.0.0:443' } });
  const records = await recordsFor('example.com', { config, store });
  const { zone, skipped } = recordsToTestZone(records);
  assert.ok(skipped.every((r) => r.todo !== undefined || r.type === 'SRV' || r.type === 'CAA'));
  const dns = await startTestDnsServer(zone);
  t.after(() => dns.close());
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1 });
  assert.deepEqual(await resolver.mx('example.com'), {
    ok: true,
    records: [{ priority: 10, exchange: 'mx.example.com' }],
  });
  assert.deepEqual(await resolver.a('mx.example.com'), { ok: true, records: ['192.0.2.1'] });
  assert.deepEqual(await resolver.ptr('192.0.2.1'), { ok: true, records: ['mx.example.com'] });
  assert.deepEqual(await resolver.txt('old._domainkey.example.com'), {
    ok: true,
    records: [`v=DKIM1; k=rsa; p=${rsa}`],
  });
  const spf = await resolver.txt('example.com');
  assert.deepEqual(spf, { ok: true, records: ['v=spf1 mx -all'] });
  const sts = await resolver.txt('_mta-sts.example.com');
  assert.deepEqual(sts, { ok: true, records: [`v=STSv1; id=${mtaStsPolicy(config).id}`] });
  assert.deepEqual(await resolver.cname('mta-sts.example.com'), { ok: true, records: ['mx.example.com'] });
});

test('publish.* values that would make a broken record are refused at load, naming the key', () => {
  const bad: [key: string, publish: Record<string, unknown>][] = [
    ['publish.spfInclude.0', { spfInclude: ['~all'] }],
    ['publish.spfInclude.0', { spfInclude: ['include:a.example.net ip4:192.0.2.0/24'] }],
    ['publish.dmarcRua', { dmarcRua: 'dmarc@example.com' }], // RFC 7489 §6.4: a URI, mailto: for mail
    ['publish.tlsRptRua', { tlsRptRua: 'http://tlsrpt.example.net/' }], // RFC 8460 §3: mailto: or https:
  ];
  for (const [key, publish] of bad) {
    assert.throws(
      () => configOf({ publish }),
      (err: Error) => err.message.includes(key),
      key,
    );
  }
  const good = configOf({
    publish: {
      spfInclude: ['include:_spf.example.net', 'ip6:2001:db8::/32'],
      dmarcRua: 'mailto:a@example.com, mailto:b@example.net!50m',
      tlsRptRua: 'mailto:tls@example.com,https://tlsrpt.example.net/v1',
    },
  });
  assert.equal(good.publish.spfInclude.length, 2);
});

test('an SPF record publish.spfInclude would break is printed as a TO DO naming the problem, not ready to publish', async (t) => {
  const { store } = await storeWithKeys(t);
  const spfOf = async (spfInclude: string[]) => {
    const records = await recordsFor('example.com', { config: configOf({ publish: { spfInclude } }), store });
    return one(records, 'example.com', 'TXT');
  };
  // Before: printed as ready to publish, and every receiver's SPF check of the domain a permerror.
  for (const [term, says] of [
    ['ip4:300.1.1.1', /bad term ip4:300\.1\.1\.1/],
    ['ip4:203.0.113.0/33', /bad term/],
    ['spf.example.net', /bad term spf\.example\.net/], // a host name without include:
    ['include:_spf.example.net;', /bad term/],
  ] as const) {
    const spf = await spfOf([term]);
    assert.match(spf.todo ?? '', says, term);
    assert.match(spf.todo ?? '', /publish\.spfInclude .*permerror, RFC 7208 §4\.6/);
    assert.equal(
      spfRecordProblem(configOf({ publish: { spfInclude: [term] } })),
      spf.todo?.replace(/; fix the config and run this again$/, ''),
    );
  }
  // RFC 7208 §4.6.4: mx plus 10 includes is 11 lookups.
  const many = await spfOf(Array.from({ length: 10 }, (_, i) => `include:_spf${i}.example.net`));
  assert.match(many.todo ?? '', /11 DNS lookups, over the 10 RFC 7208 §4\.6\.4 allows/);
  assert.equal((await spfOf(Array.from({ length: 9 }, (_, i) => `include:_spf${i}.example.net`))).todo, undefined);
  assert.equal((await spfOf(['ip4:198.51.100.0/24', 'include:_spf.example.net'])).todo, undefined);
  // RFC 7208 §6.1: the record's -all makes a redirect= dead, said as such (not counted as a lookup).
  const redirect = await spfOf([
    ...Array.from({ length: 9 }, (_, i) => `include:_spf${i}.example.net`),
    'redirect=_spf.example.net',
  ]);
  assert.match(redirect.todo ?? '', /redirect=, which the record's -all makes receivers ignore \(RFC 7208 §6\.1\)/);
});

test('modifiers in publish.spfInclude go after -all (RFC 7208 §6), and our SPF code reads that record as intended', async (t) => {
  const { store } = await storeWithKeys(t);
  const config = configOf({
    publish: { spfInclude: ['exp=explain._spf.example.com', 'include:_spf.example.net', 'ip4:198.51.100.0/24'] },
  });
  const records = await recordsFor('example.com', { config, store });
  const spf = one(records, 'example.com', 'TXT');
  // Before: "v=spf1 mx exp=explain._spf.example.com include:_spf.example.net ip4:198.51.100.0/24 -all".
  assert.equal(spf.value, 'v=spf1 mx include:_spf.example.net ip4:198.51.100.0/24 -all exp=explain._spf.example.com');
  assert.equal(spf.todo, undefined);
  assert.equal(spfRecordProblem(config), undefined);
  // Served as published: dns check's syntax and walk, and the evaluator incoming mail goes through.
  const { zone } = recordsToTestZone(records);
  zone.records['_spf.example.net'] = { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'] };
  zone.records['explain._spf.example.com'] = { TXT: ['%{i} may not send as %{d}'] };
  const dns = await startTestDnsServer(zone);
  t.after(() => dns.close());
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1 });
  assert.equal(spfSyntaxError(spf.value), false);
  const walk = await walkSpf(resolver, 'example.com', spf.value);
  assert.deepEqual([walk.all, walk.problems, walk.lookups], ['-', [], 2]);
  const check = (ip: string) =>
    checkSpf({ ip, sender: 'a@example.com', helo: 'client.example.net', resolver, hostname: 'mx.example.com' });
  for (const ip of ['192.0.2.1', '203.0.113.5', '198.51.100.7']) assert.equal((await check(ip)).result, 'pass', ip);
  const stranger = await check('192.0.2.99');
  assert.equal(stranger.result, 'fail');
  assert.equal(stranger.explanation, '192.0.2.99 may not send as example.com');
});

test('a pending DKIM key says what it will do: replace the active key of its algorithm, or sign beside the other', async () => {
  const key = (selector: string, algorithm: 'rsa' | 'ed25519', state: 'active' | 'pending') => ({
    id: selector.length,
    domain: 'example.com',
    selector,
    algorithm,
    bits: algorithm === 'rsa' ? 2048 : 256,
    privateKey: 'k',
    publicKey: 'MCowBQYDK2VwAyEA',
    state,
    createdAt: new Date(0),
    activatedAt: null,
    retireAfter: null,
  });
  const store = {
    listDkimKeys: async () => [
      key('a', 'rsa', 'active'),
      key('bb', 'rsa', 'pending'),
      key('ccc', 'ed25519', 'pending'),
    ],
  };
  const records = await recordsFor('example.com', { config: configOf(), store });
  assert.match(
    one(records, 'bb._domainkey.example.com', 'TXT').purpose,
    /publish now: it replaces a once DNS serves it/,
  );
  assert.match(
    one(records, 'ccc._domainkey.example.com', 'TXT').purpose,
    /publish now: it signs beside the active key once DNS serves it/,
  );
});

test("a retiring DKIM key's record is to be kept until the time it retires, in UTC, not the day before", async () => {
  const store = new NullStore([]);
  const { key } = await createDkimKey(store, {
    domain: 'example.com',
    algorithm: 'rsa',
    now: new Date('2025-03-01T22:00:00Z'),
  });
  await store.setDkimKeyState(key.id, 'retiring', { retireAfter: new Date('2025-03-08T22:00:00Z') });
  const records = await recordsFor('example.com', { config: configOf(), store });
  const [record] = records.filter((r) => r.name === `${key.selector}._domainkey.example.com`);
  assert.match(record?.purpose ?? '', /keep it until 2025-03-08 22:00 UTC for mail in transit/);
});
