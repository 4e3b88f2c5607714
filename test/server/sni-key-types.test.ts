// A name other than the default with an RSA and an ECDSA certificate (SNI), on the submission ports of
// a running server, as openssl s_client sees it: a TLS 1.2 client that lists ECDSA signature
// algorithms but offers only ECDHE-RSA suites had been handed the ECDSA certificate (chosen by the
// signature algorithms alone) and failed the handshake.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createSelfSignedCertificate, type KeyAlgorithm } from '../../src/tls/create-certificate.ts';
import { startTestServer, type TestServer, tempDir } from '../support/server.ts';

let server: TestServer;
let dir: string;
const fingerprints = new Map<string, string>();

before(async () => {
  dir = tempDir('postern-sni-');
  const pairs: { cert: string; key: string }[] = [];
  for (const [name, hostname, keyAlgorithm] of [
    ['mx-ec', 'mx.example.com', 'ecdsa-p256'],
    ['other-rsa', 'other.example', 'rsa-2048'],
    ['other-ec', 'other.example', 'ecdsa-p256'],
  ] as const satisfies readonly (readonly [string, string, KeyAlgorithm])[]) {
    const pair = await createSelfSignedCertificate({ hostnames: [hostname], keyAlgorithm });
    const cert = path.join(dir, `${name}.crt`);
    const key = path.join(dir, `${name}.key`);
    fs.writeFileSync(cert, pair.cert);
    fs.writeFileSync(key, pair.key, { mode: 0o600 });
    pairs.push({ cert, key });
    fingerprints.set(new X509Certificate(pair.cert).fingerprint256, name);
  }
  // The first is the default (mx.example.com); other.example is reached by an SNI switch.
  server = await startTestServer({ tls: { certificates: pairs } });
});
after(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface SClient {
  code: number | null;
  output: string;
  /** Which of the certificates written above the server presented. */
  served: string | undefined;
  cipher: string | undefined;
}

/**
 * `openssl s_client` against the port; stdin closed, so it hangs up right after the handshake, or
 * after `holdMs` (time for a TLS 1.3 server's session ticket, which comes after the handshake).
 */
function sClient(port: number, args: string[], holdMs = 0): Promise<SClient> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-showcerts', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    setTimeout(() => child.stdin.end(), holdMs);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const leaf = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(output)?.[0];
      const served = leaf ? fingerprints.get(new X509Certificate(leaf).fingerprint256) : undefined;
      const cipher = /Cipher is (\S+)/.exec(output)?.[1];
      resolve({ code, output, served, cipher });
    });
  });
}

const RSA_SUITES_ECDSA_SIGNATURES = [
  '-tls1_2',
  '-servername',
  'other.example',
  '-cipher',
  'ECDHE-RSA-AES128-GCM-SHA256',
  '-sigalgs',
  'ECDSA+SHA256:RSA+SHA256',
];

test('another name with RSA and ECDSA: TLS 1.2 with ECDSA signatures but only RSA suites gets RSA (port 465)', async () => {
  const result = await sClient(server.submissionsPort, RSA_SUITES_ECDSA_SIGNATURES);
  assert.equal(result.code, 0, result.output);
  assert.equal(result.cipher, 'ECDHE-RSA-AES128-GCM-SHA256', result.output);
  assert.equal(result.served, 'other-rsa', result.output);
});

test('the same client after STARTTLS on port 587', async () => {
  const result = await sClient(server.submissionPort, ['-starttls', 'smtp', ...RSA_SUITES_ECDSA_SIGNATURES]);
  assert.equal(result.code, 0, result.output);
  assert.equal(result.served, 'other-rsa', result.output);
});

test('the name still gets ECDSA over TLS 1.3, and RSA where the client verifies RSA only', async () => {
  const tls13 = await sClient(server.submissionsPort, ['-tls1_3', '-servername', 'other.example']);
  assert.equal(tls13.served, 'other-ec', tls13.output);
  const rsaOnly = await sClient(server.submissionsPort, [
    '-tls1_3',
    '-servername',
    'other.example',
    '-sigalgs',
    'RSA-PSS+SHA256',
  ]);
  assert.equal(rsaOnly.served, 'other-rsa', rsaOnly.output);
  // The default name is one context with both: its choice is OpenSSL's, by suite and signature.
  const tls12 = await sClient(server.submissionsPort, ['-tls1_2', '-servername', 'mx.example.com']);
  assert.equal(tls12.served, 'mx-ec', tls12.output);
});

for (const version of ['-tls1_2', '-tls1_3']) {
  test(`${version}: a session made for one name is not resumed under another (RFC 6066 §3), on port 465`, async () => {
    // A session for other.example had been resumed by a ClientHello naming mx.example.com, and the
    // other way round: the ticket is judged before the SNI callback ever runs.
    for (const [made, resumed] of [
      ['other.example', 'mx.example.com'],
      ['mx.example.com', 'other.example'],
    ]) {
      const file = path.join(dir, `session-${version}-${made}.pem`);
      const first = await sClient(server.submissionsPort, [version, '-servername', made!, '-sess_out', file], 500);
      assert.equal(first.code, 0, first.output);
      assert.ok(fs.existsSync(file), `s_client saved the session: ${first.output}`);
      const second = await sClient(server.submissionsPort, [version, '-servername', resumed!, '-sess_in', file]);
      assert.equal(second.code, 0, second.output);
      assert.match(second.output, /^New, TLSv1\.[23]/m, `${made} -> ${resumed}: a full handshake`);
      assert.doesNotMatch(second.output, /^Reused,/m);
    }
  });
}

test('a client offering ALPN without smtp (http/1.1: ALPACA) gets no_application_protocol; smtp or none is served', async () => {
  // RFC 7301 §3.2 and RFC 9325 §3.8: had completed the handshake, so an HTTPS client reached the SMTP session.
  for (const [port, starttls] of [
    [server.submissionsPort, []],
    [server.submissionPort, ['-starttls', 'smtp']],
  ] as const) {
    const http = await sClient(port, [...starttls, '-alpn', 'http/1.1']);
    assert.notEqual(http.code, 0, http.output);
    assert.match(http.output, /alert no application protocol/, http.output);
    const smtp = await sClient(port, [...starttls, '-alpn', 'http/1.1,smtp']);
    assert.equal(smtp.code, 0, smtp.output);
    assert.match(smtp.output, /ALPN protocol: smtp/);
    const none = await sClient(port, [...starttls]);
    assert.equal(none.code, 0, none.output);
    assert.match(none.output, /No ALPN negotiated/);
  }
});
