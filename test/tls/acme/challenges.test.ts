/** The challenge responders on loopback: http-01 (RFC 8555 §8.3) and tls-alpn-01 (RFC 8737). */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as x509 from '@peculiar/x509';
import acme from 'acme-client';
import { Http01Challenges, startHttp01Server } from '../../../src/tls/acme/http-01.ts';
import type { ChallengeServer } from '../../../src/tls/acme/listen.ts';
import { ACME_TLS_ALPN, startTlsAlpn01Server, TlsAlpnChallenges } from '../../../src/tls/acme/tls-alpn-01.ts';
import { createSelfSignedCertificate, type PemPair } from '../../../src/tls/create-certificate.ts';
import { serverTlsOptions } from '../../../src/tls/tls-options.ts';
import { handshake, startTlsServer } from '../tls-kit.ts';

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA'; // RFC 8555 §8.3's example token
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;

describe('http-01', () => {
  const challenges = new Http01Challenges();
  let server: ChallengeServer;
  before(async () => {
    challenges.set(TOKEN, KEY_AUTHORIZATION);
    server = await startHttp01Server('127.0.0.1:0', challenges);
  });
  after(() => server?.close());
  const get = (pathname: string, method = 'GET') =>
    fetch(`http://127.0.0.1:${server.port}${pathname}`, { method, signal: AbortSignal.timeout(5000) });

  test('the token path answers the key authorization', async () => {
    const response = await get(`/.well-known/acme-challenge/${TOKEN}`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), KEY_AUTHORIZATION);
  });

  const refusals: [name: string, pathname: string, method: string, status: number][] = [
    ['an unknown token', '/.well-known/acme-challenge/unknown', 'GET', 404],
    ['another path', '/index.html', 'GET', 404],
    ['a POST', `/.well-known/acme-challenge/${TOKEN}`, 'POST', 405],
  ];
  for (const [name, pathname, method, status] of refusals) {
    test(`${name}: ${status}`, async () => assert.equal((await get(pathname, method)).status, status));
  }

  test('an absolute-form request target (RFC 9112 §3.2.2) is answered as the origin-form', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(server.port, '127.0.0.1', () =>
        socket.write(
          `GET http://mail.example.com/.well-known/acme-challenge/${TOKEN} HTTP/1.1\r\n` +
            'Host: mail.example.com\r\nConnection: close\r\n\r\n',
        ),
      );
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        text += chunk;
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.ok(reply.endsWith(`\r\n\r\n${KEY_AUTHORIZATION}`));
  });

  test('a removed token is gone; a token outside base64url is refused', async () => {
    challenges.delete(TOKEN);
    assert.equal((await get(`/.well-known/acme-challenge/${TOKEN}`)).status, 404);
    assert.throws(() => challenges.set('../etc/passwd', 'x'), TypeError);
  });
});

describe('tls-alpn-01', () => {
  const name = 'mail.example.com';
  const challenges = new TlsAlpnChallenges();
  let standalone: ChallengeServer;
  let normal: PemPair;
  before(async () => {
    await challenges.set(name, KEY_AUTHORIZATION);
    standalone = await startTlsAlpn01Server('127.0.0.1:0', challenges);
    normal = await createSelfSignedCertificate({ hostnames: [name], keyAlgorithm: 'rsa-2048' });
  });
  after(() => standalone?.close());

  /** RFC 8737 §3: SAN is the name alone; acmeIdentifier is critical and holds SHA-256(key authorization). */
  function assertChallengeCertificate(raw: Buffer): void {
    const pem = new X509Certificate(raw).toString();
    assert.equal(new X509Certificate(raw).subjectAltName, `DNS:${name}`);
    const extension = new x509.X509Certificate(pem).getExtension('1.3.6.1.5.5.7.1.31');
    assert.equal(extension?.critical, true);
    const digest = createHash('sha256').update(KEY_AUTHORIZATION).digest();
    assert.deepEqual(Buffer.from(extension!.value), Buffer.concat([Buffer.from([0x04, 0x20]), digest]));
    assert.equal(acme.crypto.isAlpnCertificateAuthorizationValid(pem, KEY_AUTHORIZATION), true); // acme-client agrees
  }

  test('standalone: a validator offering acme-tls/1 gets the challenge certificate', async () => {
    const result = await handshake(standalone.port, { servername: name, ALPNProtocols: [ACME_TLS_ALPN] });
    assert.equal(result.alpn, ACME_TLS_ALPN);
    assertChallengeCertificate(result.certificate.raw);
  });

  test('standalone: no challenge for the name, or no acme-tls/1, and there is no handshake', async () => {
    await assert.rejects(
      handshake(standalone.port, { servername: 'other.example.com', ALPNProtocols: [ACME_TLS_ALPN] }),
    );
    await assert.rejects(handshake(standalone.port, { servername: name }));
  });

  test('on a listener with an RSA certificate: TLS 1.2 and 1.3 validators get it, other clients the normal one', async () => {
    const listener = await startTlsServer({
      ...serverTlsOptions(),
      ...normal,
      ALPNCallback: challenges.alpnCallback(['smtp']),
    });
    try {
      for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
        const result = await handshake(listener.port, { servername: name, ALPNProtocols: [ACME_TLS_ALPN], maxVersion });
        assert.equal(result.protocol, maxVersion);
        assertChallengeCertificate(result.certificate.raw);
      }
      const plain = await handshake(listener.port, { servername: name });
      assert.equal(plain.certificate.fingerprint256, new X509Certificate(normal.cert).fingerprint256);
      const smtp = await handshake(listener.port, { servername: name, ALPNProtocols: ['smtp'] });
      assert.equal(smtp.alpn, 'smtp');
      assert.equal(smtp.certificate.fingerprint256, new X509Certificate(normal.cert).fingerprint256);
    } finally {
      await listener.close();
    }
  });
});
