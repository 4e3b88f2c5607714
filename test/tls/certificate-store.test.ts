/** CertificateStore: validation on add, and which certificate a real handshake gets for each SNI name. */
import assert from 'node:assert/strict';
import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as x509 from '@peculiar/x509';
import { CertificateError, CertificateStore } from '../../src/tls/certificate-store.ts';
import { createSelfSignedCertificate, type PemPair } from '../../src/tls/create-certificate.ts';
import { handshake, startTlsSocketServer, type TestTlsServer } from './tls-kit.ts';

const DAY = 86_400_000;
let mail: PemPair; // mail.example.com, ECDSA: the default
let imap: PemPair; // imap.example.net, RSA
let wildcard: PemPair; // *.example.org
let mailRsa: PemPair; // mail.example.com again, RSA
let store: CertificateStore;
let server: TestTlsServer;

const fingerprint = (pair: PemPair) => new X509Certificate(pair.cert).fingerprint256;

before(async () => {
  [mail, imap, wildcard, mailRsa] = await Promise.all([
    createSelfSignedCertificate({ hostnames: ['mail.example.com'] }),
    createSelfSignedCertificate({ hostnames: ['imap.example.net'], keyAlgorithm: 'rsa-2048' }),
    createSelfSignedCertificate({ hostnames: ['*.example.org'] }),
    createSelfSignedCertificate({ hostnames: ['mail.example.com'], keyAlgorithm: 'rsa-2048' }),
  ]);
  store = new CertificateStore();
  store.addPem(mail.cert, mail.key, { source: 'mail', default: true });
  store.addPem(imap.cert, imap.key, { source: 'imap' });
  store.addPem(wildcard.cert, wildcard.key, { source: 'wildcard' });
  // As the SMTP listener does: the default context, and SNI to switch.
  server = await startTlsSocketServer(() => ({ secureContext: store.secureContext(), SNICallback: store.SNICallback }));
});
after(() => server?.close());

describe('SNI selection over a real handshake', () => {
  const cases: [servername: string | undefined, want: 'mail' | 'imap' | 'wildcard'][] = [
    ['mail.example.com', 'mail'],
    ['imap.example.net', 'imap'],
    ['IMAP.Example.NET.', 'imap'], // RFC 4343: case-insensitive; a trailing dot is not part of the name
    ['smtp.example.org', 'wildcard'], // RFC 6125 §6.4.3: * is one label
    ['example.org', 'mail'], // the wildcard does not cover its parent: the default
    ['a.b.example.org', 'mail'], // nor two labels
    ['unknown.example', 'mail'],
    [undefined, 'mail'], // no SNI at all
  ];
  for (const [servername, want] of cases) {
    test(`${servername ?? '(no SNI)'} gets ${want}`, async () => {
      const { certificate } = await handshake(server.port, servername ? { servername } : {});
      assert.equal(certificate.fingerprint256, fingerprint({ mail, imap, wildcard }[want]));
    });
  }

  test('an RSA and an ECDSA certificate for one name: ECDSA is served, RSA if it is the only one left', async () => {
    const both = new CertificateStore();
    both.addPem(mailRsa.cert, mailRsa.key, { source: 'rsa' });
    both.addPem(mail.cert, mail.key, { source: 'ec' });
    const dual = await startTlsSocketServer(() => ({
      secureContext: both.secureContext(),
      SNICallback: both.SNICallback,
    }));
    try {
      const servername = 'mail.example.com';
      assert.equal((await handshake(dual.port, { servername })).certificate.fingerprint256, fingerprint(mail));
      both.remove('ec');
      assert.equal((await handshake(dual.port, { servername })).certificate.fingerprint256, fingerprint(mailRsa));
    } finally {
      await dual.close();
    }
  });
});

describe('an RSA and an ECDSA certificate for one name: each client gets one it can use', () => {
  // Clients that can verify RSA signatures only: by their signature algorithms (TLS 1.3), or by their
  // cipher suites (TLS 1.2; such a client still lists ECDSA signature algorithms).
  const rsaBySigalgs = { sigalgs: 'RSA-PSS+SHA256:rsa_pkcs1_sha256' };
  const rsaByCiphers = { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' } as const;

  test('the default name, as the listeners handshake (handshakeOptions): with SNI and without', async () => {
    const both = new CertificateStore();
    both.addPem(mailRsa.cert, mailRsa.key, { source: 'rsa', default: true });
    both.addPem(mail.cert, mail.key, { source: 'ec' });
    const dual = await startTlsSocketServer(() => both.handshakeOptions());
    try {
      for (const sni of [{ servername: 'mail.example.com' }, {}]) {
        const label = JSON.stringify(sni);
        // A single ECDSA context had been switched in for the name: these failed the handshake.
        for (const client of [rsaBySigalgs, rsaByCiphers]) {
          const { certificate } = await handshake(dual.port, { ...sni, ...client });
          assert.equal(certificate.fingerprint256, fingerprint(mailRsa), `${label} ${JSON.stringify(client)}`);
        }
        assert.equal((await handshake(dual.port, sni)).certificate.fingerprint256, fingerprint(mail), label);
      }
    } finally {
      await dual.close();
    }
  });

  test('another name, reached by an SNI switch: chosen by the version and the signature algorithms the client shares', async () => {
    const [otherEc, otherRsa] = await Promise.all([
      createSelfSignedCertificate({ hostnames: ['smtp.example.net'] }),
      createSelfSignedCertificate({ hostnames: ['smtp.example.net'], keyAlgorithm: 'rsa-2048' }),
    ]);
    const several = new CertificateStore();
    several.addPem(mail.cert, mail.key, { source: 'mail', default: true });
    several.addPem(otherEc.cert, otherEc.key, { source: 'ec' });
    several.addPem(otherRsa.cert, otherRsa.key, { source: 'rsa' });
    const server = await startTlsSocketServer(() => several.handshakeOptions());
    try {
      const servername = 'smtp.example.net';
      const rsa = await handshake(server.port, { servername, ...rsaBySigalgs });
      assert.equal(rsa.certificate.fingerprint256, fingerprint(otherRsa));
      assert.equal((await handshake(server.port, { servername })).certificate.fingerprint256, fingerprint(otherEc));
      // TLS 1.2, ECDSA signatures listed, RSA suites only: the switch had carried ECDSA, and the handshake failed.
      const byCiphers = await handshake(server.port, { servername, ...rsaByCiphers });
      assert.equal(byCiphers.certificate.fingerprint256, fingerprint(otherRsa));
      assert.equal(byCiphers.cipher, 'ECDHE-RSA-AES128-GCM-SHA256');
      // A TLS 1.2 client that verifies ECDSA only still gets ECDSA.
      const ecdsaOnly = await handshake(server.port, { servername, maxVersion: 'TLSv1.2', sigalgs: 'ECDSA+SHA256' });
      assert.equal(ecdsaOnly.certificate.fingerprint256, fingerprint(otherEc));
    } finally {
      await server.close();
    }
  });
});

describe('addPem', () => {
  test('records names, key type and validity, and emits them', () => {
    const fresh = new CertificateStore();
    const seen: string[] = [];
    fresh.on('loaded', (info) => seen.push(info.source));
    const info = fresh.addPem(imap.cert, imap.key, { source: '/etc/postern/imap.pem' });
    assert.deepEqual(info.hostnames, ['imap.example.net']);
    assert.equal(info.keyType, 'rsa');
    assert.equal(info.notAfter.getTime(), new X509Certificate(imap.cert).validToDate.getTime());
    assert.equal(info.isDefault, true); // the first added, when none is marked
    assert.deepEqual(seen, ['/etc/postern/imap.pem']);
  });

  test('a key that does not match the certificate is refused, naming the source', () => {
    const fresh = new CertificateStore();
    assert.throws(
      () => fresh.addPem(mail.cert, imap.key, { source: '/etc/postern/mail.pem' }),
      (err) =>
        err instanceof CertificateError && err.code === 'key-mismatch' && /\/etc\/postern\/mail\.pem/.test(err.message),
    );
    assert.equal(fresh.size, 0);
  });

  test('an expired certificate is refused, naming the hostname', async () => {
    const expired = await createSelfSignedCertificate({
      hostnames: ['old.example.com'],
      notBefore: new Date(Date.now() - 400 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    assert.throws(
      () => new CertificateStore().addPem(expired.cert, expired.key),
      (err) => err instanceof CertificateError && err.code === 'expired' && err.message.startsWith('old.example.com:'),
    );
  });

  test('an expired certificate is taken when the caller accepts it, and a valid one for its name wins', async () => {
    const [expired, valid] = await Promise.all([
      createSelfSignedCertificate({
        hostnames: ['mail.example.com'],
        notBefore: new Date(Date.now() - 400 * DAY),
        notAfter: new Date(Date.now() - DAY),
      }),
      createSelfSignedCertificate({ hostnames: ['mail.example.com'] }),
    ]);
    const certificates = new CertificateStore();
    // As after a restart: ACME's certificate is loaded from disk first, then the (expired) file,
    // configured first: the default, yet clients without SNI get the valid one for its name.
    certificates.addPem(valid.cert, valid.key, { source: 'acme', rank: 1 });
    const info = certificates.addPem(expired.cert, expired.key, { source: 'file', rank: 0, acceptExpired: true });
    assert.deepEqual(
      certificates.list().map((c) => [c.source, c.isDefault]),
      [
        ['acme', true],
        ['file', false],
      ],
      'isDefault: what a client without SNI is served',
    );
    assert.ok(info.notAfter < new Date());
    const tlsServer = await startTlsSocketServer(() => certificates.handshakeOptions());
    try {
      for (const options of [{ servername: 'mail.example.com' }, {}]) {
        const { certificate } = await handshake(tlsServer.port, options);
        assert.equal(certificate.fingerprint256, fingerprint(valid), JSON.stringify(options));
      }
      // Alone, the expired one is served (rather than nothing).
      certificates.remove('acme');
      assert.equal((await handshake(tlsServer.port, {})).certificate.fingerprint256, fingerprint(expired));
    } finally {
      await tlsServer.close();
    }
  });

  test('garbage is refused as cert-invalid or key-invalid', () => {
    const fresh = new CertificateStore();
    assert.throws(() => fresh.addPem('not a certificate', mail.key), { code: 'cert-invalid' });
    assert.throws(() => fresh.addPem(mail.cert, 'not a key'), { code: 'key-invalid' });
  });

  test('the same source replaces, keeping one entry; remove falls back to the first', () => {
    const fresh = new CertificateStore();
    fresh.addPem(mail.cert, mail.key, { source: 'a' });
    fresh.addPem(imap.cert, imap.key, { source: 'b', default: true });
    fresh.addPem(wildcard.cert, wildcard.key, { source: 'b', default: true });
    assert.equal(fresh.size, 2);
    assert.deepEqual(fresh.list().find((info) => info.isDefault)?.hostnames, ['*.example.org']);
    fresh.remove('b');
    assert.deepEqual(
      fresh.list().map((info) => [info.source, info.isDefault]),
      [['a', true]],
    );
  });

  test('an encrypted key is named as such, against the key file (PKCS#8 and traditional PEM encryption)', () => {
    const plain = createPrivateKey(mail.key);
    const passphrase = 'secret';
    const encrypted = {
      pkcs8: plain.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString(),
      sec1: plain.export({ type: 'sec1', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString(),
    };
    assert.match(encrypted.sec1, /Proc-Type: 4,ENCRYPTED/);
    for (const [kind, key] of Object.entries(encrypted)) {
      assert.throws(
        () =>
          new CertificateStore().addPem(mail.cert, key, {
            source: '/etc/postern/mx.crt',
            keySource: '/etc/postern/mx.key',
          }),
        (err) =>
          err instanceof CertificateError &&
          err.code === 'key-invalid' &&
          err.source === '/etc/postern/mx.key' &&
          /^\/etc\/postern\/mx\.key: the private key is encrypted \(a passphrase protects it\)/.test(err.message),
        kind,
      );
    }
    assert.throws(() => new CertificateStore().addPem(mail.cert, 'not a key', { keySource: 'mx.key' }), {
      message: 'mx.key: the private key cannot be read',
    });
  });

  test("a chain whose first certificate is not the key's says which one is, and whether it is the CA's", async () => {
    const outOfOrder = `${imap.cert}\n${mail.cert}`;
    assert.throws(() => new CertificateStore().addPem(outOfOrder, mail.key, { source: 'mx.crt' }), {
      code: 'key-mismatch',
      message: "mx.crt: the key matches certificate 2 of the file: put the server's certificate first",
    });
    const ca = await caCertificate();
    assert.throws(() => new CertificateStore().addPem(`${mail.cert}\n${ca.cert}`, ca.key, { source: 'mx.crt' }), {
      code: 'key-mismatch',
      message: "mx.crt: the key is that of certificate 2 of the file, a CA certificate: give the server's own key",
    });
    assert.throws(() => new CertificateStore().addPem(mail.cert, imap.key, { source: 'mx.crt' }), {
      message: 'mx.crt: the key does not match the certificate',
    });
  });

  test('an empty store has no context to give', () => {
    assert.throws(() => new CertificateStore().secureContext('mail.example.com'), { code: 'no-certificate' });
  });
});

test('a certificate valid only from tomorrow is refused; one valid from a minute ahead is taken (clock skew)', async () => {
  const [tomorrow, soon] = await Promise.all([
    createSelfSignedCertificate({ hostnames: ['new.example.com'], notBefore: new Date(Date.now() + DAY) }),
    createSelfSignedCertificate({ hostnames: ['new.example.com'], notBefore: new Date(Date.now() + 60_000) }),
  ]);
  assert.throws(() => new CertificateStore().addPem(tomorrow.cert, tomorrow.key), { code: 'not-yet-valid' });
  assert.equal(new CertificateStore().addPem(soon.cert, soon.key).hostnames[0], 'new.example.com');
});

test('a stand-in (the self-signed fallback) gives way to any certificate loaded after it, for every name', async () => {
  const [standIn, acme] = await Promise.all([
    createSelfSignedCertificate({ hostnames: ['mail.example.com'], notAfter: new Date(Date.now() + 365 * DAY) }),
    createSelfSignedCertificate({
      hostnames: ['mail.example.com'],
      keyAlgorithm: 'rsa-2048',
      notAfter: new Date(Date.now() + 90 * DAY),
    }),
  ]);
  const certificates = new CertificateStore();
  certificates.addPem(standIn.cert, standIn.key, { source: 'self-signed', default: true, fallback: true });
  // RSA and shorter-lived: by key type and expiry alone the ECDSA stand-in would keep winning.
  certificates.addPem(acme.cert, acme.key, { source: 'acme' });
  assert.deepEqual(
    certificates.list().map((c) => c.source),
    ['acme'],
  );
  const tlsServer = await startTlsSocketServer(() => ({
    secureContext: certificates.secureContext(),
    SNICallback: certificates.SNICallback,
  }));
  try {
    for (const options of [{ servername: 'mail.example.com' }, {}]) {
      const { certificate } = await handshake(tlsServer.port, options);
      assert.equal(certificate.fingerprint256, fingerprint(acme), JSON.stringify(options));
    }
  } finally {
    await tlsServer.close();
  }
  // And a stand-in offered after a real certificate is not taken at all.
  certificates.addPem(standIn.cert, standIn.key, { source: 'self-signed', fallback: true });
  assert.deepEqual(
    certificates.list().map((c) => c.source),
    ['acme'],
  );
});

/** A CA certificate (basicConstraints CA:TRUE, RFC 5280 §4.2.1.9) and its key. */
async function caCertificate(): Promise<PemPair> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Test CA',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + DAY),
    signingAlgorithm: algorithm,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' });
  return { cert: cert.toString('pem'), key: key.toString() };
}
