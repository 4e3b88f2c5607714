// `postern dns records` as users run it: bin/postern in a child process, zone lines and --json, errors.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { configDir, postern } from '../support/child-server.ts';
import { createTestCa } from '../support/test-ca.ts';

type Context = { after(fn: () => unknown): void };

interface JsonRecord {
  name: string;
  type: string;
  ttl: number;
  value: string;
  purpose: string;
  where: string;
  todo?: string;
  strings?: string[];
}

async function setup(t: Context) {
  const ca = await createTestCa();
  const pair = await ca.issue(['mx.example.com', 'mta-sts.example.com']);
  const d = configDir({
    domains: ['example.com', 'example.org'],
    serverAddresses: ['192.0.2.1'],
    publish: { spfInclude: ['include:_spf.example.net'], dmarcPolicy: 'reject' },
    mtaSts: { listen: '127.0.0.1:0', mode: 'enforce' },
  });
  t.after(() => d.cleanup());
  // The certificate files next to the config, as an admin would configure them.
  fs.writeFileSync(path.join(d.root, 'mx.crt'), pair.cert);
  fs.writeFileSync(path.join(d.root, 'mx.key'), pair.key, { mode: 0o600 });
  fs.appendFileSync(
    d.file,
    `tls:\n  certificates:\n    - { cert: ${path.join(d.root, 'mx.crt')}, key: ${path.join(d.root, 'mx.key')} }\n`,
  );
  const store = await openSqliteStore({ dataDir: path.join(d.root, 'data') });
  const keys = generateKeyPairSync('ed25519');
  const publicKey = keys.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
  const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await store.addDkimKey({
    domain: 'example.com',
    selector: 'sel1',
    algorithm: 'ed25519',
    bits: 256,
    privateKey,
    publicKey,
    state: 'active',
  });
  await store.close();
  const spki = new X509Certificate(pair.cert).publicKey.export({ type: 'spki', format: 'der' });
  const run = (args: string[]) => postern([...args, '--config', d.file]);
  return { run, publicKey, privateKey, tlsa: createHash('sha256').update(spki).digest('hex') };
}

test('dns records: zone lines with a header, every record, the policy file; never the private key', async (t) => {
  const { run, publicKey, privateKey, tlsa } = await setup(t);
  const r = await run(['dns', 'records', 'Example.COM.']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const out = r.stdout;
  assert.match(out, /^; DNS records for example\.com, from postern dns records\.\n/);
  assert.match(out, /^; The PTR records .* your hosting provider/m);
  const lines = out.split('\n');
  const has = (re: RegExp) =>
    assert.ok(
      lines.some((l) => re.test(l)),
      `a line matching ${re}`,
    );
  has(/^mx\.example\.com\. +3600 IN A +192\.0\.2\.1$/);
  has(/^example\.com\. +3600 IN MX +10 mx\.example\.com\.$/);
  has(/^example\.com\. +3600 IN TXT +"v=spf1 mx include:_spf\.example\.net -all"$/);
  has(
    new RegExp(
      `^sel1\\._domainkey\\.example\\.com\\. +3600 IN TXT +"v=DKIM1; k=ed25519; p=${publicKey.replace(/[+/]/g, '\\$&')}"$`,
    ),
  );
  has(/^_dmarc\.example\.com\. +3600 IN TXT +"v=DMARC1; p=reject; rua=mailto:dmarc-reports@example\.com"$/);
  has(/^_smtp\._tls\.example\.com\. +3600 IN TXT +"v=TLSRPTv1; rua=mailto:tls-reports@example\.com"$/);
  has(/^_mta-sts\.example\.com\. +3600 IN TXT +"v=STSv1; id=[0-9a-f]{20}"$/);
  has(/^mta-sts\.example\.com\. +3600 IN CNAME +mx\.example\.com\.$/);
  has(new RegExp(`^_25\\._tcp\\.mx\\.example\\.com\\. +3600 IN TLSA +3 1 1 ${tlsa}$`));
  has(/^_submissions\._tcp\.example\.com\. +3600 IN SRV +0 1 465 mx\.example\.com\.$/);
  // Certificates from files: their CA is the admin's to name (publish.caaIssuers), not a guess.
  has(/^; TO DO: fill in the issuer domain of the CA that issues your certificates/);
  has(/^; example\.com\. +3600 IN CAA +0 issue "<issuer domain>"$/);
  has(/^1\.2\.0\.192\.in-addr\.arpa\. +3600 IN PTR +mx\.example\.com\.$/);
  has(/^; {3}mode: enforce$/);
  assert.ok(out.indexOf('IN PTR') > out.indexOf('At your hosting provider'), 'PTR under the provider heading');
  const secret = privateKey.split('\n')[1]!;
  assert.ok(!out.includes(secret), 'the private key is never printed');

  // Another of our domains: its own records, its own keys (none yet: a to-do).
  const org = await run(['dns', 'records', 'example.org']);
  assert.equal(org.code, 0, org.stderr);
  assert.match(org.stdout, /^example\.org\. +3600 IN MX +10 mx\.example\.com\.$/m);
  assert.match(org.stdout, /^; TO DO: no DKIM key for example\.org yet/m);
  assert.doesNotMatch(org.stdout, /sel1\._domainkey/);
});

test('dns records --json: records with purpose and place, TXT strings, the policy with the id of its record', async (t) => {
  const { run, publicKey, tlsa } = await setup(t);
  const r = await run(['dns', 'records', 'example.com', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout) as {
    domain: string;
    records: JsonRecord[];
    mtaStsPolicy: { url: string; id: string; text: string };
  };
  assert.equal(json.domain, 'example.com');
  const get = (name: string, type: string) => json.records.find((x) => x.name === name && x.type === type);
  assert.equal(get('sel1._domainkey.example.com', 'TXT')?.value, `v=DKIM1; k=ed25519; p=${publicKey}`);
  assert.deepEqual(get('_dmarc.example.com', 'TXT')?.strings, [
    'v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com',
  ]);
  assert.equal(get('_25._tcp.mx.example.com', 'TLSA')?.value, `3 1 1 ${tlsa}`);
  assert.equal(get('1.2.0.192.in-addr.arpa', 'PTR')?.where, 'hosting-provider');
  assert.equal(get('example.com', 'MX')?.where, 'zone');
  for (const x of json.records) assert.ok(x.purpose && x.ttl === 3600, `${x.name} ${x.type}`);
  assert.equal(json.mtaStsPolicy.url, 'https://mta-sts.example.com/.well-known/mta-sts.txt');
  assert.equal(json.mtaStsPolicy.text, 'version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 604800\r\n');
  assert.equal(get('_mta-sts.example.com', 'TXT')?.value, `v=STSv1; id=${json.mtaStsPolicy.id}`);
});

test('dns: a domain not ours, missing arguments', async (t) => {
  const d = configDir();
  t.after(() => d.cleanup());
  const config = ['--config', d.file];
  const [foreign, none, two, bare, unknown, check] = await Promise.all([
    postern(['dns', 'records', 'example.net', ...config]),
    postern(['dns', 'records', ...config]),
    postern(['dns', 'records', 'example.com', 'example.org', ...config]),
    postern(['dns', ...config]),
    postern(['dns', 'frob', ...config]),
    postern(['dns', 'check', 'example.net', ...config]),
  ]);
  assert.equal(foreign.code, 1);
  assert.equal(
    foreign.stderr,
    `postern: example.net is not one of this server's domains (example.com); add it to "domains" in the config\n`,
  );
  assert.equal(foreign.stdout, '');
  for (const r of [none, two]) {
    assert.equal(r.code, 2);
    assert.match(r.stderr, /usage: postern dns records <domain> \[--json\]/);
  }
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /dns: missing subcommand \(records, check\)/);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /dns: unknown subcommand "frob"/);
  assert.equal(check.code, 1);
  assert.match(check.stderr, /example\.net is not one of this server's domains/);
  const help = await postern(['help']);
  assert.match(help.stdout, /dns records <domain> \[--json\]/);
});
