import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Anvil, type AnvilOptions } from '../../src/policy/anvil.ts';
import { parseNetworks } from '../../src/policy/cidr.ts';

const MINUTE = 60_000;

function anvil(options: AnvilOptions): { anvil: Anvil; at: (ms: number) => void } {
  let now = 0;
  return {
    anvil: new Anvil({ ...options, now: () => now }),
    at: (ms) => {
      now = ms;
    },
  };
}

const allowed = (decisions: { allowed: boolean }[]) => decisions.map((d) => d.allowed);
const times = <T>(n: number, f: () => T): T[] => Array.from({ length: n }, f);

test('concurrency: a client holds at most maxConcurrent connections; disconnect frees one', () => {
  const { anvil: a } = anvil({ maxConcurrent: 2 });
  assert.deepEqual(allowed([a.connect('192.0.2.1'), a.connect('192.0.2.1')]), [true, true]);
  const third = a.connect('192.0.2.1');
  assert.equal(third.allowed, false);
  assert.match(third.reason!, /3 simultaneous connections, limit 2/);
  assert.equal(a.connect('192.0.2.2').allowed, true, 'another client has its own count');
  a.disconnect('192.0.2.1');
  assert.equal(a.connect('192.0.2.1').allowed, true);
});

test('ipv6Prefix: the /64s of one /48 share a count at 48; at 64 each /64 has its own', () => {
  const site = anvil({ maxConcurrent: 1, ipv6Prefix: 48 }).anvil;
  assert.equal(site.connect('2001:db8:1:1::1').allowed, true);
  assert.equal(site.connect('2001:db8:1:2::1').allowed, false, 'another /64 of the same /48');
  const hosts = anvil({ maxConcurrent: 1 }).anvil;
  assert.equal(hosts.connect('2001:db8:1:1::1').allowed, true);
  assert.equal(hosts.connect('2001:db8:1:2::1').allowed, true);
  assert.equal(hosts.connect('2001:db8:1:1::2').allowed, false, 'the same /64');
});

test('a refused connection holds no slot, so it needs no disconnect', () => {
  const { anvil: a } = anvil({ maxConcurrent: 1 });
  a.connect('192.0.2.1');
  assert.equal(a.connect('192.0.2.1').allowed, false);
  assert.equal(a.connect('192.0.2.1').allowed, false);
  a.disconnect('192.0.2.1'); // the one allowed connection ends
  assert.equal(a.connect('192.0.2.1').allowed, true);
  a.disconnect('192.0.2.1');
  a.disconnect('192.0.2.1'); // one too many is harmless
  assert.deepEqual(allowed([a.connect('192.0.2.1'), a.connect('192.0.2.1')]), [true, false]);
});

test('connection rate: smtpd_client_connection_rate_limit', () => {
  const { anvil: a } = anvil({ connectionsPerMinute: 3 });
  const decisions = times(4, () => {
    const d = a.connect('192.0.2.1');
    a.disconnect('192.0.2.1');
    return d;
  });
  assert.deepEqual(allowed(decisions), [true, true, true, false]);
  assert.match(decisions[3]!.reason!, /connection rate: 4 per minute, limit 3/);
  assert.equal(a.connect('192.0.2.2').allowed, true);
});

const events = [
  ['message', 'messagesPerMinute'],
  ['recipient', 'recipientsPerMinute'],
  ['vrfy', 'vrfyPerMinute'],
] as const;
for (const [event, option] of events) {
  test(`${event} rate: ${option}, the other limits untouched`, () => {
    const { anvil: a } = anvil({ [option]: 2 });
    const decisions = times(3, () => a[event]('192.0.2.1'));
    assert.deepEqual(allowed(decisions), [true, true, false]);
    assert.match(decisions[2]!.reason!, new RegExp(`^${event} rate: 3 per minute, limit 2$`));
    assert.equal(a[event]('192.0.2.2').allowed, true);
    for (const [other] of events.filter(([e]) => e !== event)) {
      assert.ok(
        times(50, () => a[other]('192.0.2.1')).every((d) => d.allowed),
        `${other} is unlimited`,
      );
    }
    assert.ok(times(50, () => a.connect('192.0.2.1')).every((d) => d.allowed));
  });
}

test('0 means unlimited, and the defaults limit nothing', () => {
  for (const a of [new Anvil(), new Anvil({ maxConcurrent: 0, connectionsPerMinute: 0, messagesPerMinute: 0 })]) {
    assert.ok(times(1000, () => a.connect('192.0.2.1')).every((d) => d.allowed));
    assert.ok(times(1000, () => a.message('192.0.2.1')).every((d) => d.allowed));
  }
});

test('exceptions (smtpd_client_event_limit_exceptions) are neither limited nor remembered', () => {
  const { anvil: a } = anvil({
    maxConcurrent: 1,
    messagesPerMinute: 1,
    exceptions: parseNetworks(['192.0.2.0/24', '2001:db8::/32']),
  });
  for (const ip of ['192.0.2.5', '::ffff:192.0.2.5', '2001:db8::5']) {
    assert.ok(
      times(20, () => a.connect(ip)).every((d) => d.allowed),
      ip,
    );
    assert.ok(
      times(20, () => a.message(ip)).every((d) => d.allowed),
      ip,
    );
  }
  assert.equal(a.size, 0);
  assert.deepEqual(allowed([a.message('198.51.100.1'), a.message('198.51.100.1')]), [true, false]);
});

test('an IPv6 client is counted per /64, an IPv4 client per address', () => {
  const { anvil: a } = anvil({ recipientsPerMinute: 2 });
  const v6 = [a.recipient('2001:db8:1:2::1'), a.recipient('2001:db8:1:2:ffff::9'), a.recipient('2001:db8:1:2::1')];
  assert.deepEqual(allowed(v6), [true, true, false]);
  assert.equal(a.recipient('2001:db8:1:3::1').allowed, true, 'the next /64 is another client');
  const v4 = [a.recipient('192.0.2.1'), a.recipient('192.0.2.2'), a.recipient('192.0.2.1'), a.recipient('192.0.2.2')];
  assert.deepEqual(allowed(v4), [true, true, true, true]);
  assert.equal(a.recipient('::ffff:192.0.2.1').allowed, false, 'a mapped address is the IPv4 client');
});

test('the window slides: the previous minute counts in proportion to its overlap', () => {
  const { anvil: a, at } = anvil({ messagesPerMinute: 4 });
  assert.deepEqual(allowed(times(4, () => a.message('192.0.2.1'))), [true, true, true, true]);
  at(MINUTE - 1);
  assert.equal(a.message('192.0.2.1').allowed, false);
  at(MINUTE); // a fixed window would start afresh here; the last minute still holds 4 events
  assert.equal(a.message('192.0.2.1').allowed, false);
  at(MINUTE * 1.75); // a quarter of the 4 (1) and the refused ones not at all: three more fit
  assert.deepEqual(allowed(times(4, () => a.message('192.0.2.1'))), [true, true, true, false]);
  at(MINUTE * 3.5); // more than a whole window since: nothing counts
  assert.deepEqual(allowed(times(5, () => a.message('192.0.2.1'))), [true, true, true, true, false]);
});

// Postfix counts refused attempts too, but in fixed windows that start afresh: a client over the limit
// gets `limit` a window. Counted in a sliding window, refusals kept such a client shut out for good.
test('a client steadily over a limit gets the limit through every minute, not nothing after the first', () => {
  const { anvil: a, at } = anvil({ connectionsPerMinute: 10 });
  let now = 0;
  const perMinute: number[] = [];
  for (let minute = 0; minute < 10; minute++) {
    let admitted = 0;
    for (let i = 0; i < 12; i++) {
      at(now);
      if (a.connect('192.0.2.9').allowed) {
        admitted++;
        a.disconnect('192.0.2.9');
      }
      now += 5000; // 12 a minute against 10
    }
    perMinute.push(admitted);
  }
  assert.deepEqual(
    perMinute,
    times(10, () => 10),
  );
});

for (const [event, option] of [
  ['message', 'messagesPerMinute'],
  ['recipient', 'recipientsPerMinute'],
] as const) {
  test(`${option}: a client at 40 a minute against 30 gets 30 a minute, spread out`, () => {
    const { anvil: a, at } = anvil({ [option]: 30 });
    let now = 0;
    const perMinute: number[] = [];
    for (let minute = 0; minute < 5; minute++) {
      let admitted = 0;
      for (let i = 0; i < 40; i++, now += 1500) {
        at(now);
        if (a[event]('192.0.2.10').allowed) admitted++;
      }
      perMinute.push(admitted);
    }
    assert.deepEqual(perMinute, [30, 30, 30, 30, 30]);
  });
}

test('a limit of 1 lets one a minute through to a client that hammers', () => {
  const { anvil: a, at } = anvil({ messagesPerMinute: 1 });
  const perMinute = times(5, () => 0);
  for (let i = 0; i < 500; i++) {
    at(i * 600); // 100 a minute
    if (a.message('192.0.2.11').allowed) perMinute[Math.floor((i * 600) / MINUTE)]!++;
  }
  assert.deepEqual(perMinute, [1, 1, 1, 1, 1]);
});

test('a refusal says which limit refused it', () => {
  const { anvil: a } = anvil({ maxConcurrent: 1, connectionsPerMinute: 2 });
  assert.equal(a.connect('192.0.2.1').allowed, true);
  const count = a.connect('192.0.2.1');
  assert.deepEqual([count.allowed, count.limit], [false, 'concurrency']);
  a.disconnect('192.0.2.1');
  assert.equal(a.connect('192.0.2.1').allowed, true, 'the refused one did not count against the rate');
  a.disconnect('192.0.2.1');
  const rate = a.connect('192.0.2.1');
  assert.deepEqual([rate.allowed, rate.limit], [false, 'connection']);
  assert.match(rate.reason!, /^connection rate: 3 per minute, limit 2$/);
});

test('each service has its own counts, as anvil keys them by service and address', () => {
  const { anvil: a } = anvil({ maxConcurrent: 3, messagesPerMinute: 2 });
  assert.ok(times(3, () => a.connect('192.0.2.7', 'smtp:25')).every((d) => d.allowed));
  assert.equal(a.connect('192.0.2.7', 'smtp:25').allowed, false);
  assert.equal(a.connect('192.0.2.7', 'submission:587').allowed, true, 'port 25 does not use up submission');
  a.disconnect('192.0.2.7', 'submission:587');
  assert.equal(a.connect('192.0.2.7', 'smtp:25').allowed, false, 'nor does a disconnect elsewhere free port 25');
  a.disconnect('192.0.2.7', 'smtp:25');
  assert.equal(a.connect('192.0.2.7', 'smtp:25').allowed, true);
  assert.deepEqual(allowed(times(3, () => a.message('192.0.2.7', 'smtp:25'))), [true, true, false]);
  assert.deepEqual(allowed(times(3, () => a.message('192.0.2.7', 'submission:587'))), [true, true, false]);
});
test('windowMs sets the time unit', () => {
  const { anvil: a, at } = anvil({ vrfyPerMinute: 1, windowMs: 1000 });
  assert.deepEqual(allowed([a.vrfy('192.0.2.1'), a.vrfy('192.0.2.1')]), [true, false]);
  assert.match(a.vrfy('192.0.2.1').reason!, /per 1000 ms/);
  at(3000);
  assert.equal(a.vrfy('192.0.2.1').allowed, true);
});

test('bounded memory: 200 000 clients with maxClients 1000 keep at most 1000', () => {
  const { anvil: a } = anvil({ messagesPerMinute: 10, maxClients: 1000 });
  for (let i = 0; i < 200_000; i++) {
    a.message(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    if (a.size > 1000) assert.fail(`${a.size} clients after ${i + 1}`);
  }
  assert.equal(a.size, 1000);
});

test('the least recently seen client is forgotten first', () => {
  const { anvil: a } = anvil({ messagesPerMinute: 1, maxClients: 2 });
  a.message('192.0.2.1');
  a.message('192.0.2.2');
  assert.equal(a.message('192.0.2.1').allowed, false); // seen again: now the most recent
  a.message('192.0.2.3'); // forgets 192.0.2.2
  assert.equal(a.message('192.0.2.1').allowed, false, 'still remembered');
  assert.equal(a.message('192.0.2.2').allowed, true, 'forgotten, so counted afresh');
});

// Forgetting one client per new one took the Map's first key each time, and V8 steps over every entry
// deleted before it until the table is rebuilt: 70-340 µs a new client at 100 000. A tenth at once is
// one walk per 10 000 new clients.
test('a full table forgets a tenth of its clients at once, the least recently seen', () => {
  const { anvil: a } = anvil({ messagesPerMinute: 5, maxClients: 1000 });
  const ip = (i: number) => `10.0.${i >> 8}.${i & 255}`;
  for (let i = 0; i < 1000; i++) a.message(ip(i));
  assert.equal(a.size, 1000);
  a.message('192.0.2.1');
  assert.equal(a.size, 901, 'the 100 least recently seen went together');
  for (let i = 0; i < 99; i++) a.message(`198.51.100.${i}`);
  assert.equal(a.size, 1000, 'and the next 99 new clients forget nobody');
  // The survivors are the most recently seen: 10.0.0.100 kept its count, 10.0.0.99 was forgotten.
  assert.equal(times(5, () => a.message(ip(100))).at(-1)!.allowed, false);
  assert.equal(a.size, 1000);
  a.message(ip(99));
  assert.equal(a.size, 901);
});

test('eviction spares a client with open connections', () => {
  const { anvil: a } = anvil({ maxConcurrent: 1, maxClients: 2 });
  a.connect('192.0.2.1'); // stays open
  a.message('192.0.2.2');
  a.message('192.0.2.3'); // the oldest, 192.0.2.1, is busy: 192.0.2.2 goes
  assert.equal(a.connect('192.0.2.1').allowed, false);
});

test('a full table forgets idle clients before busy ones, and busy ones too when it must', () => {
  const { anvil: a } = anvil({ maxConcurrent: 1, messagesPerMinute: 1, maxClients: 100 });
  const busy = (i: number) => `10.0.0.${i}`;
  for (let i = 0; i < 95; i++) a.connect(busy(i)); // held open
  for (let i = 1; i <= 5; i++) a.message(`192.0.2.${i}`);
  a.connect('198.51.100.1'); // a tenth must go: the 5 idle ones, then the 5 oldest busy ones
  assert.equal(a.size, 91);
  assert.equal(a.message('192.0.2.1').allowed, true, 'an idle client was forgotten');
  assert.equal(a.connect(busy(4)).allowed, true, 'the fifth oldest busy client was forgotten');
  assert.equal(a.connect(busy(5)).allowed, false, 'the sixth is still counted');
  // However many clients hold connections, the table stays within maxClients.
  for (let i = 0; i < 1000; i++) {
    a.connect(`10.1.${i >> 8}.${i & 255}`);
    if (a.size > 100) assert.fail(`${a.size} clients after ${i + 1}`);
  }
});

test('idle clients are swept out; ones with open connections stay', () => {
  const { anvil: a, at } = anvil({ maxConcurrent: 1, messagesPerMinute: 5 });
  for (let i = 1; i <= 100; i++) a.message(`192.0.2.${i}`);
  a.connect('198.51.100.1');
  assert.equal(a.size, 101);
  at(MINUTE * 3);
  a.message('203.0.113.1');
  assert.equal(a.size, 2);
  assert.equal(a.connect('198.51.100.1').allowed, false, 'its open connection is still counted');
});

test('bad options are refused', () => {
  for (const options of [{ maxConcurrent: -1 }, { messagesPerMinute: 1.5 }, { windowMs: 0 }, { maxClients: 0 }]) {
    assert.throws(() => new Anvil(options), /anvil: /, JSON.stringify(options));
  }
});

// Only the monotonic clock moves the windows: the wall clock (mocked here, frozen but for our steps)
// may be stepped by NTP or a VM resume without freezing a client's window for the length of the step.
test('the default clock is monotonic: a wall clock stepped back does not freeze a rate window', async (t) => {
  const wall = Date.parse('2025-03-01T12:00:00Z');
  t.mock.timers.enable({ apis: ['Date'], now: wall + 3_600_000 }); // the clock runs an hour ahead
  const a = new Anvil({ messagesPerMinute: 2, windowMs: 200 });
  assert.deepEqual(allowed(times(3, () => a.message('192.0.2.1'))), [true, true, false]);
  t.mock.timers.setTime(wall); // NTP steps it back
  await sleep(450); // two windows of real time
  assert.deepEqual(allowed(times(3, () => a.message('192.0.2.1'))), [true, true, false]);
  assert.deepEqual(allowed(times(3, () => a.message('192.0.2.2'))), [true, true, false]);
});

test('the default clock is monotonic: a wall clock stepped forward does not empty a rate window', (t) => {
  const wall = Date.parse('2025-03-01T12:00:00Z');
  t.mock.timers.enable({ apis: ['Date'], now: wall });
  const a = new Anvil({ messagesPerMinute: 2, windowMs: 60_000 });
  assert.deepEqual(allowed(times(3, () => a.message('192.0.2.1'))), [true, true, false]);
  t.mock.timers.setTime(wall + 3_600_000); // a VM resumed an hour later: no window has passed for its clients
  assert.equal(a.message('192.0.2.1').allowed, false);
});
