/**
 * CertificateStore: which certificate a client without SNI gets, whatever order the certificates are
 * loaded and reloaded in, and when TLS sessions may be resumed (tickets, with keys that rotate).
 * Real handshakes on loopback sockets made as the listeners make them.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { CertificateStore } from '../../src/tls/certificate-store.ts';
import { createSelfSignedCertificate, type PemPair } from '../../src/tls/create-certificate.ts';
import { handshake, startTlsSocketServer, type TestTlsServer } from './tls-kit.ts';

const HOUR = 3_600_000;
const fingerprint = (pair: PemPair) => new X509Certificate(pair.cert).fingerprint256;

let hostnameCert: PemPair;
let acmeCert: PemPair;
let otherCert: PemPair;
const servers: TestTlsServer[] = [];

before(async () => {
  [hostnameCert, acmeCert, otherCert] = await Promise.all([
    createSelfSignedCertificate({ hostnames: ['mx.example.com'] }),
    createSelfSignedCertificate({ hostnames: ['acme.example.com'] }),
    createSelfSignedCertificate({ hostnames: ['other.example.net'] }),
  ]);
});

after(async () => {
  for (const server of servers) await server.close();
});

/** Serves the store as the listeners do (handshakeOptions per connection); the no-SNI client's certificate. */
async function serving(store: CertificateStore): Promise<{ port: number; withoutSni: () => Promise<string> }> {
  const server = await startTlsSocketServer(() => store.handshakeOptions());
  servers.push(server);
  // A client connecting to an IP address sends no SNI (RFC 6066 §3 forbids literal addresses in it).
  return { port: server.port, withoutSni: async () => (await handshake(server.port)).certificate.fingerprint256 };
}

describe('the default certificate (clients without SNI) does not depend on the order of loads', () => {
  test('the certificate naming the hostname, before and after the others load and reload', async () => {
    // As serve starts: ACME's stored certificate (ranked after the files) is loaded before the PEM
    // files; then ACME renews, and a PEM file is rewritten. Each had claimed the default in turn.
    const store = new CertificateStore({ hostname: 'MX.example.com.' });
    const { withoutSni } = await serving(store);
    store.addPem(acmeCert.cert, acmeCert.key, { source: 'acme/acme.example.com.crt', rank: 1 });
    store.addPem(hostnameCert.cert, hostnameCert.key, { source: '/etc/postern/mx.crt', rank: 0 });
    assert.equal(await withoutSni(), fingerprint(hostnameCert), 'at start');
    store.addPem(acmeCert.cert, acmeCert.key, { source: 'acme/acme.example.com.crt', rank: 1 });
    assert.equal(await withoutSni(), fingerprint(hostnameCert), 'after an ACME renewal');
    store.addPem(hostnameCert.cert, hostnameCert.key, { source: '/etc/postern/mx.crt', rank: 0 });
    assert.equal(await withoutSni(), fingerprint(hostnameCert), 'after the file is reloaded');
    assert.deepEqual(
      store.list().map((info) => [info.source, info.isDefault]),
      [
        ['acme/acme.example.com.crt', false],
        ['/etc/postern/mx.crt', true],
      ],
    );
  });

  test('the hostname named by a later-ranked certificate still wins over the first configured', async () => {
    const store = new CertificateStore({ hostname: 'mx.example.com' });
    const { withoutSni } = await serving(store);
    store.addPem(otherCert.cert, otherCert.key, { source: 'first', rank: 0 });
    store.addPem(hostnameCert.cert, hostnameCert.key, { source: 'acme', rank: 1 });
    assert.equal(await withoutSni(), fingerprint(hostnameCert));
  });

  test('no certificate names the hostname: the first configured (lowest rank), loaded last or reloaded', async () => {
    const store = new CertificateStore({ hostname: 'mail.example.org' });
    const { withoutSni } = await serving(store);
    store.addPem(acmeCert.cert, acmeCert.key, { source: 'acme', rank: 2 });
    store.addPem(otherCert.cert, otherCert.key, { source: 'second.crt', rank: 1 });
    store.addPem(hostnameCert.cert, hostnameCert.key, { source: 'first.crt', rank: 0 });
    assert.equal(await withoutSni(), fingerprint(hostnameCert));
    store.addPem(acmeCert.cert, acmeCert.key, { source: 'acme', rank: 2 });
    store.addPem(otherCert.cert, otherCert.key, { source: 'second.crt', rank: 1 });
    assert.equal(await withoutSni(), fingerprint(hostnameCert), 'after the others are reloaded');
    store.remove('first.crt');
    assert.equal(await withoutSni(), fingerprint(otherCert), 'the next configured when the first goes');
  });
});

interface Connected {
  reused: boolean;
  session: Buffer | undefined;
}

/** One connection; waits for the server's ticket (TLS 1.3 sends it after the handshake), bounded. */
function connect(port: number, options: tls.ConnectionOptions): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    let session: Buffer | undefined;
    let secure = false;
    const finish = () => {
      clearTimeout(timer);
      const reused = socket.isSessionReused();
      socket.destroy();
      resolve({ reused, session });
    };
    const timer = setTimeout(() => {
      if (secure) return finish();
      socket.destroy();
      reject(new Error('no handshake within 1.5 s'));
    }, 1500);
    socket.on('session', (ticket: Buffer) => {
      session = ticket;
      if (secure) finish();
    });
    socket.once('secureConnect', () => {
      secure = true;
      // A resumed TLS 1.2 session brings no new ticket: nothing to wait for.
      if (session || socket.isSessionReused()) finish();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

describe('session resumption', () => {
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    test(`${version}: with one certificate for every name, a session is resumed`, async () => {
      const store = new CertificateStore({ hostname: 'mx.example.com' });
      store.addPem(hostnameCert.cert, hostnameCert.key, { source: 'mx', rank: 0 });
      const { port } = await serving(store);
      const options = { servername: 'mx.example.com', minVersion: version, maxVersion: version } as const;
      const first = await connect(port, options);
      assert.ok(first.session, 'a session ticket was sent');
      assert.equal((await connect(port, { ...options, session: first.session })).reused, true);
    });

    test(`${version}: the ticket key rotates after 12 hours; an older ticket gets a full handshake`, async () => {
      let now = Date.now();
      const store = new CertificateStore({ hostname: 'mx.example.com', now: () => new Date(now) });
      store.addPem(hostnameCert.cert, hostnameCert.key, { source: 'mx', rank: 0 });
      const { port } = await serving(store);
      const options = { servername: 'mx.example.com', minVersion: version, maxVersion: version } as const;
      const first = await connect(port, options);
      now += 11 * HOUR;
      const later = await connect(port, { ...options, session: first.session });
      assert.equal(later.reused, true, 'within the key lifetime');
      now += 2 * HOUR;
      assert.equal((await connect(port, { ...options, session: first.session })).reused, false, 'after rotation');
      const fresh = await connect(port, options);
      assert.equal((await connect(port, { ...options, session: fresh.session })).reused, true, 'the new key works');
    });

    test(`${version}: with certificates for other names, no session is resumed at all`, async () => {
      // OpenSSL decides on a ticket before the SNI callback: it cannot be kept to its name (RFC 6066 §3).
      const store = new CertificateStore({ hostname: 'mx.example.com' });
      store.addPem(hostnameCert.cert, hostnameCert.key, { source: 'mx', rank: 0 });
      store.addPem(otherCert.cert, otherCert.key, { source: 'other', rank: 1 });
      const { port } = await serving(store);
      for (const servername of ['mx.example.com', 'other.example.net']) {
        const options = { servername, minVersion: version, maxVersion: version } as const;
        const first = await connect(port, options);
        const again = await connect(port, { ...options, ...(first.session ? { session: first.session } : {}) });
        assert.equal(again.reused, false, servername);
      }
    });
  }
});
