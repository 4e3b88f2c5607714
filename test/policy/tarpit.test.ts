import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseNetworks } from '../../src/policy/cidr.ts';
import { Tarpit, type TarpitOptions } from '../../src/policy/tarpit.ts';

const MINUTE = 60_000;

function tarpit(options: TarpitOptions = {}): { tarpit: Tarpit; at: (ms: number) => void } {
  let now = 0;
  return {
    tarpit: new Tarpit({ ...options, now: () => now }),
    at: (ms) => {
      now = ms;
    },
  };
}

function reject(t: Tarpit, ip: string, n: number): void {
  for (let i = 0; i < n; i++) t.rejected(ip);
}

// Defaults: threshold 5, step 1 s, cap 10 s.
const defaults: [rejections: number, wantMs: number][] = [
  [0, 0],
  [1, 0],
  [4, 0],
  [5, 1000],
  [6, 2000],
  [10, 6000],
  [14, 10_000],
  [15, 10_000],
  [50, 10_000],
];
for (const [rejections, wantMs] of defaults) {
  test(`after ${rejections} rejections the delay is ${wantMs} ms`, () => {
    const { tarpit: t } = tarpit();
    reject(t, '192.0.2.1', rejections);
    assert.equal(t.delayFor('192.0.2.1'), wantMs);
  });
}

test('threshold, step and cap are options', () => {
  const { tarpit: t } = tarpit({ threshold: 1, stepMs: 500, maxMs: 1200 });
  const delays = [0, 1, 2, 3, 4].map((n) => {
    if (n > 0) t.rejected('192.0.2.1');
    return t.delayFor('192.0.2.1');
  });
  assert.deepEqual(delays, [0, 500, 1000, 1200, 1200]);
});

test('stepMs 0 never slows anyone down', () => {
  const { tarpit: t } = tarpit({ threshold: 1, stepMs: 0 });
  reject(t, '192.0.2.1', 20);
  assert.equal(t.delayFor('192.0.2.1'), 0);
});

test('rejections leave the window (default 10 minutes)', () => {
  const { tarpit: t, at } = tarpit();
  reject(t, '192.0.2.1', 3);
  at(5 * MINUTE);
  reject(t, '192.0.2.1', 3);
  assert.equal(t.delayFor('192.0.2.1'), 2000);
  at(10 * MINUTE - 1);
  assert.equal(t.delayFor('192.0.2.1'), 2000);
  at(10 * MINUTE); // the first three are out
  assert.equal(t.delayFor('192.0.2.1'), 0);
  t.rejected('192.0.2.1');
  t.rejected('192.0.2.1');
  assert.equal(t.delayFor('192.0.2.1'), 1000);
  at(20 * MINUTE);
  assert.equal(t.delayFor('192.0.2.1'), 0);
});

test('a client is an IPv4 address or an IPv6 /64', () => {
  const { tarpit: t } = tarpit({ threshold: 2 });
  t.rejected('2001:db8:1:2::1');
  t.rejected('2001:db8:1:2:abcd::2');
  assert.equal(t.delayFor('2001:db8:1:2::3'), 1000);
  assert.equal(t.delayFor('2001:db8:1:3::1'), 0);
  t.rejected('192.0.2.1');
  t.rejected('192.0.2.2');
  assert.equal(t.delayFor('192.0.2.1'), 0);
  t.rejected('::ffff:192.0.2.1');
  assert.equal(t.delayFor('192.0.2.1'), 1000);
});

test('exceptions are never slowed down', () => {
  const { tarpit: t } = tarpit({ threshold: 1, exceptions: parseNetworks(['192.0.2.0/24']) });
  reject(t, '192.0.2.1', 10);
  reject(t, '198.51.100.1', 10);
  assert.deepEqual([t.delayFor('192.0.2.1'), t.delayFor('198.51.100.1'), t.size], [0, 10_000, 1]);
});

test('bounded memory: 200 000 clients with maxClients 1000 keep at most 1000', () => {
  const { tarpit: t } = tarpit({ maxClients: 1000 });
  for (let i = 0; i < 200_000; i++) {
    t.rejected(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    if (t.size > 1000) assert.fail(`${t.size} clients after ${i + 1}`);
  }
  assert.equal(t.size, 1000);
});

test('the least recently rejected client is forgotten first', () => {
  const { tarpit: t } = tarpit({ threshold: 1, maxClients: 3 });
  for (const ip of ['192.0.2.9', '192.0.2.1', '192.0.2.2', '192.0.2.1', '192.0.2.3', '192.0.2.4']) t.rejected(ip);
  // .1 was rejected again after .2, so .9 and then .2 go
  assert.deepEqual(
    ['192.0.2.9', '192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'].map((ip) => t.delayFor(ip)),
    [0, 2000, 0, 1000, 1000],
  );
});

// One client forgotten per new one took the Map's first key each time, and V8 steps over every entry
// deleted before it until the table is rebuilt: 70-340 µs a new client at 100 000. A tenth at once is
// one walk per 10 000 new clients.
test('a full table forgets a tenth of its clients at once, the least recently rejected', () => {
  const { tarpit: t } = tarpit({ threshold: 1, maxClients: 1000 });
  const ip = (i: number) => `10.0.${i >> 8}.${i & 255}`;
  for (let i = 0; i < 1000; i++) t.rejected(ip(i));
  assert.equal(t.size, 1000);
  t.rejected('192.0.2.1');
  assert.equal(t.size, 901, 'the 100 least recently rejected went together');
  assert.deepEqual([t.delayFor(ip(99)), t.delayFor(ip(100))], [0, 1000]);
  for (let i = 0; i < 99; i++) t.rejected(`198.51.100.${i}`);
  assert.equal(t.size, 1000, 'and the next 99 new clients forget nobody');
});

test('clients whose rejections left the window are swept out', () => {
  const { tarpit: t, at } = tarpit({ windowMs: MINUTE });
  for (let i = 1; i <= 100; i++) t.rejected(`192.0.2.${i}`);
  at(MINUTE / 2);
  t.rejected('198.51.100.1');
  at(MINUTE + 1);
  t.rejected('203.0.113.1');
  assert.equal(t.size, 2);
});

test('bad options are refused', () => {
  for (const options of [{ threshold: 0 }, { stepMs: -1 }, { maxMs: 0.5 }, { windowMs: 0 }, { maxClients: 0 }]) {
    assert.throws(() => new Tarpit(options), /tarpit: /, JSON.stringify(options));
  }
});

// The wall clock is mocked (frozen but for our steps): only the monotonic clock ages rejections.
test('the default clock is monotonic: a wall clock stepped back does not keep old rejections recent', async (t) => {
  const wall = Date.parse('2025-03-01T12:00:00Z');
  t.mock.timers.enable({ apis: ['Date'], now: wall + 3_600_000 }); // the clock runs an hour ahead
  const tp = new Tarpit({ threshold: 2, windowMs: 200 });
  reject(tp, '192.0.2.1', 3);
  assert.equal(tp.delayFor('192.0.2.1'), 2000);
  t.mock.timers.setTime(wall); // NTP steps it back
  assert.equal(tp.delayFor('192.0.2.1'), 2000, 'no real time has passed');
  await sleep(450); // two windows of real time: the rejections are out
  assert.equal(tp.delayFor('192.0.2.1'), 0);
  reject(tp, '192.0.2.1', 2);
  assert.equal(tp.delayFor('192.0.2.1'), 1000);
});

test('the default clock is monotonic: a wall clock stepped forward keeps recent rejections', (t) => {
  const wall = Date.parse('2025-03-01T12:00:00Z');
  t.mock.timers.enable({ apis: ['Date'], now: wall });
  const tp = new Tarpit({ threshold: 2 });
  reject(tp, '192.0.2.1', 3);
  t.mock.timers.setTime(wall + 3_600_000); // a VM resumed an hour later
  assert.equal(tp.delayFor('192.0.2.1'), 2000);
});
