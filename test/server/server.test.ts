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
