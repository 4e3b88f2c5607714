import assert from 'node:assert/strict';
import { test } from 'node:test';
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
  at(MINUTE); // a fixed window would start afresh here; the last minute still holds 5 events
  assert.equal(a.message('192.0.2.1').allowed, false);
  at(MINUTE * 1.75); // a quarter of the 5 (1.25), the refused one at 1:00, this one: 3.25 ≤ 4; the next 4.25
  assert.deepEqual(allowed(times(2, () => a.message('192.0.2.1'))), [true, false]);
  at(MINUTE * 3.5); // more than a whole window since: nothing counts
  assert.deepEqual(allowed(times(5, () => a.message('192.0.2.1'))), [true, true, true, true, false]);
});

test('refused attempts count too, as Postfix counts them: a hammering client stays limited', () => {
  const { anvil: a, at } = anvil({ messagesPerMinute: 2 });
  times(12, () => a.message('192.0.2.1')); // 2 allowed, 10 refused
  at(MINUTE * 1.5); // half of 12 is 6: still over
  assert.equal(a.message('192.0.2.1').allowed, false);
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

test('eviction spares a client with open connections', () => {
  const { anvil: a } = anvil({ maxConcurrent: 1, maxClients: 2 });
  a.connect('192.0.2.1'); // stays open
  a.message('192.0.2.2');
  a.message('192.0.2.3'); // the oldest, 192.0.2.1, is busy: 192.0.2.2 goes
  assert.equal(a.connect('192.0.2.1').allowed, false);
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
