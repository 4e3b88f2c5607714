// createResolver against the loopback test DNS server: every record type, the three failure kinds kept
// apart, and the cache never holding a temporary failure (ARCHITECTURE.md principle 6).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DnsAnswer, Resolver } from '../../src/dns/resolver.ts';
import { askableName, createResolver, fromError, type ResolverOptions } from '../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer, type TestZone } from '../../src/dns/test-server.ts';

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

  const codes: [code: string | undefined, want: string][] = [
    ['ENOTFOUND', 'nxdomain'],
    ['ENODATA', 'nodata'],
    ['ETIMEOUT', 'temperror'],
    ['ESERVFAIL', 'temperror'],
    ['ECONNREFUSED', 'temperror'],
    ['EREFUSED', 'temperror'],
    ['EBADRESP', 'temperror'],
    [undefined, 'temperror'], // anything unrecognized
  ];
  for (const [code, want] of codes) {
    test(`error code ${code} → ${want}`, () => {
      const answer = fromError(Object.assign(new Error('x'), { code }), 'A', 'example.com');
      assert.equal(!answer.ok && answer.error, want);
    });
  }
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
    t.after(() => own.close());
    const events: string[] = [];
    const health = { failed: (reason: string) => events.push(`failed: ${reason}`), succeeded: () => events.push('ok') };
    const r = createResolver({ servers: [own.server], timeoutMs: 100, tries: 1, cacheTtlMs: 0, health });
    for (const name of ['a', 'b', 'c', 'd']) await r.a(`${name}.example.net`);
    await r.a('broken.example'); // a SERVFAIL is an answer: the servers are there
    for (const name of ['a', 'b', 'c', 'd']) await r.a(`${name}.example.net`);
    assert.deepEqual(events, ['ok'], 'four timeouts in a row at most: nothing to report');
    await r.a('e.example.net');
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
