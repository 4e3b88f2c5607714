// `postern dkim` as admins run it: bin/postern in a child process, what it prints, the files it
// writes, its exit codes; rotation against a loopback DNS server whose zone the test edits.
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startTestDnsServer } from '../../src/dns/test-server.ts';
import { configDir, postern } from '../support/child-server.ts';

type Context = { after(fn: () => unknown): void };

function dir(t: Context, extra: Record<string, unknown> = {}) {
  const d = configDir({ domains: ['example.com', 'example.org'], ...extra });
  t.after(() => d.cleanup());
  return d;
}

interface ListedKey {
  domain: string;
  selector: string;
  algorithm: string;
  bits: number;
  state: string;
  created: string;
  activated: string | null;
  retireAfter: string | null;
}

const ZONE_LINE = /^(\S+)\._domainkey\.example\.com\. 3600 IN TXT ((?:"[^"]{1,255}" ?)+)$/m;

/** The p= value of a zone line printed by keygen or rotate. */
function publishedKey(stdout: string): { selector: string; strings: string[]; p: string } {
  const m = ZONE_LINE.exec(stdout);
  assert.ok(m, `a zone-file line in:\n${stdout}`);
  const strings = [...m[2]!.matchAll(/"([^"]*)"/g)].map((s) => s[1]!);
  const p = /; p=(.+)$/.exec(strings.join(''))?.[1];
  assert.ok(p);
  return { selector: m[1]!, strings, p };
}

test('help lists the dkim commands', async () => {
  const r = await postern(['help']);
  assert.match(r.stdout, /dkim keygen --domain D/);
  assert.match(r.stdout, /dkim rotate --advance/);
  assert.match(r.stdout, /dkim list/);
});

test('dkim keygen: stores the key, prints the record to publish, never the private key; list shows it', async (t) => {
  const { file } = dir(t);
  const config = ['--config', file];
  const r = await postern(['dkim', 'keygen', '--domain', 'Example.com', '--selector', 'Mail2025', ...config]);
  assert.equal(r.code, 0, r.stderr);
  // The one line allowed: this first command made the store (test/cli/new-store.test.ts).
  assert.equal(r.stderr.replace(/^note: there was no Postern store at .*\n/, ''), '');
  assert.doesNotMatch(r.stdout, /PRIVATE KEY/);
  const { selector, strings, p } = publishedKey(r.stdout);
  assert.equal(selector, 'mail2025', 'selectors are lower-cased');
  assert.equal(strings[0]!.length, 255, 'a 2048-bit RSA record needs two strings');
  assert.equal(strings.length, 2);
  assert.equal(
    createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength,
    2048,
  );
  assert.match(r.stdout, /^Created DKIM key mail2025 for example\.com \(RSA, 2048 bits\)\. It is active at once/);
  assert.match(r.stdout, /^ {2}Value: v=DKIM1; k=rsa; p=/m);
  assert.match(r.stdout, /publish this record now/);
  assert.doesNotMatch(
    r.stdout,
    /Postern signs the outgoing mail/,
    'no claim of signing before outbound delivery exists',
  );

  const [json, text, ed] = await Promise.all([
    postern(['dkim', 'list', '--json', ...config]),
    postern(['dkim', 'list', ...config]),
    postern(['dkim', 'keygen', '--domain', 'example.org', '--algo', 'ed25519', '--bits', '3072', ...config]),
  ]);
  assert.equal(json.code, 0, json.stderr);
  const listed = JSON.parse(json.stdout) as ListedKey[];
  assert.deepEqual(Object.keys(listed[0]!), [
    'domain',
    'selector',
    'algorithm',
    'bits',
    'state',
    'created',
    'activated',
    'retireAfter',
  ]);
  assert.deepEqual(
    [
      listed[0]!.domain,
      listed[0]!.selector,
      listed[0]!.algorithm,
      listed[0]!.bits,
      listed[0]!.state,
      listed[0]!.retireAfter,
    ],
    ['example.com', 'mail2025', 'rsa', 2048, 'active', null],
  );
  assert.equal(listed[0]!.activated, listed[0]!.created);
  assert.doesNotMatch(json.stdout + text.stdout, /PRIVATE|MII/, 'no key material in the list');
  assert.match(text.stdout, /^DOMAIN +SELECTOR +ALGORITHM +BITS +STATE +CREATED +ACTIVATED +RETIRE AFTER\n/);
  assert.match(text.stdout, /^example\.com +mail2025 +rsa +2048 +active +(\d{4}-\d\d-\d\dT\d\d:\d\dZ) +\1 +-$/m);

  assert.equal(ed.code, 0, ed.stderr);
  assert.equal(ed.stderr, 'note: --bits is ignored for ed25519 keys, which are always 256 bits\n');
  const edRecord =
    /postern-\d{6}\._domainkey\.example\.org\. 3600 IN TXT "v=DKIM1; k=ed25519; p=([A-Za-z0-9+/=]+)"/.exec(ed.stdout);
  assert.ok(edRecord, ed.stdout);
  assert.equal(edRecord[1]!.length, 44, 'RFC 8463 §4.2: the bare 32-octet key');
});

test('dkim keygen --export-private: a new file of mode 0600 holding the stored key; an existing file is refused', async (t) => {
  const { root, file } = dir(t);
  const config = ['--config', file];
  const keyFile = path.join(root, 'dkim.pem');
  const r = await postern(['dkim', 'keygen', '--domain', 'example.com', '--export-private', keyFile, ...config]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  const pem = fs.readFileSync(keyFile, 'utf8');
  assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.doesNotMatch(r.stdout, /BEGIN PRIVATE KEY/);
  assert.match(
    r.stdout,
    new RegExp(`The private key is in ${keyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(mode 0600\\)`),
  );
  // The exported key is the one whose public half the record publishes.
  const derived = createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' }).toString('base64');
  assert.equal(derived, publishedKey(r.stdout).p);

  const again = await postern(['dkim', 'keygen', '--domain', 'example.com', '--export-private', keyFile, ...config]);
  assert.equal(again.code, 1);
  assert.equal(again.stderr, `postern: ${keyFile} exists: not overwriting it with the private key\n`);
  assert.equal(fs.readFileSync(keyFile, 'utf8'), pem, 'the file is untouched');
  const listed = JSON.parse((await postern(['dkim', 'list', '--json', ...config])).stdout) as ListedKey[];
  assert.equal(listed.length, 1, 'no key stored for the refused request');

  // A refused key (the selector is taken) leaves no file behind either.
  const other = path.join(root, 'other.pem');
  const taken = listed[0]!.selector;
  const refused = await postern([
    'dkim',
    'keygen',
    '--domain',
    'example.com',
    '--selector',
    taken,
    '--export-private',
    other,
    ...config,
  ]);
  assert.equal(refused.code, 1);
  assert.equal(fs.existsSync(other), false);
});

test('dkim errors name the problem: exit 1 for what is wrong, 2 for how it was asked', async (t) => {
  const { file } = dir(t);
  const config = ['--config', file];
  const first = await postern(['dkim', 'keygen', '--domain', 'example.com', '--selector', 'taken', ...config]);
  assert.equal(first.code, 0, first.stderr);
  const cases: [args: string[], code: number, stderr: RegExp][] = [
    [
      ['keygen', '--domain', 'example.net'],
      1,
      /example\.net is not one of this server's domains \(example\.com, example\.org\)/,
    ],
    [['keygen', '--domain', 'example.com', '--selector', 'bad_one'], 2, /"bad_one" is not a valid DKIM selector/],
    [
      ['keygen', '--domain', 'example.com', '--selector', 'TAKEN'],
      1,
      /example\.com already has a DKIM key with selector taken \(active\)/,
    ],
    [
      ['keygen', '--domain', 'example.com', '--bits', '1024'],
      2,
      /--bits: RSA keys are 2048, 3072, 4096 bits; 1024 is not one of them/,
    ],
    [
      ['keygen', '--domain', 'example.com', '--bits', 'lots'],
      2,
      /--bits: RSA keys are 2048, 3072, 4096 bits; "lots" is not one of them/,
    ],
    [['keygen', '--domain', 'example.com', '--algo', 'dsa'], 2, /--algo must be rsa or ed25519, not "dsa"/],
    [['keygen'], 2, /dkim keygen: --domain is required/],
    [['keygen', '--domain', 'example.com', '--json'], 2, /dkim keygen: --json does not apply here/],
    [
      ['rotate', '--domain', 'example.org'],
      1,
      /example\.org has no active DKIM key to rotate; create one with postern dkim keygen/,
    ],
    [['rotate', '--advance', '--domain', 'example.com'], 2, /dkim rotate --advance: --domain does not apply here/],
    [['list', 'example.com'], 2, /dkim list: unexpected argument "example\.com"/],
    [['frob'], 2, /dkim: unknown subcommand "frob"/],
    [[], 2, /dkim: missing subcommand \(keygen, rotate, list, remove\)/],
    [['remove', '--domain', 'example.com'], 2, /dkim remove: --selector is required/],
    [['remove', '--selector', 'x'], 2, /dkim remove: --domain is required/],
    [['remove', '--domain', 'example.com', '--selector', 'x', '--json'], 2, /dkim remove: --json does not apply here/],
  ];
  const results = await Promise.all(cases.map(([args]) => postern(['dkim', ...args, ...config])));
  for (const [i, [args, code, stderr]] of cases.entries()) {
    const r = results[i]!;
    assert.equal(r.code, code, `dkim ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, stderr, `dkim ${args.join(' ')}`);
    assert.equal(r.stdout, '', `dkim ${args.join(' ')} prints nothing on stdout`);
  }
  const listed = JSON.parse((await postern(['dkim', 'list', '--json', ...config])).stdout) as ListedKey[];
  assert.equal(listed.length, 1, 'no refused request stored a key');
});

test('dkim remove: a pending key goes at once; the active one only with --force, with how to revoke it', async (t) => {
  const { file } = dir(t);
  const config = ['--config', file];
  const keygen = (selector: string) =>
    postern(['dkim', 'keygen', '--domain', 'example.com', '--algo', 'ed25519', '--selector', selector, ...config]);
  assert.equal((await keygen('one')).code, 0);
  assert.equal((await keygen('TPYO')).code, 0); // stored as tpyo: DNS names are case-insensitive
  const selectors = async () =>
    (JSON.parse((await postern(['dkim', 'list', '--json', ...config])).stdout) as ListedKey[]).map(
      (k) => `${k.selector} ${k.state}`,
    );
  assert.deepEqual(await selectors(), ['one active', 'tpyo pending']);

  const pending = await postern(['dkim', 'remove', '--domain', 'Example.com.', '--selector', 'TPYO', ...config]);
  assert.equal(pending.code, 0, pending.stderr);
  assert.match(pending.stdout, /^Removed DKIM key tpyo of example\.com \(Ed25519, pending\)\./);
  assert.match(pending.stdout, /If you published its record tpyo\._domainkey\.example\.com, remove it from DNS/);
  assert.deepEqual(await selectors(), ['one active']);

  const missing = await postern(['dkim', 'remove', '--domain', 'example.com', '--selector', 'tpyo', ...config]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /example\.com has no DKIM key with selector tpyo \(its keys: one \(active\)\)/);

  const active = await postern(['dkim', 'remove', '--domain', 'example.com', '--selector', 'one', ...config]);
  assert.equal(active.code, 1);
  assert.match(active.stderr, /one is the active key of example\.com: postern dkim rotate --domain example\.com/);
  assert.match(active.stderr, /add --force/);
  assert.deepEqual(await selectors(), ['one active'], 'refused: nothing removed');

  const forced = await postern([
    'dkim',
    'remove',
    '--domain',
    'example.com',
    '--selector',
    'one',
    '--force',
    ...config,
  ]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /publish "v=DKIM1; p=" at one\._domainkey\.example\.com to revoke it/);
  assert.match(forced.stdout, /so that example\.com is signed again/);
  assert.deepEqual(await selectors(), []);
  // The selector is free again, and the next key of the domain is active at once.
  const again = await keygen('one');
  assert.match(again.stdout, /It is active at once/);
});

test('dkim list and remove take an internationalized domain in either form, as keygen does (RFC 5890 §2.3.2.1)', async (t) => {
  const { file } = dir(t, { domains: ['xn--bcher-kva.example'] });
  const config = ['--config', file];
  for (const selector of ['one', 'two']) {
    const r = await postern([
      'dkim',
      'keygen',
      '--domain',
      'bücher.example',
      '--algo',
      'ed25519',
      '--selector',
      selector,
      ...config,
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  const listed = await postern(['dkim', 'list', '--json', '--domain', 'Bücher.Example.', ...config]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    (JSON.parse(listed.stdout) as ListedKey[]).map((k) => `${k.domain} ${k.selector} ${k.state}`),
    ['xn--bcher-kva.example one active', 'xn--bcher-kva.example two pending'],
  );
  const table = await postern(['dkim', 'list', '--domain', 'bücher.example', ...config]);
  assert.match(table.stdout, /^xn--bcher-kva\.example +two +ed25519/m);

  const removed = await postern(['dkim', 'remove', '--domain', 'bücher.example', '--selector', 'two', ...config]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /^Removed DKIM key two of xn--bcher-kva\.example \(Ed25519, pending\)\./);
  const left = await postern(['dkim', 'list', '--json', '--domain', 'xn--bcher-kva.example', ...config]);
  assert.deepEqual(
    (JSON.parse(left.stdout) as ListedKey[]).map((k) => k.selector),
    ['one'],
  );
});

test('dkim rotate, then rotate --advance as the record appears in DNS', async (t) => {
  const dns = await startTestDnsServer({ records: {} });
  t.after(() => dns.close());
  const { file } = dir(t, { dns: { servers: [dns.server], timeoutMs: 500, tries: 1 }, dkim: { retireAfterDays: 3 } });
  const config = ['--config', file];
  const keygen = await postern(['dkim', 'keygen', '--domain', 'example.com', '--selector', 'one', ...config]);
  assert.equal(keygen.code, 0, keygen.stderr);
  const old = publishedKey(keygen.stdout);

  const rotate = await postern(['dkim', 'rotate', '--domain', 'example.com', '--selector', 'two', ...config]);
  assert.equal(rotate.code, 0, rotate.stderr);
  assert.match(rotate.stdout, /^Created DKIM key two for example\.com \(RSA, 2048 bits\), pending: it replaces one\./);
  assert.match(rotate.stdout, /two starts signing once DNS serves this record: postern serve checks every 10 minutes,/);
  assert.match(rotate.stdout, /Keep the record of one published: it stops signing then, and is retired 3 days later,/);
  const next = publishedKey(rotate.stdout);
  assert.equal(next.selector, 'two');

  const [again, waiting] = await Promise.all([
    postern(['dkim', 'rotate', '--domain', 'example.com', ...config]),
    postern(['dkim', 'rotate', '--advance', ...config]),
  ]);
  assert.equal(again.code, 1);
  assert.match(
    again.stderr,
    /a rotation of example\.com is under way: two waits for its DNS record two\._domainkey\.example\.com/,
  );
  assert.equal(waiting.code, 0, waiting.stderr);
  assert.equal(waiting.stdout, 'example.com: two is still pending: no DKIM record at two._domainkey.example.com yet\n');

  // Published in testing mode first: still pending, and the CLI says why in dns check's words.
  dns.setZone({
    records: {
      'one._domainkey.example.com': { TXT: [old.strings] },
      'two._domainkey.example.com': {
        TXT: [next.strings.map((part, i) => (i === 0 ? part.replace('v=DKIM1; ', 'v=DKIM1; t=y; ') : part))],
      },
    },
  });
  const testing = await postern(['dkim', 'rotate', '--advance', ...config]);
  assert.equal(testing.code, 0, testing.stderr);
  assert.match(testing.stdout, /^example\.com: two is still pending: .*t=y/);
  assert.doesNotMatch(testing.stdout, /holds another key/);

  // The admin pastes both records into the zone.
  dns.setZone({
    records: {
      'one._domainkey.example.com': { TXT: [old.strings] },
      'two._domainkey.example.com': { TXT: [next.strings] },
    },
  });
  const before = Date.now();
  const advanced = await postern(['dkim', 'rotate', '--advance', ...config]);
  assert.equal(advanced.code, 0, advanced.stderr);
  const m =
    /^example\.com: two is in DNS and now active; one is no longer the key to sign with and is retired after (\S+)\n$/.exec(
      advanced.stdout,
    );
  assert.ok(m, advanced.stdout);
  const retireAfter = Date.parse(m[1]!);
  assert.ok(retireAfter >= before + 3 * 86_400_000 && retireAfter <= Date.now() + 3 * 86_400_000);

  const [listed, idle] = await Promise.all([
    postern(['dkim', 'list', '--json', '--domain', 'example.com', ...config]),
    postern(['dkim', 'rotate', '--advance', ...config]),
  ]);
  const keys = JSON.parse(listed.stdout) as ListedKey[];
  assert.deepEqual(
    keys.map((k) => [k.selector, k.state, k.retireAfter === null ? null : Date.parse(k.retireAfter)]),
    [
      ['one', 'retiring', retireAfter],
      ['two', 'active', null],
    ],
  );
  assert.equal(idle.stdout, 'nothing to do: no DKIM key is pending or due to retire\n');
});
