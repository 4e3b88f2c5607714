// The per-client budget of log lines on its own: its windows, its summaries, its bounded memory.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { ClientLogBudget, OTHER_CLIENTS } from '../../src/log/client-budget.ts';
import { createLogger } from '../../src/log/logger.ts';

function budget(options: ConstructorParameters<typeof ClientLogBudget>[1]) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { budget: new ClientLogBudget(createLogger('info', sink), options), lines };
}

test('past maxClients, new clients share one budget, and their summary says so', async () => {
  const { budget: b, lines } = budget({ linesPerWindow: 2, maxClients: 3, windowMs: 60_000 });
  const allowed = (ip: string, n: number) => Array.from({ length: n }, () => b.allows(ip)).filter(Boolean).length;
  for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) assert.equal(allowed(ip, 3), 2);
  assert.equal(allowed('192.0.2.4', 3) + allowed('192.0.2.5', 3), 2, 'two clients past the cap: one budget');
  b.close();
  await new Promise((resolve) => setImmediate(resolve));
  const summary = new Map(lines.map((l) => [l.client, l.notLogged]));
  assert.deepEqual(
    [...summary],
    [
      ['192.0.2.1', 1],
      ['192.0.2.2', 1],
      ['192.0.2.3', 1],
      [OTHER_CLIENTS, 4],
    ],
  );
});

test('an IPv6 /64 is one client; a client clientOf exempts is never held back; a warning left out makes a warning', async () => {
  const { budget: b, lines } = budget({
    linesPerWindow: 1,
    clientOf: (ip) => (ip === '192.0.2.9' ? undefined : ip.split(':').slice(0, 4).join(':')),
  });
  assert.equal(b.allows('2001:db8:1:2::1'), true);
  assert.equal(b.allows('2001:db8:1:2::ff', 'warn'), false, 'the same /64');
  for (let i = 0; i < 5; i++) assert.equal(b.allows('192.0.2.9'), true);
  b.close();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    lines.map((l) => [l.client, l.notLogged, l.level]),
    [['2001:db8:1:2', 1, 40]],
  );
});
