/**
 * DKIM interoperability: messages signed by other implementations, verified by verifyDkim through a real
 * loopback DNS server.
 *
 * - dkimpy's `dkimsign` (Debian python3-dkim): rsa-sha256 and ed25519-sha256 (RFC 8463), each
 *   canonicalization, i=.
 * - OpenDKIM (Debian opendkim-tools): `opendkim-genkey` makes the key pair and the key record (read from its
 *   zone-file stub); `opendkim-testmsg` signs. Its signing algorithm is fixed at rsa-sha1 with relaxed/simple
 *   (`sa = DKIM_SIGN_RSASHA1` in opendkim-testmsg.c, no option to change it), which RFC 8301 §3.1 forbids
 *   verifiers to accept, so verifyDkim must fail it; mailauth's verifier with rsa-sha1 allowed shows the
 *   signature and both canonicalizations agree with OpenDKIM's. testmsg's `-C` is used because without it
 *   its CR stripping (decr()) leaves the end of b= duplicated.
 *
 * .ci/run installs both packages (python3-dkim, opendkim-tools); without them these tests fail and say so,
 * as the other interop tests do: a skipped interop test would prove nothing.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { DNSResolver } from 'mailauth';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import type { DkimSignatureResult } from '../../../src/authentication/dkim/dkim-result.ts';
import { verifyDkim } from '../../../src/authentication/dkim/verify-dkim.ts';
import { mailauthResolver } from '../../../src/authentication/mailauth-resolver.ts';
import type { Resolver } from '../../../src/dns/resolver.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';

const DKIMSIGN = '/usr/bin/dkimsign';
const GENKEY = '/usr/sbin/opendkim-genkey';
const TESTMSG = '/usr/sbin/opendkim-testmsg';

/** A missing peer fails the tests with the package to install: a skipped interop test would prove nothing. */
function requireTools(...tools: string[]): void {
  const absent = tools.filter((t) => !existsSync(t));
  if (absent.length > 0) {
    throw new Error(`not installed: ${absent.join(', ')} (apt-get install python3-dkim opendkim-tools)`);
  }
}

// Folded Subject, trailing white space, blank lines at the end: the canonicalizations differ on each.
const MESSAGE = [
  'From: Joe SixPack <joe@example.com>',
  'To: Suzie Q <suzie@example.net>',
  'Subject: Is dinner',
  '  ready?',
  'Date: Sat, 01 Mar 2025 12:00:00 +0000',
  'Message-ID: <interop.1@example.com>',
  '',
  'Hi.  ',
  '',
  'We lost the game.\tAre you hungry yet?',
  '',
  '',
].join('\r\n');

let dir: string;
let dns: TestDnsServer;
let resolver: Resolver;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const records: Record<string, { TXT: string[] }> = {
  'py._domainkey.example.com': {
    TXT: [`v=DKIM1; k=rsa; p=${rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`],
  },
  // RFC 8463 §4.2: the bare 32-octet public key
  'pyed._domainkey.example.com': {
    TXT: [
      `v=DKIM1; k=ed25519; p=${ed.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64')}`,
    ],
  },
};

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'postern-dkim-interop-'));
  await writeFile(path.join(dir, 'rsa.pem'), rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }));
  // dkimpy reads an Ed25519 private key as the base64 of its 32-octet seed (RFC 8032 §5.1.5)
  const seed = ed.privateKey.export({ type: 'pkcs8', format: 'der' }).subarray(-32);
  await writeFile(path.join(dir, 'ed.key'), seed.toString('base64'));
  requireTools(DKIMSIGN, GENKEY, TESTMSG);
  // default record (h=sha256), and one that also allows sha1 for testmsg's rsa-sha1 signatures
  await run(GENKEY, ['-b', '2048', '-d', 'example.com', '-s', 'odk', '-D', dir]);
  await run(GENKEY, ['-b', '2048', '-d', 'example.com', '-s', 'odksha1', '-D', dir, '--hash-algorithms=sha1:sha256']);
  for (const selector of ['odk', 'odksha1']) {
    records[`${selector}._domainkey.example.com`] = { TXT: [await zoneStubRecord(`${selector}.txt`)] };
  }
  dns = await startTestDnsServer({ records });
  resolver = createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1, cacheTtlMs: 0 });
});

after(async () => {
  await dns?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs a tool with `input` on stdin; rejects on a non-zero exit. */
function run(command: string, args: string[], input = ''): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const stderr = Buffer.concat(err).toString();
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${command} exited ${code}: ${stderr}`));
    });
    child.stdin.end(input);
  });
}

/** The TXT data of opendkim-genkey's stub: `sel._domainkey IN TXT ( "chunk" "chunk" ) ; comment`. */
async function zoneStubRecord(file: string): Promise<string> {
  const stub = (await readFile(path.join(dir, file), 'utf8')).replace(/;[^"\n]*$/gm, '');
  return [...stub.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('');
}

/** dkimsign writes the signature and the message; on an error it writes the message alone (exit 0). */
async function dkimsign(selector: string, key: string, args: string[], message = MESSAGE): Promise<string> {
  const out = (await run(DKIMSIGN, [...args, selector, 'example.com', path.join(dir, key)], message)).toString();
  assert.match(out, /^DKIM-Signature:/, 'dkimsign did not sign');
  return out;
}

async function only(message: string): Promise<DkimSignatureResult> {
  const { signatures } = await verifyDkim(Buffer.from(message), { resolver });
  assert.equal(signatures.length, 1, JSON.stringify(signatures));
  return signatures[0]!;
}

const alterBody = (signed: string) => signed.replace('hungry', 'thirsty');

const dkimpyCases: [name: string, selector: string, key: string, args: string[], algorithm: string][] = [
  ['rsa-sha256 relaxed/simple (its default)', 'py', 'rsa.pem', [], 'rsa-sha256'],
  ['rsa-sha256 simple/simple', 'py', 'rsa.pem', ['--hcanon', 'simple', '--bcanon', 'simple'], 'rsa-sha256'],
  ['rsa-sha256 relaxed/relaxed', 'py', 'rsa.pem', ['--bcanon', 'relaxed'], 'rsa-sha256'],
  [
    'ed25519-sha256 relaxed/relaxed',
    'pyed',
    'ed.key',
    ['--signalg', 'ed25519-sha256', '--bcanon', 'relaxed'],
    'ed25519-sha256',
  ],
  [
    'ed25519-sha256 simple/simple',
    'pyed',
    'ed.key',
    ['--signalg', 'ed25519-sha256', '--hcanon', 'simple', '--bcanon', 'simple'],
    'ed25519-sha256',
  ],
];
for (const [name, selector, key, args, algorithm] of dkimpyCases) {
  test(`dkimpy ${name}: pass, and fail once the body is altered`, async () => {
    const signed = await dkimsign(selector, key, args);
    const good = await only(signed);
    assert.deepEqual(
      [good.result, good.algorithm, good.domain, good.selector],
      ['pass', algorithm, 'example.com', selector],
    );
    const altered = await only(alterBody(signed));
    assert.equal(altered.result, 'fail');
    assert.match(altered.reason, /body hash did not verify/);
  });
}

test('dkimpy i= is read back', async () => {
  const got = await only(await dkimsign('py', 'rsa.pem', ['--identity', 'joe@mail.example.com']));
  assert.deepEqual([got.result, got.identity], ['pass', 'joe@mail.example.com']);
});

test('dkimpy rsa-sha1: fail (RFC 8301 §3.1)', async () => {
  const got = await only(await dkimsign('py', 'rsa.pem', ['--signalg', 'rsa-sha1']));
  assert.equal(got.result, 'fail');
  assert.match(got.reason, /rsa-sha1/);
});

test('OpenDKIM genkey key and record, signed by dkimpy: pass', async () => {
  const signed = await dkimsign('odk', 'odk.private', []);
  const got = await only(signed);
  assert.deepEqual([got.result, got.keyBits], ['pass', 2048]);
  assert.equal((await only(alterBody(signed))).result, 'fail');
});

test('OpenDKIM testmsg (rsa-sha1 only): fail per RFC 8301 §3.1, though the signature itself verifies', async () => {
  const signed = (
    await run(
      TESTMSG,
      ['-C', '-t', dir, '-d', 'example.com', '-s', 'odksha1', '-k', path.join(dir, 'odksha1.private')],
      MESSAGE,
    )
  ).toString();
  assert.match(signed, /^DKIM-Signature: v=1; a=rsa-sha1; c=relaxed\/simple;/);
  const got = await only(signed);
  assert.equal(got.result, 'fail');
  assert.match(got.reason, /rsa-sha1.*RFC 8301 §3\.1/);
  // The same message through mailauth with rsa-sha1 allowed: OpenDKIM's hashes and signature agree with it.
  const lenient = await dkimVerify(Buffer.from(signed), { resolver: mailauthResolver(resolver) as DNSResolver });
  assert.deepEqual(
    lenient.results.map((r) => r.status.result),
    ['pass'],
  );
  const altered = await only(alterBody(signed));
  assert.equal(altered.result, 'fail');
  assert.match(altered.reason, /body hash did not verify/);
});
