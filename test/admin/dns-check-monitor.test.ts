import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { Check } from '../../src/admin/dns-check/report.ts';
import { runDnsCheck } from '../../src/admin/dns-check/run.ts';
import { DnsCheckMonitor } from '../../src/admin/dns-check-monitor.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Resolver } from '../../src/dns/resolver.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { Store } from '../../src/store/store.ts';

function capture() {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

const check = (id: string, status: Check['status'], subject?: string): Check => ({
  id,
  area: 'spf',
  status,
  summary: `${id} is ${status}`,
  ...(subject ? { subject } : {}),
  ...(status === 'pass' ? {} : { fix: `fix ${id}` }),
});

test('the first pass logs the picture, later passes only what changed, worse as a warning', async () => {
  const config = parseConfig({ hostname: 'mx.example.com', domains: ['example.com'] }, 'test');
  const rounds: Check[][] = [
    [check('spf.count', 'pass'), check('dmarc.policy', 'warn'), check('names.ptr', 'pass', '192.0.2.1')],
    [check('spf.count', 'pass'), check('dmarc.policy', 'warn'), check('names.ptr', 'pass', '192.0.2.1')],
    [check('spf.count', 'fail'), check('dmarc.policy', 'pass'), check('names.ptr', 'pass', '192.0.2.1')],
  ];
  let round = 0;
  const { lines, logger } = capture();
  const monitor = new DnsCheckMonitor({
    config,
    resolver: {} as Resolver,
    store: {} as Store,
    logger,
    run: async () => rounds[round++]!,
  });
  const first = await monitor.runOnce();
  assert.deepEqual(
    first.map((c) => [c.check, c.from, c.to]),
    [['dmarc.policy', undefined, 'warn']],
    'the first pass reports problems only',
  );
  assert.equal((await monitor.runOnce()).length, 0, 'nothing changed, nothing logged');
  const third = await monitor.runOnce();
  assert.deepEqual(
    third.map((c) => [c.check, c.from, c.to]),
    [
      ['spf.count', 'pass', 'fail'],
      ['dmarc.policy', 'warn', 'pass'],
    ],
  );
  await new Promise((resolve) => setImmediate(resolve));
  const summary = lines.find((l) => l.msg.startsWith('dns check of example.com'));
  assert.match(summary?.msg ?? '', /0 failed, 1 warnings/);
  const worse = lines.find((l) => l.msg.includes('spf.count'));
  const better = lines.find((l) => l.msg.includes('dmarc.policy warn → pass'));
  assert.equal(worse?.level, 40, 'worse: warn level');
  assert.equal(better?.level, 30, 'better: info level');
  await monitor.stop();
});

test('a finding that changes under the same status is logged: p=reject edited to p=none under a warning', async () => {
  const config = parseConfig({ hostname: 'mx.example.com', domains: ['example.com'] }, 'test');
  const bimi = (summary: string): Check => ({ ...check('bimi.dmarc', 'warn'), summary });
  const record = (summary: string): Check => ({ ...check('dmarc.record', 'pass'), summary });
  const rounds: Check[][] = [
    [bimi('DMARC is in testing mode (t=y)'), record('"v=DMARC1; p=reject; t=y"')],
    [bimi('DMARC is p=none'), record('"v=DMARC1; p=none"')],
    [bimi('DMARC is p=none'), record('"v=DMARC1; p=none"')],
  ];
  let round = 0;
  const { lines, logger } = capture();
  const monitor = new DnsCheckMonitor({
    config,
    resolver: {} as Resolver,
    store: {} as Store,
    logger,
    run: async () => rounds[round++]!,
  });
  await monitor.runOnce();
  const second = await monitor.runOnce();
  assert.deepEqual(
    second.map((c) => [c.check, c.from, c.to, c.was, c.summary]),
    [
      ['bimi.dmarc', 'warn', 'warn', 'DMARC is in testing mode (t=y)', 'DMARC is p=none'],
      ['dmarc.record', 'pass', 'pass', '"v=DMARC1; p=reject; t=y"', '"v=DMARC1; p=none"'],
    ],
  );
  assert.equal((await monitor.runOnce()).length, 0, 'nothing changed, nothing logged');
  await new Promise((resolve) => setImmediate(resolve));
  const still = lines.find((l) => l.msg.includes('bimi.dmarc still warn'));
  assert.equal(
    still?.msg,
    'dns check example.com: bimi.dmarc still warn, now: DMARC is p=none (was: DMARC is in testing mode (t=y))',
  );
  assert.equal(still?.level, 40, 'a changed problem: warn level');
  const edited = lines.find((l) => l.msg.includes('dmarc.record still pass'));
  assert.equal(edited?.level, 30, 'a changed pass: info level');
  await monitor.stop();
});

test('the periodic run waits before its first pass and stops cleanly', async () => {
  const config = parseConfig({ hostname: 'mx.example.com', domains: ['example.com'] }, 'test');
  let calls = 0;
  const monitor = new DnsCheckMonitor({
    config,
    resolver: {} as Resolver,
    store: {} as Store,
    logger: capture().logger,
    run: async () => {
      calls++;
      return [check('spf.count', 'pass')];
    },
  });
  monitor.start(60_000, 20);
  assert.equal(calls, 0, 'not at start');
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(calls, 1);
  await monitor.stop();
});

test('records a resolver rotates (round robin) make no change: the findings list them sorted', async () => {
  // Before, each pass listed mx.example.com's addresses in the order of that answer, and the monitor
  // logged "still warn, now: …" at every pass that found them turned round.
  const addresses = ['192.0.2.10', '192.0.2.11', '10.0.0.5'];
  let turn = 0;
  const ok = <T>(records: T[]) => Promise.resolve({ ok: true as const, records });
  const none = () => Promise.resolve({ ok: false as const, error: 'nxdomain' as const });
  const resolver: Resolver = {
    a: (name) => (name === 'mx.example.com' ? ok(turn % 2 ? [...addresses].reverse() : addresses) : none()),
    aaaa: none,
    mx: (name) =>
      name === 'example.com'
        ? ok(
            turn % 2
              ? [
                  { priority: 10, exchange: 'mx.example.com' },
                  { priority: 10, exchange: 'mx2.example.com' },
                ]
              : [
                  { priority: 10, exchange: 'mx2.example.com' },
                  { priority: 10, exchange: 'mx.example.com' },
                ],
          )
        : none(),
    txt: none,
    ptr: none,
    cname: none,
    tlsa: none,
  };
  const config = parseConfig(
    { hostname: 'mx.example.com', domains: ['example.com'], serverAddresses: ['192.0.2.10', '192.0.2.11'] },
    'test',
  );
  const { logger } = capture();
  const monitor = new DnsCheckMonitor({
    config,
    resolver,
    store: { listDkimKeys: async () => [] } as unknown as Store,
    logger,
    run: async (domain, options) =>
      (
        await runDnsCheck(domain, {
          ...options,
          probe: false,
          caa: async () => ({ ok: false, error: 'nxdomain' }),
        })
      ).filter((c) => c.area === 'names' || c.area === 'mx'),
  });
  await monitor.runOnce();
  for (turn = 1; turn < 4; turn++) assert.deepEqual(await monitor.runOnce(), [], `pass ${turn + 1}`);
  await monitor.stop();
});
