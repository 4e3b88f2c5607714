/** CertificateStore: validation on add, and which certificate a real handshake gets for each SNI name. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
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
