import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/log/logger.ts';
import { OutageLog } from '../../src/log/outage.ts';

test('an outage is said when it starts, once a minute while it lasts, and when it ends', () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  let now = Date.parse('2026-11-29T06:00:00Z');
  const outage = new OutageLog(createLogger('info', sink), { name: 'store', level: 'error', now: () => now });
  outage.succeeded(); // nothing under way: nothing to say
  for (let i = 0; i < 500; i++) {
    outage.failed({ session: `s${i}` }, i < 499 ? 'connection refused' : 'timeout');
    now += 100; // 500 failures in 50 s
  }
  assert.equal(lines.length, 1, 'one line for the first 50 s of failures');
  assert.deepEqual(
    [lines[0]?.level, lines[0]?.msg, lines[0]?.session],
    [50, 'store unavailable: connection refused', 's0'],
  );
  now += 10_000; // a minute after the first
  outage.failed({ session: 's500' }, 'connection refused');
  assert.equal(lines.length, 2);
  assert.equal(
    lines[1]?.msg,
    'store still unavailable since 2026-11-29T06:00:00.000Z: 501 failures so far; the last: connection refused',
  );
  assert.equal(lines[1]?.notLogged, 499, 'the failures between the two lines');
  now += 5_000;
  assert.equal(outage.out, true);
  outage.succeeded();
  assert.equal(lines[2]?.level, 30);
  assert.equal(lines[2]?.msg, 'store answers again after 65 s and 501 failures');
  assert.equal(outage.out, false);
  outage.failed({}, 'again');
  assert.equal(lines[3]?.msg, 'store unavailable: again', 'a new outage is said at once');
});
