/** The HTTPS GET of the MTA-STS policy and the BIMI logo, against a loopback server with a test CA. */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createHttpsFetch, type HttpsFetch } from '../../../src/admin/dns-check/https-fetch.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';
import { createTestCa } from '../../support/test-ca.ts';

let dns: TestDnsServer;
let server: https.Server;
let fetch: HttpsFetch;
let untrusting: HttpsFetch;

before(async () => {
  const ca = await createTestCa();
  const cert = await ca.issue(['mta-sts.example.com']);
  server = https.createServer(cert, (request, response) => {
    if (request.url === '/redirect') {
      response.writeHead(301, { location: 'https://mta-sts.example.com/.well-known/mta-sts.txt' });
      response.end();
    } else if (request.url === '/big') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('x'.repeat(100_000));
    } else {
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(`host ${request.headers.host}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  dns = await startTestDnsServer({
    records: {
      'mta-sts.example.com': { A: ['127.0.0.1'] },
      'other.example.com': { A: ['127.0.0.1'] },
    },
    timeout: ['slow.example.com'],
  });
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1, cacheTtlMs: 0 });
  fetch = createHttpsFetch({ resolver, ca: [ca.ca], port, timeoutMs: 2000 });
  untrusting = createHttpsFetch({ resolver, ca: [(await createTestCa('Other CA')).ca], port, timeoutMs: 2000 });
});
after(async () => {
  server.closeAllConnections();
  server.close();
  await dns.close();
});

test('fetches over HTTPS, resolving the name through our resolver and sending it as Host and SNI', async () => {
  const result = await fetch('https://mta-sts.example.com/.well-known/mta-sts.txt');
  assert.ok(result.ok);
  assert.equal(result.status, 200);
  assert.equal(result.contentType, 'text/plain; charset=utf-8');
  assert.equal(result.body.toString(), 'host mta-sts.example.com');
});

test('does not follow redirects (RFC 8461 §3.3)', async () => {
  const result = await fetch('https://mta-sts.example.com/redirect');
  assert.ok(result.ok);
  assert.equal(result.status, 301);
});

test('caps the body', async () => {
  const result = await fetch('https://mta-sts.example.com/big');
  assert.deepEqual(result.ok, false);
  assert.match(!result.ok ? result.error : '', /larger than 65536 bytes/);
});

const failures: [name: string, url: string, error: RegExp, temporary: boolean][] = [
  [
    'a certificate for another name',
    'https://other.example.com/',
    /certificate of other\.example\.com not valid/,
    false,
  ],
  ['a host without address', 'https://nowhere.example.com/', /has no A or AAAA record/, false],
  ['a DNS timeout', 'https://slow.example.com/', /DNS timeout/, true],
  ['not https', 'http://mta-sts.example.com/', /not an https URL/, false],
];
for (const [name, url, error, temporary] of failures) {
  test(`fails on ${name}`, async () => {
    const result = await fetch(url);
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.match(result.error, error);
      assert.equal(result.temporary, temporary);
    }
  });
}

test('fails on an untrusted CA', async () => {
  const result = await untrusting('https://mta-sts.example.com/.well-known/mta-sts.txt');
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.error, /not valid \(SELF_SIGNED_CERT_IN_CHAIN/);
});
