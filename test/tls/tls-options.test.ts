/**
 * serverTlsOptions and hardenSocket against real handshakes on loopback. Each refusal is paired with a
 * control: the same client against Node's defaults (or an older-protocol server) succeeds, so the
 * refusal comes from our options and not from the client or this OpenSSL build.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { createSelfSignedCertificate, type PemPair } from '../../src/tls/create-certificate.ts';
import { hardenSocket, serverTlsOptions } from '../../src/tls/tls-options.ts';
import { handshake, startTlsServer, type TestTlsServer } from './tls-kit.ts';

let ec: PemPair;
let rsa: PemPair;
let ours: TestTlsServer;
let nodeDefaults: TestTlsServer;

before(async () => {
  ec = await createSelfSignedCertificate({ hostnames: ['mail.example.com'], keyAlgorithm: 'ecdsa-p256' });
  rsa = await createSelfSignedCertificate({ hostnames: ['mail.example.com'], keyAlgorithm: 'rsa-2048' });
  const certs = { cert: [ec.cert, rsa.cert], key: [ec.key, rsa.key] };
  ours = await startTlsServer({ ...certs, ...serverTlsOptions() }, hardenSocket);
  nodeDefaults = await startTlsServer(certs);
});
after(async () => {
  await ours?.close();
  await nodeDefaults?.close();
});

describe('protocol versions (RFC 8996, RFC 9325 §3.1.1)', () => {
  test('TLS 1.3 is negotiated when the client can', async () => {
    assert.equal((await handshake(ours.port)).protocol, 'TLSv1.3');
  });

  test('TLS 1.2 succeeds with an ECDHE AEAD suite', async () => {
    const result = await handshake(ours.port, { maxVersion: 'TLSv1.2' });
    assert.equal(result.protocol, 'TLSv1.2');
    assert.match(result.cipher, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
  });

  test('a TLS 1.1 client is refused', async () => {
    const old = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
    await assert.rejects(handshake(ours.port, old));
    // Control: a server that allows TLS 1.1 talks to the same client, so the refusal above is ours.
    const legacy = await startTlsServer({ cert: rsa.cert, key: rsa.key, ...old });
    try {
      assert.equal((await handshake(legacy.port, old)).protocol, 'TLSv1.1');
    } finally {
      await legacy.close();
    }
  });
});

describe('cipher suites and curves (RFC 9325 §4.1, §4.2, §4.2.1)', () => {
  const refused: [name: string, client: tls.ConnectionOptions][] = [
    ['CBC suites only', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA' }],
    ['RSA key transport only', { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' }],
    ['P-521 as the only curve', { ecdhCurve: 'P-521' }],
  ];
  for (const [name, client] of refused) {
    test(`refused: ${name}`, async () => {
      await assert.rejects(handshake(ours.port, client));
      await handshake(nodeDefaults.port, client); // control: Node's defaults accept it
    });
  }

  test('the server order decides (honorCipherOrder): AES-128-GCM over a client preferring CHACHA20', async () => {
    const client = {
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256',
    } as const;
    assert.equal((await handshake(ours.port, client)).cipher, 'ECDHE-ECDSA-AES128-GCM-SHA256');
    // Control: with the client's order honoured the same offer gets CHACHA20.
    const clientOrder = await startTlsServer({ ...ec, ...serverTlsOptions(), honorCipherOrder: false });
    try {
      assert.equal((await handshake(clientOrder.port, client)).cipher, 'ECDHE-ECDSA-CHACHA20-POLY1305');
    } finally {
      await clientOrder.close();
    }
  });

  test('X25519 is the preferred group', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: ours.port, rejectUnauthorized: false });
    try {
      await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      assert.equal((socket.getEphemeralKeyInfo() as tls.EphemeralKeyInfo).name, 'X25519');
    } finally {
      socket.destroy();
    }
  });
});

describe('renegotiation (hardenSocket)', () => {
  /** Renegotiates over TLS 1.2, then sends a line: resolves 'echoed' or 'closed'. */
  function renegotiateThenEcho(port: number): Promise<'echoed' | 'closed'> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, maxVersion: 'TLSv1.2', rejectUnauthorized: false });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('neither an echo nor a close within 5 s'));
      }, 5000);
      const finish = (outcome: 'echoed' | 'closed') => {
        clearTimeout(timer);
        socket.destroy();
        resolve(outcome);
      };
      socket.on('error', () => {}); // the close below is the outcome
      socket.on('close', () => finish('closed'));
      socket.on('data', (data) => data.toString() === 'ping\n' && finish('echoed'));
      socket.once('secureConnect', () => {
        socket.renegotiate({ rejectUnauthorized: false }, () => socket.write('ping\n'));
      });
    });
  }

  test('a client-initiated renegotiation ends the connection', async () => {
    assert.equal(await renegotiateThenEcho(ours.port), 'closed');
  });

  test('control: without hardenSocket the same client renegotiates and carries on', async () => {
    assert.equal(await renegotiateThenEcho(nodeDefaults.port), 'echoed');
  });
});
