// The composition root: what startServer builds from the config.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestDnsServer } from '../../src/dns/test-server.ts';
import { startTestServer } from '../support/server.ts';

test('the server resolver asks the servers in dns.servers (a loopback test zone), and a timeout is temperror', async (t) => {
  const dns = await startTestDnsServer({
    records: { 'mx.example.com': { A: ['192.0.2.25'] } },
    timeout: ['slow.example.com'],
  });
  t.after(() => dns.close());
  const server = await startTestServer({ dns: { servers: [dns.server], timeoutMs: 200, tries: 1 } });
  t.after(() => server.stop());
  assert.deepEqual(await server.resolver.a('mx.example.com'), { ok: true, records: ['192.0.2.25'] });
  assert.deepEqual(await server.resolver.a('absent.example.com'), { ok: false, error: 'nxdomain' });
  const slow = await server.resolver.a('slow.example.com');
  assert.equal(slow.ok === false && slow.error, 'temperror');
  assert.ok(
    dns.queries.some((q) => q.name.toLowerCase() === 'mx.example.com'),
    'the query reached the test server',
  );
});

test('the self-signed certificate is logged with its SHA-256 fingerprint, for users to trust it', async (t) => {
  const server = await startTestServer({ log: { level: 'warn' } });
  t.after(() => server.stop());
  const line = server.logs().find((l) => String(l.msg).startsWith('TLS: serving a self-signed certificate'));
  assert.ok(line, 'the warning is logged');
  const { X509Certificate } = await import('node:crypto');
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const fingerprint = new X509Certificate(readFileSync(join(server.dataDir, 'tls', 'self-signed.crt'))).fingerprint256;
  assert.equal(line.sha256, fingerprint);
  assert.match(String(line.msg), new RegExp(`SHA-256 ${fingerprint}`));
});
