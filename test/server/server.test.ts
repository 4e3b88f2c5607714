// The composition root: what startServer builds from the config.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestDnsServer } from '../../src/dns/test-server.ts';
import { quarantinedMessage } from '../store/quarantine-contract.ts';
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

test('smtp.minDataRate reaches the listeners: 0 lets content trickle past the data timeout', async (t) => {
  // With the default (500 octets a second) this trickle is cut at about the 1 s data timeout; before,
  // the setting was read but never given to the listeners, so 0 could not turn the deadline off.
  const server = await startTestServer({ smtp: { dataTimeoutMs: 1000, minDataRate: 0 } });
  t.after(() => server.stop());
  const socket = net.connect(server.port, '127.0.0.1');
  t.after(() => socket.destroy());
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  const until = async (pattern: RegExp) => {
    for (let i = 0; i < 200 && !pattern.test(text); i++) await sleep(10);
    assert.match(text, pattern);
  };
  await until(/^220 /m);
  socket.write('EHLO client.example\r\n');
  await until(/^250 STARTTLS/m);
  socket.write('MAIL FROM:<a@client.example>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n');
  await until(/^354 /m);
  const started = Date.now();
  for (const byte of 'Subject: slow\r\n\r\nbody text that trickles') {
    if (Date.now() - started > 2200) break;
    socket.write(byte);
    await sleep(150);
  }
  assert.doesNotMatch(text, /^421 /m, 'not cut past the data timeout');
  socket.write('\r\n.\r\n');
  await until(/^250 2\.0\.0 /m);
});

test('serve removes quarantined messages past filter.quarantine.retentionDays when it starts', async (t) => {
  const first = await startTestServer();
  t.after(() => first.stop());
  const day = 86_400_000;
  await first.store.quarantine(quarantinedMessage('Old', { receivedAt: new Date(Date.now() - 31 * day) }));
  await first.store.quarantine(quarantinedMessage('Recent', { receivedAt: new Date(Date.now() - 29 * day) }));
  await first.stopServer();
  const again = await startTestServer({ dataDir: first.dataDir, log: { level: 'info' } });
  t.after(() => again.stopServer());
  for (let i = 0; i < 100 && (await again.store.listQuarantine()).length > 1; i++) await sleep(20);
  assert.deepEqual(
    (await again.store.listQuarantine()).map((q) => q.subject),
    ['Recent'],
  );
  assert.ok(again.logs().some((l) => l.msg === 'quarantine: 1 message older than 30 days removed'));
});
