/**
 * The SPF area of `dns check` on the loopback fixture: what it says about records that pass strangers,
 * that run out of void lookups the way receivers count them, that end in permerror, or that are too long
 * for a UDP answer.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Check } from '../../../src/admin/dns-check/report.ts';
import { renderTable } from '../../../src/admin/dns-check/report.ts';
import type { TestRecords, TestZone } from '../../../src/dns/test-server.ts';
import { DOMAIN, type Fixture, nonPass, startFixture } from './fixture.ts';

let fx: Fixture;
before(async () => {
  fx = await startFixture();
});
after(async () => {
  await fx?.close();
});

const rr =
  <T extends keyof TestRecords>(name: string, type: T, value: TestRecords[T]) =>
  (zone: TestZone) => {
    zone.records[name] ??= {};
    (zone.records[name] as TestRecords)[type] = value;
  };
const txt = (name: string, ...values: string[]) => rr(name, 'TXT', values);
const drop = (name: string) => (zone: TestZone) => {
  delete zone.records[name];
};
const both =
  (...edits: ((zone: TestZone) => void)[]) =>
  (zone: TestZone) => {
    for (const edit of edits) edit(zone);
  };
const find = (checks: Check[], id: string) => checks.find((c) => c.id === id);
const table = (checks: Check[]) => renderTable(DOMAIN, checks, { colour: false });

test('a record that passes any address fails spf.open, whatever its own all says (RFC 7208 §5.2, §5.6)', async () => {
  const cases: [string, (zone: TestZone) => void, RegExp, RegExp][] = [
    [
      'ip4:0.0.0.0/0 and ip6:::/0 before -all',
      txt(DOMAIN, 'v=spf1 mx ip4:0.0.0.0/0 ip6:::/0 -all'),
      /ip4:0\.0\.0\.0\/0/,
      /^In the SPF record, narrow ip4:0\.0\.0\.0\/0 to the addresses that send your mail, as in "v=spf1 mx -all"\.$/,
    ],
    [
      'an include whose record ends in +all',
      both(txt(DOMAIN, 'v=spf1 mx include:lax.example.net -all'), txt('lax.example.net', 'v=spf1 +all')),
      /include:lax\.example\.net/,
      /^The SPF record of lax\.example\.net passes every address: remove include:lax\.example\.net from the SPF record/,
    ],
  ];
  for (const [name, zone, term, fix] of cases) {
    const checks = await fx.run({ zone });
    assert.deepEqual(nonPass(checks), ['spf.open'], `${name}\n${table(checks)}`);
    const open = find(checks, 'spf.open');
    assert.equal(open?.status, 'fail', name);
    assert.match(
      open?.summary ?? '',
      /^SPF passes mail from (203\.0\.113\.66|2001:db8:ffff::1), an address no one sends/,
    );
    assert.match(open?.summary ?? '', term, name);
    assert.match(open?.fix ?? '', fix, name);
  }
  // The good setup: strangers get fail.
  const good = find(await fx.run(), 'spf.open');
  assert.equal(good?.status, 'pass');
  assert.equal(good?.summary, 'SPF does not pass strangers (fail for 203.0.113.66, fail for 2001:db8:ffff::1)');
});

test('+all fails spf.all (every host passes); ?all stays a warning (neutral, RFC 7208 §8.2)', async () => {
  const plus = await fx.run({ zone: txt(DOMAIN, 'v=spf1 mx +all') });
  assert.equal(find(plus, 'spf.all')?.status, 'fail', table(plus));
  assert.match(find(plus, 'spf.all')?.summary ?? '', /ends in \+all: every host on the internet passes SPF as you/);
  const neutral = await fx.run({ zone: txt(DOMAIN, 'v=spf1 mx ?all') });
  assert.equal(find(neutral, 'spf.all')?.status, 'warn');
  assert.equal(find(neutral, 'spf.open')?.status, 'pass', 'neutral is no pass for strangers');
});

test('~all passes plainly under DMARC quarantine or reject (RFC 7489 §10.1), with a note to move to -all without', async () => {
  const soft = txt(DOMAIN, 'v=spf1 mx ~all');
  const dmarc = (...records: string[]) => txt('_dmarc.example.com', ...records);
  const all = async (...edits: ((zone: TestZone) => void)[]) => {
    const checks = await fx.run({ zone: both(soft, ...edits) });
    const found = find(checks, 'spf.all');
    assert.equal(found?.status, 'pass', table(checks));
    return found?.summary;
  };
  // The fixture publishes p=reject.
  assert.equal(await all(), 'ends in ~all');
  assert.equal(await all(dmarc('v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com')), 'ends in ~all');
  const note =
    / a testing setting\) while (.*): nothing asks receivers to refuse mail forged as (?:sub\.)?example\.com \(RFC 7208 §8\.5\); move to -all once your own mail passes SPF$/;
  const none = await all(dmarc('v=DMARC1; p=none; rua=mailto:dmarc@example.com'));
  assert.match(none ?? '', note);
  assert.equal(note.exec(none ?? '')?.[1], 'DMARC is p=none');
  assert.equal(note.exec((await all(drop('_dmarc.example.com'))) ?? '')?.[1], 'example.com has no DMARC policy');
  // RFC 7489 §6.6.3: two records, and receivers apply none.
  const two = dmarc('v=DMARC1; p=reject', 'v=DMARC1; p=quarantine');
  assert.equal(note.exec((await all(two)) ?? '')?.[1], 'example.com has no DMARC policy');
  // A subdomain without a record of its own: the parent's sp= applies (§6.6.3).
  const sub = await fx.run({
    domain: 'sub.example.com',
    zone: both(txt('sub.example.com', 'v=spf1 mx:example.com ~all'), dmarc('v=DMARC1; p=reject; sp=none')),
  });
  assert.equal(
    note.exec(find(sub, 'spf.all')?.summary ?? '')?.[1],
    'DMARC is sp=none inherited from example.com',
    table(sub),
  );
  // -all needs no DMARC to pass plainly.
  const hard = await fx.run({ zone: both(txt(DOMAIN, 'v=spf1 mx -all'), drop('_dmarc.example.com')) });
  assert.equal(find(hard, 'spf.all')?.summary, 'ends in -all');
});

test('exists: on names with only AAAA records are void lookups: receivers ask for A only (RFC 7208 §5.7)', async () => {
  const checks = await fx.run({
    zone: both(
      txt(DOMAIN, 'v=spf1 exists:e1.example.com exists:e2.example.com exists:e3.example.com mx -all'),
      rr('e1.example.com', 'AAAA', ['2001:db8::e1']),
      rr('e2.example.com', 'AAAA', ['2001:db8::e2']),
      rr('e3.example.com', 'AAAA', ['2001:db8::e3']),
    ),
  });
  const lookups = find(checks, 'spf.lookups');
  assert.equal(lookups?.status, 'fail', table(checks));
  assert.match(lookups?.summary ?? '', /3 void lookups \(limit 2\)/);
  assert.match(lookups?.fix ?? '', /exists: looks up A records only/);
});

test('a: on names without AAAA records is void for IPv6 senders (RFC 7208 §5.3), and the count says so', async () => {
  const checks = await fx.run({
    zone: both(
      txt(DOMAIN, 'v=spf1 mx a:v4a.example.com a:v4b.example.com a:v4c.example.com -all'),
      rr('v4a.example.com', 'A', ['192.0.2.11']),
      rr('v4b.example.com', 'A', ['192.0.2.12']),
      rr('v4c.example.com', 'A', ['192.0.2.13']),
    ),
  });
  const lookups = find(checks, 'spf.lookups');
  assert.equal(lookups?.status, 'fail', table(checks));
  assert.match(lookups?.summary ?? '', /3 \(0 for IPv4 senders, 3 for IPv6\) void lookups/);
});

test('a permerror from the evaluator is quoted, not answered with "Add ip4:" (RFC 7208 §2.6.7)', async () => {
  // Macro targets are not resolved by the walk; the evaluator finds three void lookups before mx.
  const checks = await fx.run({
    zone: txt(DOMAIN, 'v=spf1 exists:%{l}.a.example.com exists:%{l}.b.example.com exists:%{l}.c.example.com mx -all'),
  });
  const authorizes = checks.filter((c) => c.id === 'spf.authorizes');
  assert.equal(authorizes.length, 2, table(checks));
  for (const c of authorizes) {
    assert.equal(c.status, 'fail');
    assert.match(c.summary, /gives permerror for mail from .*: more than 2 void lookups/);
    assert.doesNotMatch(c.fix ?? '', /Add ip/);
    assert.match(c.fix ?? '', /no longer stops with "more than 2 void lookups/);
  }
});

test('the fix for an mx: with more than 10 MX records, or for an include loop, names that problem', async () => {
  const many = await fx.run({
    zone: both(
      txt(DOMAIN, 'v=spf1 mx mx:many.example.com -all'),
      rr(
        'many.example.com',
        'MX',
        Array.from({ length: 11 }, (_, i) => ({ priority: i, exchange: `m${i}.example.com` })),
      ),
    ),
  });
  const tooMany = find(many, 'spf.syntax');
  assert.equal(tooMany?.status, 'fail', table(many));
  assert.match(tooMany?.fix ?? '', /^Replace mx:many\.example\.com in the record of example\.com by ip4:\/ip6: ranges/);
  assert.doesNotMatch(tooMany?.fix ?? '', /no usable SPF record/);
  const loop = await fx.run({
    zone: both(
      txt(DOMAIN, 'v=spf1 mx include:loop.example.com -all'),
      txt('loop.example.com', 'v=spf1 include:example.com -all'),
    ),
  });
  const looping = find(loop, 'spf.syntax');
  assert.equal(looping?.status, 'fail', table(loop));
  assert.match(
    looping?.fix ?? '',
    /^Remove include:example\.com from the record of loop\.example\.com: example\.com is already being evaluated/,
  );
});

test('an SPF answer over 450 octets is a warning (RFC 7208 §3.4)', async () => {
  const ranges = Array.from({ length: 40 }, (_, i) => `ip4:198.51.100.${i}`).join(' ');
  const checks = await fx.run({ zone: txt(DOMAIN, `v=spf1 mx ${ranges} -all`, 'site-verification=abc123') });
  assert.deepEqual(nonPass(checks), ['spf.record'], table(checks));
  const record = find(checks, 'spf.record');
  assert.equal(record?.status, 'warn');
  assert.match(record?.summary ?? '', /take \d+ octets, over the 450 RFC 7208 §3\.4 advises/);
});
