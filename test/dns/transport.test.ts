// The look-ups' sockets: one a query in flight, but never more than MAX_DNS_SOCKETS at once.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createResolver } from '../../src/dns/system-resolver.ts';
import { startTestDnsServer } from '../../src/dns/test-server.ts';
import { MAX_DNS_SOCKETS, MAX_WAITING_FOR_SOCKET } from '../../src/dns/transport.ts';

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
    // A query that waited its whole time for a socket is EBUSY: ours, not the server's silence.
    answers.every((a) => !a.ok && a.error === 'temperror' && /^(ETIMEOUT|EBUSY)/.test(a.reason)),
    'every one a timeout, none EMFILE',
  );
  assert.ok(most - before <= MAX_DNS_SOCKETS + 10, `${most - before} descriptors at once`);
});

test("a look-up waits for a socket no longer than its own timeout: one sender's silent names do not hold up the others", async (t) => {
  // Before, the timeout started only once a socket was had: behind 300 queries on names that never answer
  // (a zone of the sender's own), a look-up the server answers at once took three of their timeouts.
  const silent = Array.from({ length: 3 * MAX_DNS_SOCKETS }, (_, i) => `h${i}.silent.example`);
  const slow = await startTestDnsServer({ records: {}, timeout: silent });
  const good = await startTestDnsServer({ records: { 'good.example': { A: ['192.0.2.1'] } } });
  t.after(() => Promise.all([slow.close(), good.close()]));
  const timeoutMs = 600;
  const options = { timeoutMs, tries: 1, cacheTtlMs: 0 };
  const stalled = Promise.all(silent.map((name) => createResolver({ servers: [slow.server], ...options }).a(name)));
  await sleep(20); // all of them asked, 100 holding the sockets, 200 waiting
  const started = performance.now();
  const answer = await createResolver({ servers: [good.server], ...options }).a('good.example');
  const took = performance.now() - started;
  assert.ok(took < 2 * timeoutMs, `settled after ${Math.round(took)} ms, its timeout ${timeoutMs} ms`);
  assert.ok(answer.ok || answer.error === 'temperror', JSON.stringify(answer));
  await stalled;
});

test('past MAX_WAITING_FOR_SOCKET queries waiting, a look-up fails at once (EBUSY) rather than queue without bound', async (t) => {
  const count = MAX_DNS_SOCKETS + MAX_WAITING_FOR_SOCKET + 50;
  const names = Array.from({ length: count }, (_, i) => `q${i}.silent.example`);
  const dns = await startTestDnsServer({ records: {}, timeout: names });
  t.after(() => dns.close());
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 2000, tries: 1, cacheTtlMs: 0 });
  const started = performance.now();
  const early: string[] = [];
  const all = names.map((name) =>
    resolver.a(name).then((answer) => {
      if (performance.now() - started < 1000 && !answer.ok && answer.error === 'temperror') early.push(answer.reason);
      return answer;
    }),
  );
  await Promise.all(all);
  assert.equal(early.length, 50, `settled before any timeout: ${early.slice(0, 3).join('; ')}`);
  assert.ok(
    early.every((reason) => reason.startsWith('EBUSY')),
    early.find((r) => !r.startsWith('EBUSY')),
  );
});

test('a DNS server the host has no route to is a silent server, the next one is asked, and the process lives on', async (t) => {
  // Node calls a UDP socket's connect back with the error (ENETUNREACH with the network down, EACCES for a
  // broadcast address, EINVAL for an unscoped link-local one); the code sent on the unconnected socket
  // anyway, which threw from the callback and ended `postern serve`. Run in an empty network namespace:
  // only lo is up, so no route leads anywhere and nothing leaves this host.
  const probe = await run('unshare', ['-n', 'true']);
  if (probe.code !== 0) {
    t.skip(`unshare -n is not permitted here (${probe.stderr.trim()}): needs root`);
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postern-dns-unreachable-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = path.resolve(import.meta.dirname, '../../src/dns');
  const script = path.join(dir, 'lookup.ts');
  writeFileSync(
    script,
    `import { createResolver } from ${JSON.stringify(path.join(src, 'system-resolver.ts'))};
import { startTestDnsServer } from ${JSON.stringify(path.join(src, 'test-server.ts'))};
const local = await startTestDnsServer({ records: { 'example.com': { A: ['192.0.2.7'] } } });
// 192.0.2.1 (TEST-NET-1) first: no route to it here.
const resolver = createResolver({ servers: ['192.0.2.1:53', local.server], timeoutMs: 500, tries: 1, cacheTtlMs: 0 });
console.log(JSON.stringify(await resolver.a('example.com')));
await local.close();
`,
  );
  const result = await run('unshare', [
    '-n',
    'sh',
    '-c',
    'ip link set lo up && exec "$0" "$1"',
    process.execPath,
    script,
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout.trim()), { ok: true, records: ['192.0.2.7'] });
});

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (err && typeof err.code !== 'number' ? String(err.message) : '') });
    });
  });
}
