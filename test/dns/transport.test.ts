// The look-ups' sockets: one a query in flight, but never more than MAX_DNS_SOCKETS at once.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createResolver } from '../../src/dns/system-resolver.ts';
import { startTestDnsServer } from '../../src/dns/test-server.ts';
import { MAX_DNS_SOCKETS } from '../../src/dns/transport.ts';

test('many look-ups at once on a silent server hold at most MAX_DNS_SOCKETS descriptors', async (t) => {
  // Before, each query in flight had a socket of its own: 300 at once on a slow resolver took 300
  // descriptors, and under a low open-file limit the rest failed with EMFILE as if the servers were silent.
  const names = Array.from({ length: 3 * MAX_DNS_SOCKETS }, (_, i) => `h${i}.slow.example`);
  const dns = await startTestDnsServer({ records: {}, timeout: names });
  t.after(() => dns.close());
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 150, tries: 1, cacheTtlMs: 0 });
  const descriptors = () => readdirSync('/proc/self/fd').length;
  const before = descriptors();
  let most = before;
  let running = true;
  const watch = (async () => {
    while (running) {
      most = Math.max(most, descriptors());
      await sleep(5);
    }
  })();
  const answers = await Promise.all(names.map((name) => resolver.a(name)));
  running = false;
  await watch;
  assert.ok(
    answers.every((a) => !a.ok && a.error === 'temperror' && /^ETIMEOUT/.test(a.reason)),
    'every one a timeout, none EMFILE',
  );
  assert.ok(most - before <= MAX_DNS_SOCKETS + 10, `${most - before} descriptors at once`);
});
