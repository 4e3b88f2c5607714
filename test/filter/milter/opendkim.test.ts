/**
 * MilterClient against a real milter: Debian's OpenDKIM (/usr/sbin/opendkim) on a loopback port. In signing
 * mode its DKIM-Signature, applied to the message, must verify here; in verify mode (`Mode v`) it adds
 * Authentication-Results. Started by test/support/opendkim.ts.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { verifyDkim } from '../../../src/authentication/dkim/verify-dkim.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';
import {
  applyModifications,
  filterMessage,
  MilterClient,
  type Modification,
  sessionMacros,
} from '../../../src/filter/milter/index.ts';
import { startOpendkim } from '../../support/opendkim.ts';

const MESSAGE = Buffer.from(
  [
    'From: Joe <joe@sender.example>',
    'To: alice@example.com',
    'Subject: Signed through',
    '  the Postern milter client',
    'Date: Sat, 28 Nov 2026 10:00:00 +0000',
    'Message-ID: <milter-client-test@sender.example>',
    '',
    'Hello from OpenDKIM.',
    '',
    'A second paragraph,  with  spaces.',
    '',
  ].join('\r\n'),
);

let dir: string;
let dns: TestDnsServer;
let publicTxt: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'postern-milter-'));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  publicTxt = `v=DKIM1; k=rsa; p=${rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
  dns = await startTestDnsServer({ records: { 'rsa._domainkey.sender.example': { TXT: [publicTxt] } } });
  const key = path.join(dir, 'rsa.pem');
  await writeFile(key, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  await chmod(key, 0o600);
  // OpenDKIM's test hook for key look-ups (opendkim.conf(5) TestPublicKeys): "name value" per line.
  await writeFile(path.join(dir, 'keys'), `rsa._domainkey.sender.example ${publicTxt}\n`);
});

after(async () => {
  await dns?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function isAdded(m: Modification): m is Extract<Modification, { type: 'addheader' | 'insheader' }> {
  return m.type === 'addheader' || m.type === 'insheader';
}

/** One connection, one message, as the SMTP session will drive it. */
async function run(spec: string, content: Buffer) {
  const client = await MilterClient.open({ socket: spec, timeouts: { replyMs: 5000 } });
  try {
    const macros = sessionMacros({ hostname: 'mx.example.com', clientAddress: '127.0.0.1', queueId: 'POSTERN1' });
    assert.deepEqual(
      await client.connect({ hostname: 'localhost', address: '127.0.0.1', port: 40000 }, macros.connect),
      {
        action: 'continue',
      },
    );
    await client.helo('client.example', macros.helo);
    const outcome = await filterMessage(client, {
      from: 'joe@sender.example',
      recipients: ['alice@example.com'],
      content,
      macros: { mail: macros.mail, eom: macros.eom },
    });
    await client.quit();
    return outcome;
  } finally {
    client.destroy();
  }
}

test('signing mode: a DKIM-Signature at eom that verifies once applied; verify mode: Authentication-Results', async () => {
  const signer = await startOpendkim(dir, 'sign', [
    'Mode s',
    'Domain sender.example',
    'Selector rsa',
    `KeyFile ${path.join(dir, 'rsa.pem')}`,
    'Canonicalization simple/simple',
    'InternalHosts 127.0.0.1',
  ]);
  try {
    const outcome = await run(signer.spec, MESSAGE);
    assert.notEqual(outcome.verdict.action, 'reject', signer.output());
    const added = outcome.modifications.filter(isAdded);
    assert.equal(added.length, 1, `${JSON.stringify(outcome)} ${signer.output()}`);
    assert.equal(added[0]?.name, 'DKIM-Signature');
    const signed = applyModifications(MESSAGE, outcome.modifications);
    const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1 });
    const result = await verifyDkim(signed, { resolver });
    assert.deepEqual(
      result.signatures.map((s) => [s.result, s.domain, s.selector]),
      [['pass', 'sender.example', 'rsa']],
      `${result.signatures[0]?.reason} ${signed.toString()}`,
    );
    const altered = await verifyDkim(Buffer.from(signed.toString().replace('second', 'third')), { resolver });
    assert.equal(altered.signatures[0]?.result, 'fail');

    // Verify mode, on the message just signed: OpenDKIM adds its Authentication-Results.
    const verifier = await startOpendkim(dir, 'verify', [
      'Mode v',
      `TestPublicKeys ${path.join(dir, 'keys')}`,
      'AuthservID mx.example.com',
    ]);
    try {
      const checked = await run(verifier.spec, signed);
      const ar = checked.modifications.filter(isAdded).find((m) => m.name === 'Authentication-Results');
      assert.ok(ar, `${JSON.stringify(checked)} ${verifier.output()}`);
      assert.match(ar.value, /^ mx\.example\.com;\s+dkim=pass/);
      assert.match(ar.value, /header\.d=sender\.example/);
    } finally {
      await verifier.stop();
    }
  } finally {
    await signer.stop();
  }
});
