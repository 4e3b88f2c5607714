// The CAA query `dns check` makes, against real DNS answers from the loopback test server.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createCaaLookup } from '../../../src/admin/dns-check/caa-lookup.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';

let dns: TestDnsServer;
before(async () => {
  dns = await startTestDnsServer({
    records: {
      'example.org': {
        CAA: [
          { flags: 0, tag: 'issue', value: 'letsencrypt.org' },
          { flags: 0, tag: 'iodef', value: 'mailto:security@example.org' },
          { flags: 128, tag: 'tbs', value: 'unknown' },
        ],
      },
      'no-caa.example.org': { A: ['192.0.2.1'] },
    },
    timeout: ['slow.example.org'],
  });
});
after(() => dns.close());

test('CAA records read with their tag, value and critical flag (RFC 8659 §4.1)', async () => {
  const lookup = createCaaLookup({ servers: [dns.server], timeoutMs: 500, tries: 1 });
  const answer = await lookup('example.org');
  assert.ok(answer.ok, JSON.stringify(answer));
  assert.deepEqual(
    [...answer.records].sort((a, b) => a.tag.localeCompare(b.tag)),
    [
      { critical: false, tag: 'iodef', value: 'mailto:security@example.org' },
      { critical: false, tag: 'issue', value: 'letsencrypt.org' },
      { critical: true, tag: 'tbs', value: 'unknown' },
    ],
  );
  assert.deepEqual(await lookup('no-caa.example.org'), { ok: false, error: 'nodata' });
  const slow = await lookup('slow.example.org');
  assert.equal(slow.ok, false);
  assert.equal((slow as { error: string }).error, 'temperror', 'a timeout is temporary, never "no record"');
});

test('a CAA query passes to the next server after a SERVFAIL, as every other look-up does', async (t) => {
  // Before, node:dns asked the first server only: its SERVFAIL was final.
  const failing = await startTestDnsServer({ records: {}, servfail: ['example.org'] });
  t.after(() => failing.close());
  const lookup = createCaaLookup({ servers: [failing.server, dns.server], timeoutMs: 500, tries: 1 });
  const answer = await lookup('example.org');
  assert.ok(answer.ok, JSON.stringify(answer));
  assert.equal(answer.records.length, 3);
});
