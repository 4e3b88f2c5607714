// The README's quick tour (hostname mx.example.com, domain example.com) had `npm start` run the periodic
// dns check a minute later against example.com: IANA's domain looked up, and its ports 25/587/465 probed
// from the newcomer's machine. Names reserved by RFC 2606 / RFC 6761, and a mail host that is no public
// name (*.localdomain), are now left out with one info line; `postern dns check` by hand still checks
// them (test/cli/dns-check.test.ts runs it on example.com).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { DnsCheckMonitor, notPublic, reservedName } from '../../src/admin/dns-check-monitor.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Resolver } from '../../src/dns/resolver.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { Store } from '../../src/store/store.ts';

function capture() {
  const lines: { level: number; msg: string; domains?: string[] }[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

/** A resolver that answers nothing and remembers every name it was asked. */
function recordingResolver(asked: string[]): Resolver {
  const none = async (name: string) => {
    asked.push(name);
    return { ok: false as const, error: 'nxdomain' as const };
  };
  return { a: none, aaaa: none, mx: none, txt: none, ptr: none, cname: none, tlsa: none };
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('reserved and local-only names are told apart from public ones', () => {
  for (const name of [
    'example.com',
    'mx.example.com',
    'EXAMPLE.NET.',
    'a.b.example.org',
    'shop.test',
    'localhost',
    'x.invalid',
    'mail.example',
    'box.localdomain',
    'nas.home.arpa',
    'printer.local',
    'mailhost',
  ]) {
    assert.notEqual(reservedName(name), undefined, name);
  }
  for (const name of ['example.co.uk', 'myexample.com', 'example.company', 'mx.postern.dev', 'testing.org']) {
    assert.equal(reservedName(name), undefined, name);
  }
  assert.match(notPublic('example.com', 'mx.realmail.net') ?? '', /RFC 2606 §3/);
  assert.match(notPublic('realmail.net', 'box.localdomain') ?? '', /^its mail host box\.localdomain is /);
  assert.equal(notPublic('realmail.net', 'mx.realmail.net'), undefined);
});

test('the periodic check leaves example.com out, with one info line, and asks DNS nothing for it', async () => {
  const config = parseConfig({ hostname: 'mx.example.com', domains: ['example.com'] }, 'test');
  const asked: string[] = [];
  const { lines, logger } = capture();
  const monitor = new DnsCheckMonitor({
    config,
    resolver: recordingResolver(asked),
    store: { listDkimKeys: async () => [] } as unknown as Store,
    logger,
  });
  monitor.start(60_000, 10);
  await wait(200);
  await monitor.stop();
  assert.deepEqual(asked, [], 'no look-up of the documentation domain');
  const said = lines.filter((l) => l.msg.startsWith('dns check: no periodic check of example.com'));
  assert.equal(said.length, 1, JSON.stringify(lines));
  assert.equal(said[0]!.level, 30, 'info, not a warning');
  assert.match(said[0]!.msg, /reserved for documentation by RFC 2606 §3/);
  assert.match(said[0]!.msg, /"postern dns check <domain>" still checks it by hand/);
  assert.equal(lines.filter((l) => l.msg.includes('failed')).length, 0, JSON.stringify(lines));
});

test('a public domain beside a reserved one is still checked periodically; the reserved one is not', async () => {
  const config = parseConfig(
    {
      hostname: 'mx.realmail.net',
      domains: ['realmail.net', 'example.org'],
      dns: { servers: ['127.0.0.1:9'], timeoutMs: 100, tries: 1 },
    },
    'test',
  );
  const asked: string[] = [];
  const { lines, logger } = capture();
  const monitor = new DnsCheckMonitor({
    config,
    resolver: recordingResolver(asked),
    store: { listDkimKeys: async () => [] } as unknown as Store,
    logger,
  });
  monitor.start(60_000, 10);
  for (let i = 0; i < 100 && !lines.some((l) => l.msg.startsWith('dns check of realmail.net')); i++) await wait(50);
  await monitor.stop();
  assert.ok(asked.includes('realmail.net'), JSON.stringify(asked));
  assert.ok(!asked.some((name) => name.endsWith('example.org')), JSON.stringify(asked));
  assert.deepEqual(
    lines.filter((l) => l.msg.startsWith('dns check: no periodic check')).map((l) => l.domains),
    [['example.org']],
  );
});
