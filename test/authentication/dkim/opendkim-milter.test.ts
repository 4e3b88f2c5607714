/**
 * Interop with OpenDKIM as it signs in production: the opendkim milter (Debian `opendkim`) on a loopback
 * port, driven by OpenDKIM's own milter test client (Debian `miltertest`) as an MTA would drive it. The
 * signature it adds must verify as pass here, and fail once the body is changed. (opendkim-testmsg, in
 * interop.test.ts, can only sign rsa-sha1.) .ci/run installs both packages; without them this fails and
 * says which to install.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { verifyDkim } from '../../../src/authentication/dkim/verify-dkim.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';
import { OPENDKIM, startOpendkim } from '../../support/opendkim.ts';

const MILTERTEST = '/usr/bin/miltertest';

const HEADERS: [string, string][] = [
  ['From', 'Joe <joe@sender.example>'],
  ['To', 'alice@example.com'],
  ['Subject', 'Signed by the OpenDKIM milter'],
  ['Date', 'Sat, 28 Nov 2026 10:00:00 +0000'],
  ['Message-ID', '<opendkim-milter-test@sender.example>'],
];
const BODY = 'Hello from OpenDKIM.\r\n\r\nA second paragraph,  with  spaces.\r\n';

let dir: string;
let dns: TestDnsServer;

before(async () => {
  const absent = [OPENDKIM, MILTERTEST].filter((tool) => !existsSync(tool));
  if (absent.length > 0) throw new Error(`not installed: ${absent.join(', ')} (apt-get install opendkim miltertest)`);
  dir = await mkdtemp(path.join(tmpdir(), 'postern-opendkim-'));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ed = generateKeyPairSync('ed25519');
  // RFC 8463 §4: the Ed25519 key record carries the raw 32-byte public key, not its SPKI wrapping.
  const edRaw = ed.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
  dns = await startTestDnsServer({
    records: {
      'rsa._domainkey.sender.example': {
        TXT: [`v=DKIM1; k=rsa; p=${rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`],
      },
      'ed._domainkey.sender.example': { TXT: [`v=DKIM1; k=ed25519; p=${edRaw}`] },
    },
  });
  await writeKey('rsa.pem', rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  await writeKey('ed.pem', ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
});

after(async () => {
  await dns?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Mode 0600, as a key should be (OpenDKIM's RequireSafeKeys). */
async function writeKey(name: string, pem: string): Promise<void> {
  await writeFile(path.join(dir, name), pem, { mode: 0o600 });
  await chmod(path.join(dir, name), 0o600);
}

/** Runs the milter with one key, sends it the message through miltertest, returns its DKIM-Signature value. */
async function signWithMilter(selector: string, keyFile: string, algorithm: string, canon: string): Promise<string> {
  const milter = await startOpendkim(dir, selector, [
    'Mode s',
    'Domain sender.example',
    `Selector ${selector}`,
    `KeyFile ${path.join(dir, keyFile)}`,
    `SignatureAlgorithm ${algorithm}`,
    `Canonicalization ${canon}`,
    'InternalHosts 127.0.0.1',
  ]);
  const { port } = milter;
  try {
    const lua = [
      `local conn = mt.connect("inet:${port}@127.0.0.1")`,
      'if conn == nil then error("connect failed") end',
      'assert(mt.conninfo(conn, "localhost", "127.0.0.1") == nil)',
      // HELO goes implicitly: OpenDKIM's negotiation turns the HELO step off.
      'mt.macro(conn, SMFIC_MAIL, "i", "postern-test")',
      'assert(mt.mailfrom(conn, "joe@sender.example") == nil)',
      'assert(mt.rcptto(conn, "alice@example.com") == nil)',
      ...HEADERS.map(
        ([name, value]) => `assert(mt.header(conn, ${JSON.stringify(name)}, ${JSON.stringify(value)}) == nil)`,
      ),
      'assert(mt.eoh(conn) == nil)',
      `assert(mt.bodystring(conn, ${JSON.stringify(BODY)}) == nil)`,
      'assert(mt.eom(conn) == nil)',
      'print("SIGNATURE:" .. mt.getheader(conn, "DKIM-Signature", 0))',
      'mt.disconnect(conn)',
    ].join('\n');
    const script = path.join(dir, `${selector}.lua`);
    await writeFile(script, lua);
    const run = spawnSync(MILTERTEST, ['-s', script], { encoding: 'utf8', timeout: 20_000 });
    // The value is folded over several lines: everything after the marker.
    const at = run.stdout.indexOf('SIGNATURE:');
    assert.ok(
      at >= 0,
      `miltertest gave no signature (exit ${run.status}): ${run.stdout} ${run.stderr} ${milter.output()}`,
    );
    return run.stdout.slice(at + 'SIGNATURE:'.length).replace(/\n+$/, '');
  } finally {
    await milter.stop();
  }
}

function message(signature: string, body = BODY): Buffer {
  const header = HEADERS.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  // The milter returns the value with folding as LF + tab; a header field folds with CRLF (RFC 5322 §2.2.3).
  // The value keeps its own leading space, as an MTA inserts it after the colon.
  return Buffer.from(`DKIM-Signature:${signature.replace(/\r?\n/g, '\r\n')}\r\n${header}\r\n${body}`);
}

const cases: [string, string, string, string][] = [
  ['rsa-sha256, relaxed/relaxed', 'rsa', 'rsa.pem', 'relaxed/relaxed'],
  ['rsa-sha256, simple/simple', 'rsa', 'rsa.pem', 'simple/simple'],
  ['ed25519-sha256, relaxed/simple', 'ed', 'ed.pem', 'relaxed/simple'],
];

for (const [name, selector, key, canon] of cases) {
  test(`OpenDKIM milter ${name}: pass, and fail once the body is altered`, async () => {
    const algorithm = selector === 'ed' ? 'ed25519-sha256' : 'rsa-sha256';
    const signature = await signWithMilter(selector, key, algorithm, canon);
    assert.match(signature, new RegExp(`a=${algorithm}`));
    const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1 });
    const good = await verifyDkim(message(signature), { resolver });
    assert.deepEqual(
      good.signatures.map((s) => [s.result, s.domain, s.selector, s.algorithm]),
      [['pass', 'sender.example', selector, algorithm]],
      good.signatures[0]?.reason,
    );
    const altered = await verifyDkim(message(signature, BODY.replace('second', 'third')), { resolver });
    assert.equal(altered.signatures[0]?.result, 'fail');
  });
}
