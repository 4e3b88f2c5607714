// createResolver against the loopback test DNS server: every record type, the three failure kinds kept
// apart, the next listed server asked when one fails, every error RCODE a temporary failure, and the cache
// never holding one (ARCHITECTURE.md principle 6). Hand-made responders on loopback where the wire itself
// is under test (referrals, EDNS fallback, stray replies, odd names).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import type { Answer, DecodedPacket } from 'dns-packet';
import * as dnsPacket from 'dns-packet';
import type { DnsAnswer, Resolver } from '../../src/dns/resolver.ts';
import { askableName, createResolver, type ResolverOptions } from '../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer, type TestZone } from '../../src/dns/test-server.ts';
import { waitFor } from '../support/wait.ts';

const zone: TestZone = {
  records: {
    'example.com': {
      A: ['192.0.2.1'],
      AAAA: ['2001:db8::1'],
      MX: [{ priority: 10, exchange: 'mail.example.com' }],
      TXT: ['v=spf1 ' + 'ip4:192.0.2.0/24 '.repeat(20) + '-all'], // > 255 bytes: chunks joined back
    },
    'mail.example.com': { A: ['192.0.2.25'] },
    'www.example.com': { CNAME: 'example.com' },
    '_25._tcp.mail.example.com': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: 'c0ffee' }] },
    '192.0.2.25': { PTR: ['mail.example.com'] },
    '2001:db8::25': { PTR: ['mail.example.com'] },
    '192.0.2.30': { TXT: ['a reverse name without PTR'] },
    // Enough data that the answer cannot fit any UDP payload: asked again over TCP (RFC 1035 §4.2.1).
    'big.example.net': { TXT: Array.from({ length: 12 }, (_, i) => `${i}`.padEnd(250, 'x')) },
    'v6.example.com': { AAAA: ['::ffff:192.0.2.1', '2001:db8:0:0:1:0:0:1', '::1', '::', '::192.0.2.2', 'fe80::'] },
    'latin.example.com': { TXT: ['caf\u00e9'] },
  },
  timeout: ['slow.example.net'],
  servfail: ['broken.example.net'],
};

let server: TestDnsServer;
before(async () => {
  server = await startTestDnsServer(zone);
});
after(() => server.close());

/** Short timeout and one try keep the timeout cases fast; cacheTtlMs 0 unless a test is about the cache. */
function resolverFor(extra: Partial<ResolverOptions> = {}): Resolver {
  return createResolver({ servers: [server.server], timeoutMs: 200, tries: 1, cacheTtlMs: 0, ...extra });
}

describe('answers', () => {
  const spf = 'v=spf1 ' + 'ip4:192.0.2.0/24 '.repeat(20) + '-all';
  const cases: [label: string, query: (r: Resolver) => Promise<DnsAnswer<unknown>>, want: DnsAnswer<unknown>][] = [
    ['a', (r) => r.a('example.com'), { ok: true, records: ['192.0.2.1'] }],
    ['aaaa', (r) => r.aaaa('example.com'), { ok: true, records: ['2001:db8::1'] }],
    ['mx', (r) => r.mx('example.com'), { ok: true, records: [{ exchange: 'mail.example.com', priority: 10 }] }],
    ['txt joins chunks (RFC 7208 §3.3)', (r) => r.txt('example.com'), { ok: true, records: [spf] }],
    ['ptr v4', (r) => r.ptr('192.0.2.25'), { ok: true, records: ['mail.example.com'] }],
    ['ptr v6 (RFC 3596 §2.5)', (r) => r.ptr('2001:db8::25'), { ok: true, records: ['mail.example.com'] }],
    ['cname', (r) => r.cname('www.example.com'), { ok: true, records: ['example.com'] }],
    ['a through a cname', (r) => r.a('www.example.com'), { ok: true, records: ['192.0.2.1'] }],
    [
      'tlsa (RFC 6698 §2.1)',
      (r) => r.tlsa('_25._tcp.mail.example.com'),
      { ok: true, records: [{ usage: 3, selector: 1, matchingType: 1, data: new Uint8Array([0xc0, 0xff, 0xee]) }] },
    ],
    ['nxdomain (RFC 2308 §2.1)', (r) => r.a('nope.example.com'), { ok: false, error: 'nxdomain' }],
    ['nodata (RFC 2308 §2.2)', (r) => r.mx('mail.example.com'), { ok: false, error: 'nodata' }],
    ['ptr nxdomain', (r) => r.ptr('192.0.2.99'), { ok: false, error: 'nxdomain' }],
    ['ptr nodata', (r) => r.ptr('192.0.2.30'), { ok: false, error: 'nodata' }],
    ['tlsa nodata', (r) => r.tlsa('mail.example.com'), { ok: false, error: 'nodata' }],
    [
      'txt too big for UDP comes over TCP (RFC 7766 §5)',
      (r) => r.txt('big.example.net'),
      { ok: true, records: Array.from({ length: 12 }, (_, i) => `${i}`.padEnd(250, 'x')) },
    ],
    [
      'aaaa written as node:dns wrote it: compressed, IPv4-mapped and -compatible with a dotted tail',
      (r) => r.aaaa('v6.example.com'),
      { ok: true, records: ['::ffff:192.0.2.1', '2001:db8::1:0:0:1', '::1', '::', '::192.0.2.2', 'fe80::'] },
    ],
    // node:dns gave a TXT string one character per byte; the record's readers were written for that.
    ['txt bytes one character each', (r) => r.txt('latin.example.com'), { ok: true, records: ['caf\u00c3\u00a9'] }],
  ];
  for (const [label, query, want] of cases) {
    test(label, async () => assert.deepEqual(await query(resolverFor()), want));
  }

  test('ptr of something that is not an address is a caller bug', () => {
    assert.throws(() => resolverFor().ptr('mail.example.com'), TypeError);
  });
});

describe('temporary failures are temperror, never "no record"', () => {
  test('SERVFAIL', async () => {
    const answer = await resolverFor().a('broken.example.net');
    assert.deepEqual(answer, { ok: false, error: 'temperror', reason: 'ESERVFAIL looking up A broken.example.net' });
  });

  test('timeout', async () => {
    const started = performance.now();
    const answer = await resolverFor().txt('slow.example.net');
    assert.equal(answer.ok, false);
    assert.equal(!answer.ok && answer.error, 'temperror');
    assert.match(!answer.ok && answer.error === 'temperror' ? answer.reason : '', /^ETIMEOUT/);
    assert.ok(performance.now() - started < 2000, 'timeoutMs and tries are honoured');
  });

  test('no server listening', async () => {
    const gone = await startTestDnsServer({ records: {} });
    await gone.close();
    const r = createResolver({ servers: [gone.server], timeoutMs: 200, tries: 1 });
    const answer = await r.a('example.com');
    assert.equal(!answer.ok && answer.error, 'temperror'); // ECONNREFUSED or ETIMEOUT, both temporary
  });
});

describe('cache', () => {
  /** A resolver with a long cache and a clock the test moves. */
  function cached(): { r: Resolver; advance: (ms: number) => void } {
    let now = 1_000_000;
    const r = resolverFor({ cacheTtlMs: 10_000, now: () => now });
    return { r, advance: (ms) => (now += ms) };
  }
  /** How often `name` reached the server while `run` ran. */
  async function countQueries(name: string, run: () => Promise<unknown>): Promise<number> {
    const before = server.queries.length;
    await run();
    return server.queries.slice(before).filter((q) => q.name === name).length;
  }

  test('a positive answer is reused until it expires', async () => {
    const { r, advance } = cached();
    assert.equal(await countQueries('example.com', () => r.a('example.com')), 1);
    assert.equal(await countQueries('example.com', () => r.a('EXAMPLE.com.')), 0, 'same name, other spelling');
    assert.equal(await countQueries('example.com', () => r.aaaa('example.com')), 1, 'another type is another key');
    advance(10_001);
    assert.equal(await countQueries('example.com', () => r.a('example.com')), 1);
  });

  test('a negative answer is cached too (RFC 2308 §5)', async () => {
    const { r } = cached();
    assert.equal(await countQueries('nope.example.com', () => r.a('nope.example.com')), 1);
    const again = await r.a('nope.example.com');
    assert.deepEqual(again, { ok: false, error: 'nxdomain' });
    assert.equal(await countQueries('nope.example.com', () => r.a('nope.example.com')), 0);
  });

  test('a SERVFAIL temperror is not cached', async (t) => {
    const own = await startTestDnsServer({
      records: { 'example.org': { A: ['192.0.2.7'] } },
      servfail: ['example.org'],
    });
    t.after(() => own.close());
    const r = createResolver({ servers: [own.server], timeoutMs: 200, tries: 1, cacheTtlMs: 60_000 });
    assert.equal((await r.a('example.org')).ok, false);
    own.setZone({ records: { 'example.org': { A: ['192.0.2.7'] } } });
    assert.deepEqual(await r.a('example.org'), { ok: true, records: ['192.0.2.7'] });
  });

  test('a timeout temperror is not cached', async (t) => {
    const own = await startTestDnsServer({ records: { 'example.org': { TXT: ['hello'] } }, timeout: ['example.org'] });
    t.after(() => own.close());
    const r = createResolver({ servers: [own.server], timeoutMs: 200, tries: 1, cacheTtlMs: 60_000 });
    const first = await r.txt('example.org');
    assert.equal(!first.ok && first.error, 'temperror');
    own.setZone({ records: { 'example.org': { TXT: ['hello'] } } });
    assert.deepEqual(await r.txt('example.org'), { ok: true, records: ['hello'] });
  });

  test('health: servers that stop answering are reported after five look-ups in a row, and again when they answer', async (t) => {
    const own = await startTestDnsServer({
      records: { 'example.org': { A: ['192.0.2.7'] } },
      timeout: ['a.example.net', 'b.example.net', 'c.example.net', 'd.example.net', 'e.example.net', 'f.example.net'],
      servfail: ['broken.example'],
    });
    // The servers stop answering altogether: the probe about the root (below) goes unanswered too.
    const down = () =>
      own.setZone({
        records: { 'example.org': { A: ['192.0.2.7'] } },
        timeout: ['.', ...['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `${n}.example.net`)],
      });
    t.after(() => own.close());
    const events: string[] = [];
    const health = { failed: (reason: string) => events.push(`failed: ${reason}`), succeeded: () => events.push('ok') };
    const r = createResolver({ servers: [own.server], timeoutMs: 100, tries: 1, cacheTtlMs: 0, health });
    for (const name of ['a', 'b', 'c', 'd']) await r.a(`${name}.example.net`);
    await r.a('broken.example'); // a SERVFAIL is an answer: the servers are there
    for (const name of ['a', 'b', 'c', 'd']) await r.a(`${name}.example.net`);
    assert.deepEqual(events, ['ok'], 'four timeouts in a row at most: nothing to report');
    down();
    await r.a('e.example.net');
    await waitFor(() => events.length === 2);
    await r.a('f.example.net');
    assert.equal(events.length, 3);
    assert.match(
      events[1] ?? '',
      new RegExp(
        `^failed: the DNS servers ${own.server.replace(/[.[\]]/g, '\\$&')} do not answer \\(ETIMEOUT looking up A e\\.example\\.net\\)$`,
      ),
    );
    assert.deepEqual(await r.a('example.org'), { ok: true, records: ['192.0.2.7'] });
    assert.equal(events.at(-1), 'ok');
  });

  test('concurrent identical lookups share one query', async () => {
    const r = resolverFor();
    const count = await countQueries('mail.example.com', () =>
      Promise.all([r.a('mail.example.com'), r.a('mail.example.com'), r.a('mail.example.com')]),
    );
    assert.equal(count, 1);
  });
});

describe('the cache keeps an answer no longer than its TTL (RFC 1035 §3.2.1, RFC 2181 §8), a negative one than its SOA allows (RFC 2308 §5)', () => {
  const ttlZone: TestZone = {
    records: {
      'short.example': { A: ['192.0.2.1'] },
      'zero.example': { A: ['192.0.2.2'] },
      'topbit.example': { A: ['192.0.2.3'] },
      'alias.example': { CNAME: 'long.example' },
      'long.example': { A: ['192.0.2.4'] },
      'alias2.example': { CNAME: 'short.example' },
      'gone.example': { CNAME: 'missing.example' },
      'nodata.example': { A: ['192.0.2.5'] },
      'bare.example': { A: ['192.0.2.6'] },
    },
    ttl: {
      'short.example': 3,
      'zero.example': 0,
      'topbit.example': 0x80000005, // RFC 2181 §8: read as 0, not as 5 nor as 68 years
      'alias.example': 2, // the CNAME's TTL, shorter than its target's (60)
      'gone.example': 1,
    },
    soa: {
      'nope.example': { ttl: 5, minimum: 30 }, // the SOA's own TTL is the lesser
      'nodata.example/MX': { ttl: 30, minimum: 4 }, // MINIMUM is the lesser
      'missing.example': { ttl: 30, minimum: 30 },
      'nosoa.example': null,
      'bare.example/TXT': null,
      'topbit-soa.example': { ttl: 30, minimum: 0x80000000 },
    },
  };
  let own: TestDnsServer;
  before(async () => {
    own = await startTestDnsServer(ttlZone);
  });
  after(() => own.close());

  /** A resolver whose cache could keep an answer 10 s, on a clock the test moves, and how often `run` asked. */
  function clocked() {
    let now = 5_000_000;
    const r = createResolver({ servers: [own.server], timeoutMs: 300, tries: 1, cacheTtlMs: 10_000, now: () => now });
    const asks = async (name: string, run: () => Promise<unknown>): Promise<number> => {
      const before = own.queries.length;
      await run();
      return own.queries.slice(before).filter((q) => q.name === name).length;
    };
    return { r, asks, advance: (ms: number) => (now += ms) };
  }

  test('a positive answer with a TTL under cacheTtlMs is kept for its TTL only', async () => {
    const { r, asks, advance } = clocked();
    assert.equal(await asks('short.example', () => r.a('short.example')), 1);
    advance(2_999);
    assert.equal(await asks('short.example', () => r.a('short.example')), 0, 'within its 3 s');
    advance(1);
    assert.equal(await asks('short.example', () => r.a('short.example')), 1, 'asked again at 3 s, not at 10 s');
  });

  test('TTL 0 is used for this look-up only; a TTL with the top bit set is 0 too', async () => {
    const { r, asks } = clocked();
    for (const name of ['zero.example', 'topbit.example']) {
      assert.equal((await r.a(name)).ok, true, name);
      assert.equal(await asks(name, () => r.a(name)), 1, `${name} not kept`);
    }
  });

  test('TTL 0 answers still share one query between concurrent look-ups', async () => {
    const { r, asks } = clocked();
    const count = await asks('zero.example', () => Promise.all([r.a('zero.example'), r.a('zero.example')]));
    assert.equal(count, 1);
  });

  test("the least TTL of the chain counts: a CNAME's shorter TTL, or the target's", async () => {
    const { r, asks, advance } = clocked();
    assert.deepEqual(await r.a('alias.example'), { ok: true, records: ['192.0.2.4'] });
    assert.deepEqual(await r.a('alias2.example'), { ok: true, records: ['192.0.2.1'] });
    advance(1_999);
    assert.equal(await asks('alias.example', () => r.a('alias.example')), 0);
    advance(1);
    assert.equal(await asks('alias.example', () => r.a('alias.example')), 1, 'the CNAME (2 s) expired');
    assert.equal(await asks('alias2.example', () => r.a('alias2.example')), 0);
    advance(1_000);
    assert.equal(await asks('alias2.example', () => r.a('alias2.example')), 1, 'the target (3 s) expired');
  });

  test('NXDOMAIN and NODATA are kept for the lesser of the SOA TTL and MINIMUM', async () => {
    const { r, asks, advance } = clocked();
    assert.deepEqual(await r.a('nope.example'), { ok: false, error: 'nxdomain' });
    assert.deepEqual(await r.mx('nodata.example'), { ok: false, error: 'nodata' });
    advance(3_999);
    assert.equal(await asks('nope.example', () => r.a('nope.example')), 0);
    assert.equal(await asks('nodata.example', () => r.mx('nodata.example')), 0);
    advance(1);
    assert.equal(await asks('nodata.example', () => r.mx('nodata.example')), 1, 'MINIMUM 4 s');
    assert.equal(await asks('nope.example', () => r.a('nope.example')), 0);
    advance(1_000);
    assert.equal(await asks('nope.example', () => r.a('nope.example')), 1, 'SOA TTL 5 s');
  });

  test('a negative answer without an SOA is not kept', async () => {
    const { r, asks } = clocked();
    assert.deepEqual(await r.a('nosoa.example'), { ok: false, error: 'nxdomain' });
    assert.equal(await asks('nosoa.example', () => r.a('nosoa.example')), 1, 'NXDOMAIN');
    assert.deepEqual(await r.txt('bare.example'), { ok: false, error: 'nodata' });
    assert.equal(await asks('bare.example', () => r.txt('bare.example')), 1, 'NODATA');
  });

  test('an SOA MINIMUM with the top bit set is 0; an NXDOMAIN after a CNAME lasts no longer than the CNAME', async () => {
    const { r, asks, advance } = clocked();
    assert.deepEqual(await r.a('topbit-soa.example'), { ok: false, error: 'nxdomain' });
    assert.equal(await asks('topbit-soa.example', () => r.a('topbit-soa.example')), 1);
    assert.deepEqual(await r.a('gone.example'), { ok: false, error: 'nxdomain' });
    advance(999);
    assert.equal(await asks('gone.example', () => r.a('gone.example')), 0);
    advance(1);
    assert.equal(await asks('gone.example', () => r.a('gone.example')), 1, 'the CNAME (1 s), not the SOA (30 s)');
  });

  test('cacheTtlMs still bounds every answer, positive and negative', async () => {
    let now = 0;
    const r = createResolver({ servers: [own.server], timeoutMs: 300, tries: 1, cacheTtlMs: 1_000, now: () => now });
    const asked = (name: string) => own.queries.filter((q) => q.name === name).length;
    await r.a('long.example');
    await r.a('missing.example');
    const before = [asked('long.example'), asked('missing.example')];
    now += 999;
    await r.a('long.example');
    await r.a('missing.example');
    assert.deepEqual([asked('long.example'), asked('missing.example')], before);
    now += 1;
    await r.a('long.example');
    await r.a('missing.example');
    assert.deepEqual(
      [asked('long.example'), asked('missing.example')],
      before.map((n) => n + 1),
    );
  });
});

test('a name with a NUL, another control character or a space is never asked: nxdomain', async () => {
  const r = resolverFor();
  const before = server.queries.length;
  // c-ares would cut the first at the NUL and ask for mail.example.com, which exists.
  for (const name of ['mail.example.com\u0000.attacker.example', 'mail.example.com\u0007', 'mail example.com']) {
    assert.deepEqual(await r.a(name), { ok: false, error: 'nxdomain' }, JSON.stringify(name));
    assert.deepEqual(await r.txt(name), { ok: false, error: 'nxdomain' }, JSON.stringify(name));
  }
  assert.equal(server.queries.length, before, 'nothing went out');
});

test('a name no DNS server can hold is never asked: over 253 characters, a label over 63, an IDN that does not convert', async () => {
  const r = resolverFor();
  const before = server.queries.length;
  const label = (n: number) => 'a'.repeat(n);
  const long254 = `${label(63)}.${label(63)}.${label(63)}.${label(61)}.b`; // 254 characters
  for (const name of [long254, `${label(64)}.example.com`, 'x\u0085y.example.com', 'a\u2028b.example.com']) {
    assert.deepEqual(await r.a(name), { ok: false, error: 'nxdomain' }, JSON.stringify(name));
    assert.deepEqual(await r.txt(name), { ok: false, error: 'nxdomain' }, JSON.stringify(name));
  }
  assert.equal(server.queries.length, before, 'nothing went out (c-ares had asked for "." or sent an invalid name)');
  const fits = `${label(63)}.${label(63)}.${label(63)}.${label(61)}`; // 253: asked
  assert.equal((await r.a(fits)).ok, false);
  assert.ok(
    server.queries.some((q) => q.name === fits),
    'a 253-character name is asked',
  );
  assert.equal(askableName('bücher.example'), 'xn--bcher-kva.example', 'an IDN is asked as its A-labels');
});

test('the cache holds an answer under the name that was asked, never another: no poisoning by a name read as a URL', async () => {
  const r = resolverFor({ cacheTtlMs: 60_000 });
  // A name an SPF macro can build from a sender's local part (%{l}, with SMTPUTF8): the whole-name
  // IDNA conversion read it as the URL host example.com, while c-ares asked for another name. The
  // answer (here, none) was then kept as example.com's, and served to every session for 10 s.
  for (const crafted of ['example.com/ü', 'example.com?ü', 'example.com#ü', 'example.com\\ü', 'ex%61mple.cöm/ü']) {
    assert.deepEqual(await r.txt(crafted), { ok: false, error: 'nxdomain' }, crafted);
    assert.equal(askableName(crafted), undefined, crafted);
  }
  const real = await r.txt('example.com');
  assert.equal(real.ok, true, 'example.com keeps its own TXT record');
  // Label by label: a U-label converts, the ASCII labels stay as written.
  assert.equal(askableName('_dmarc.bücher.example'), '_dmarc.xn--bcher-kva.example');
  assert.equal(askableName('sel._domainkey.пример.рф.'), 'sel._domainkey.xn--e1afmkfd.xn--p1ai.');
  // Characters IDNA2008 allows by context (RFC 5892 Appendix A), UTS #46's other full stops, symbols.
  assert.equal(askableName('paral·lel.cat'), 'xn--parallel-koa.cat');
  assert.equal(askableName('ケーキ・ショップ.jp'), 'xn--nckht2czf2d7fg.jp');
  assert.equal(askableName('می\u200cخواهم.ir'), 'xn--mgbn2ecje63gr19l.ir');
  assert.equal(askableName('例え。jp'), 'xn--r8jz45g.jp');
  assert.equal(askableName('i❤.ws'), 'xn--i-7iq.ws');
  assert.equal(askableName('ü$.example'), undefined, 'an ASCII symbol in a U-label makes no A-label');
});

describe('failover: the next listed server is asked when one fails (as glibc does after SERVFAIL, NOTIMP, REFUSED)', () => {
  const records: TestZone['records'] = { 'example.org': { A: ['192.0.2.7'], TXT: ['v=spf1 -all'] } };
  /** Two loopback servers, listed in this order: the first as the test sets it, the second with the records. */
  async function pair(t: { after(fn: () => Promise<void>): void }, first: TestZone) {
    const one = await startTestDnsServer(first);
    const two = await startTestDnsServer({ records });
    t.after(() => one.close());
    t.after(() => two.close());
    const asked = (s: TestDnsServer, name: string) => s.queries.filter((q) => q.name === name).length;
    return { one, two, asked, servers: [one.server, two.server] };
  }

  test('a SERVFAIL, then a REFUSED, from the first server: the records come from the second', async (t) => {
    const { one, two, asked, servers } = await pair(t, { records, servfail: ['example.org'] });
    const r = createResolver({ servers, timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
    assert.deepEqual(await r.a('example.org'), { ok: true, records: ['192.0.2.7'] });
    assert.equal(asked(one, 'example.org'), 1, 'the first server was asked first');
    assert.equal(asked(two, 'example.org'), 1);
    one.setZone({ records, rcode: { 'example.org': 5 } }); // REFUSED (RFC 1035 §4.1.1)
    assert.deepEqual(await r.txt('example.org'), { ok: true, records: ['v=spf1 -all'] });
    assert.equal(asked(one, 'example.org'), 2);
    assert.equal(asked(two, 'example.org'), 2);
  });

  test('a NOTIMP, and a timeout, from the first server: the records come from the second', async (t) => {
    const { one, servers } = await pair(t, { records, rcode: { 'example.org': 4 } });
    const r = createResolver({ servers, timeoutMs: 200, tries: 1, cacheTtlMs: 0 });
    assert.deepEqual(await r.a('example.org'), { ok: true, records: ['192.0.2.7'] });
    one.setZone({ records, timeout: ['example.org'] });
    assert.deepEqual(await r.txt('example.org'), { ok: true, records: ['v=spf1 -all'] });
  });

  test('an NXDOMAIN or a NODATA from the first server is final: the second is not asked (RFC 2308 §2.1, §2.2)', async (t) => {
    const { two, asked, servers } = await pair(t, { records: { 'example.org': { A: ['192.0.2.9'] } } });
    const r = createResolver({ servers, timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
    assert.deepEqual(await r.a('nope.example.org'), { ok: false, error: 'nxdomain' });
    assert.deepEqual(await r.txt('example.org'), { ok: false, error: 'nodata' });
    assert.deepEqual(await r.a('example.org'), { ok: true, records: ['192.0.2.9'] });
    assert.equal(asked(two, 'nope.example.org') + asked(two, 'example.org'), 0);
  });

  test('every server failing: temperror, naming what each said; one that gave an RCODE is not asked again', async (t) => {
    const { one, two, asked, servers } = await pair(t, { records, servfail: ['example.org'] });
    two.setZone({ records, rcode: { 'example.org': 5 } });
    const r = createResolver({ servers, timeoutMs: 300, tries: 3, cacheTtlMs: 0 });
    assert.deepEqual(await r.a('example.org'), {
      ok: false,
      error: 'temperror',
      reason: `EREFUSED looking up A example.org (${one.server} ESERVFAIL, ${two.server} EREFUSED)`,
    });
    assert.equal(asked(one, 'example.org'), 1, 'three rounds, but a SERVFAIL now is a SERVFAIL again at once');
    assert.equal(asked(two, 'example.org'), 1);
  });

  test('a server that let a query time out is asked after the others for a while', async (t) => {
    const { one, asked, servers } = await pair(t, { records, timeout: ['example.org/A'] });
    const r = createResolver({ servers, timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
    assert.deepEqual(await r.a('example.org'), { ok: true, records: ['192.0.2.7'] });
    const started = performance.now();
    assert.deepEqual(await r.txt('example.org'), { ok: true, records: ['v=spf1 -all'] });
    assert.ok(performance.now() - started < 250, 'no timeout waited for');
    assert.equal(asked(one, 'example.org'), 1, 'the silent server was not asked first');
  });
});

describe('an error RCODE vouches for nothing: temperror, never records nor "no data" (RFC 1035 §4.1.1, RFC 6895 §2.3)', () => {
  // The name holds an A record and no TXT: the records must not be taken, nor the TXT's absence read as NODATA.
  const cases: [rcode: number, code: string][] = [
    [1, 'EFORMERR'],
    [2, 'ESERVFAIL'],
    [4, 'ENOTIMP'],
    [5, 'EREFUSED'],
    [6, 'EYXDOMAIN'],
    [7, 'EYXRRSET'],
    [8, 'ENXRRSET'],
    [9, 'ENOTAUTH'],
    [10, 'ENOTZONE'],
    [11, 'EDSOTYPENI'],
    [12, 'ERCODE12'],
    [15, 'ERCODE15'],
    [16, 'EBADVERS'], // RFC 6891 §6.1.3: the upper bits in OPT, the header's RCODE 0
    [3841, 'ERCODE3841'], // unassigned, RFC 6895 §2.3
  ];
  for (const [rcode, code] of cases) {
    test(`RCODE ${rcode} → temperror ${code}`, async (t) => {
      const own = await startTestDnsServer({
        records: { 'example.org': { A: ['192.0.2.7'] } },
        rcode: { 'example.org': rcode },
      });
      t.after(() => own.close());
      const r = createResolver({ servers: [own.server], timeoutMs: 300, tries: 1, cacheTtlMs: 60_000 });
      for (const [type, answer] of [
        ['A', await r.a('example.org')],
        ['TXT', await r.txt('example.org')],
      ] as const) {
        assert.deepEqual(answer, { ok: false, error: 'temperror', reason: `${code} looking up ${type} example.org` });
      }
      own.setZone({ records: { 'example.org': { A: ['192.0.2.7'] } } });
      assert.deepEqual(await r.a('example.org'), { ok: true, records: ['192.0.2.7'] }, 'and it was not cached');
    });
  }
});

describe('health: servers that do not serve us', () => {
  const names = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `${n}.example.net`);
  function recorder() {
    const events: string[] = [];
    return {
      events,
      health: { failed: (why: string) => events.push(`failed: ${why}`), succeeded: () => events.push('ok') },
    };
  }

  test('a server that REFUSES every query is an outage; one domain SERVFAIL still is not', async (t) => {
    const own = await startTestDnsServer({
      records: { 'example.org': { A: ['192.0.2.7'] } },
      rcode: Object.fromEntries(['.', ...names].map((n) => [n, 5])),
      servfail: ['broken.example'],
    });
    t.after(() => own.close());
    const { events, health } = recorder();
    const r = createResolver({ servers: [own.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0, health });
    for (const name of names.slice(0, 4)) await r.a(name);
    await r.a('broken.example');
    for (const name of names.slice(0, 4)) await r.a(name);
    assert.deepEqual(events, ['ok'], 'four refusals in a row at most: nothing to report');
    await r.a(names[4]!);
    await waitFor(() => events.length === 2);
    assert.equal(
      events.at(-1),
      `failed: the DNS servers ${own.server} refuse to resolve names for us (EREFUSED looking up A e.example.net)`,
    );
    assert.deepEqual(await r.a('example.org'), { ok: true, records: ['192.0.2.7'] });
    assert.equal(events.at(-1), 'ok');
  });

  test('two servers, one refusing and one silent, count too; one answering, even SERVFAIL, does not', async (t) => {
    const refusing = await startTestDnsServer({
      records: {},
      rcode: Object.fromEntries(['.', ...names].map((n) => [n, 5])),
    });
    const silent = await startTestDnsServer({ records: {}, timeout: ['.', ...names, 'broken.example'] });
    t.after(() => refusing.close());
    t.after(() => silent.close());
    const { events, health } = recorder();
    const servers = [refusing.server, silent.server];
    const r = createResolver({ servers, timeoutMs: 100, tries: 1, cacheTtlMs: 0, health });
    for (const name of names.slice(0, 5)) await r.a(name);
    await waitFor(() => events.length === 1);
    assert.equal(events.length, 1);
    assert.match(events[0] ?? '', /^failed: the DNS servers .* do not answer \(ETIMEOUT looking up A e\.example\.net /);
    refusing.setZone({ records: {}, servfail: ['broken.example'] });
    await r.a('broken.example');
    assert.equal(events.at(-1), 'ok');
  });
});

test('health: one domain whose names time out, the servers answering the rest, is no outage (a probe of the root says so)', async (t) => {
  // A sender's domain whose own name servers are silent: a recursive resolver times out on its names only.
  const lame = Array.from({ length: 12 }, (_, i) => `drop${i}.lame.example`);
  const own = await startTestDnsServer({ records: { 'example.org': { A: ['192.0.2.7'] } }, timeout: lame });
  t.after(() => own.close());
  const events: string[] = [];
  const health = { failed: (why: string) => events.push(`failed: ${why}`), succeeded: () => events.push('ok') };
  const r = createResolver({ servers: [own.server], timeoutMs: 100, tries: 1, cacheTtlMs: 0, health });
  for (const name of lame) await r.mx(name);
  await new Promise((resolve) => setTimeout(resolve, 300)); // the probes' answers are in
  assert.deepEqual(
    events.filter((e) => e.startsWith('failed')),
    [],
    'twelve timeouts of one domain: the servers answered the root',
  );
  assert.deepEqual(await r.a('example.org'), { ok: true, records: ['192.0.2.7'] });
});

describe('on the wire, against hand-made responders', () => {
  /** A UDP responder on loopback: `respond` gets each query and gives the messages to send back. */
  async function responder(
    t: { after(fn: () => Promise<void>): void },
    respond: (query: DecodedPacket, raw: Buffer) => Buffer[],
  ) {
    const socket = createSocket('udp4');
    const queries: DecodedPacket[] = [];
    socket.on('message', (message, peer) => {
      const query = dnsPacket.decode(message);
      queries.push(query);
      for (const reply of respond(query, message)) socket.send(reply, peer.port, peer.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    return { server: `127.0.0.1:${socket.address().port}`, queries };
  }
  const reply = (
    query: DecodedPacket,
    flags: number,
    sections: { answers?: Answer[]; authorities?: Answer[]; additionals?: Answer[] } = {},
  ) => dnsPacket.encode({ type: 'response', id: query.id, flags, questions: query.questions, ...sections });
  const a = (name: string, data: string): Answer => ({ type: 'A', name, ttl: 60, data });
  const RA = dnsPacket.RECURSION_AVAILABLE;

  test('a referral (NS records, no SOA, from a server that does not recurse) is no NODATA: the next server is asked (RFC 2308 §2.2)', async (t) => {
    const authoritativeOnly = await responder(t, (q) => [
      reply(q, 0, { authorities: [{ type: 'NS', name: 'org', ttl: 60, data: 'a0.org.example' }] }),
    ]);
    const recursive = await startTestDnsServer({ records: { 'example.org': { TXT: ['v=spf1 -all'] } } });
    t.after(() => recursive.close());
    const alone = createResolver({ servers: [authoritativeOnly.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
    assert.deepEqual(await alone.txt('example.org'), {
      ok: false,
      error: 'temperror',
      reason: 'EREFERRAL looking up TXT example.org',
    });
    const servers = [authoritativeOnly.server, recursive.server];
    const both = createResolver({ servers, timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
    assert.deepEqual(await both.txt('example.org'), { ok: true, records: ['v=spf1 -all'] });
  });

  test('an empty reply from a server that neither recurses nor is authoritative, no NS, no SOA, is no NODATA either: the next server is asked', async (t) => {
    const notRecursive = await responder(t, (q) => [reply(q, 0)]);
    const recursive = await startTestDnsServer({
      records: { 'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] } },
    });
    t.after(() => recursive.close());
    const alone = createResolver({ servers: [notRecursive.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
    // It was { ok: false, error: 'nodata' }: the sender's domain "not found", 550, for good.
    assert.deepEqual(await alone.mx('example.net'), {
      ok: false,
      error: 'temperror',
      reason: 'ENORECURSION looking up MX example.net',
    });
    const both = createResolver({
      servers: [notRecursive.server, recursive.server],
      timeoutMs: 300,
      tries: 1,
      cacheTtlMs: 0,
    });
    assert.deepEqual(await both.mx('example.net'), {
      ok: true,
      records: [{ exchange: 'mx.example.net', priority: 10 }],
    });
    // A recursive server's empty NOERROR is NODATA, as before.
    const answering = await responder(t, (q) => [reply(q, RA)]);
    const plain = createResolver({ servers: [answering.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
    assert.deepEqual(await plain.mx('example.net'), { ok: false, error: 'nodata' });
  });

  test('a reply with another ID or question is ignored, the real one taken (RFC 5452 §9.1)', async (t) => {
    const spoofing = await responder(t, (q) => {
      const name = q.questions![0]!.name;
      return [
        dnsPacket.encode({
          type: 'response',
          id: (q.id! + 1) & 0xffff,
          flags: RA,
          questions: q.questions,
          answers: [a(name, '203.0.113.66')],
        }),
        dnsPacket.encode({
          type: 'response',
          id: q.id,
          flags: RA,
          questions: [{ type: 'A', name: 'other.example' }],
          answers: [a('other.example', '203.0.113.67')],
        }),
        reply(q, RA, { answers: [a(name, '192.0.2.5')] }),
      ];
    });
    const r = createResolver({ servers: [spoofing.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
    assert.deepEqual(await r.a('example.org'), { ok: true, records: ['192.0.2.5'] });
  });

  test('only the records of the name asked, or of its CNAME chain, are the answer', async (t) => {
    const chatty = await responder(t, (q) => {
      const name = q.questions![0]!.name;
      return [
        reply(q, RA, {
          answers: [
            a('elsewhere.example', '203.0.113.66'),
            { type: 'CNAME', name, ttl: 60, data: 'target.example' },
            a('target.example', '192.0.2.5'),
          ],
        }),
      ];
    });
    const r = createResolver({ servers: [chatty.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
    assert.deepEqual(await r.a('Example.ORG'), { ok: true, records: ['192.0.2.5'] });
    assert.deepEqual(await r.cname('example.org'), { ok: true, records: ['target.example'] });
  });

  test('a dot inside a label is escaped, so one label never reads as three (RFC 1035 §5.1); the root is ""', async (t) => {
    const odd = await responder(t, (q) => {
      const [question] = q.questions!;
      if (question!.type === 'MX') {
        return [
          reply(q, RA, {
            answers: [{ type: 'MX', name: question!.name, ttl: 60, data: { preference: 0, exchange: '.' } }],
          }),
        ];
      }
      const message = reply(q, RA, {
        answers: [{ type: 'PTR', name: question!.name, ttl: 60, data: 'mail_example_com.example' }],
      });
      // One 16-octet label "mail.example.com": dns-packet would split the dots, so they are put in afterwards.
      const at = message.lastIndexOf('mail_example_com');
      message.write('mail.example.com', at, 'ascii');
      return [message];
    });
    const r = createResolver({ servers: [odd.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
    assert.deepEqual(await r.ptr('192.0.2.25'), { ok: true, records: ['mail\\.example\\.com.example'] });
    assert.deepEqual(await r.mx('example.org'), { ok: true, records: [{ exchange: '', priority: 0 }] });
  });

  test('a name with a character c-ares would not send, or an escape it would have read, is EBADNAME, never asked', async (t) => {
    const any = await responder(t, () => []);
    const r = createResolver({ servers: [any.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
    // c-ares read "a\\.b" as one label holding a dot, and asked for that.
    for (const name of ['a:b.example', 'a%b.example', 'a\\.b.example', 'a..b.example']) {
      assert.deepEqual(await r.a(name), { ok: false, error: 'temperror', reason: `EBADNAME looking up A ${name}` });
    }
    assert.equal(any.queries.length, 0);
  });
});

test('out of descriptors (EMFILE) is this process failing, not the servers: no outage warning, not put last', async () => {
  // Before, an EMFILE read as a silent server: five in a row raised "the DNS servers … do not answer"
  // against a server that answered every query it got (NXDOMAIN here).
  const script = `
    import { createResolver } from './src/dns/system-resolver.ts';
    import { startTestDnsServer } from './src/dns/test-server.ts';
    const names = Array.from({ length: 80 }, (_, i) => 'h' + i + '.absent.example');
    const dns = await startTestDnsServer({ records: {} });
    const warnings = [];
    const resolver = createResolver({ servers: [dns.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0,
      health: { failed: (reason) => warnings.push(reason), succeeded: () => {} } });
    const answers = await Promise.all(names.map((name) => resolver.a(name)));
    const emfile = answers.filter((a) => !a.ok && /^EMFILE/.test(a.reason ?? '')).length;
    console.log(JSON.stringify({ emfile, warnings }));
    await dns.close();
  `;
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    execFile(
      'sh',
      ['-c', `ulimit -n 48 && exec "${process.execPath}" --input-type=module -e "$0"`, script],
      { cwd: new URL('../..', import.meta.url).pathname, timeout: 20_000 },
      (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve({ stdout: out })),
    );
  });
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { emfile: number; warnings: string[] };
  assert.ok(result.emfile > 0, 'the limit was reached (the test would prove nothing otherwise)');
  assert.deepEqual(result.warnings, []);
});
