import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { walkSpf } from '../../../src/admin/dns-check/spf-walk.ts';
import type { Resolver } from '../../../src/dns/resolver.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';

let dns: TestDnsServer;
let resolver: Resolver;
before(async () => {
  dns = await startTestDnsServer({
    records: {
      'example.com': { MX: [{ priority: 10, exchange: 'mx.example.com' }], A: ['192.0.2.10'] },
      'mx.example.com': { A: ['192.0.2.1'] },
      'v6only.example.com': { AAAA: ['2001:db8::6'] },
      'inc.example.net': { TXT: ['v=spf1 ip4:198.51.100.0/24 include:inner.example.net -all'] },
      'inner.example.net': { TXT: ['v=spf1 a mx ~all'] },
      'loop.example.net': { TXT: ['v=spf1 include:loop.example.net -all'] },
      'redirect.example.net': { TXT: ['v=spf1 mx ~all'] },
      'twice.example.net': { TXT: ['v=spf1 -all', 'v=spf1 ~all'] },
      'bad.example.net': { TXT: ['v=spf1 ip4:300.1.1.1 -all'] },
      'slow.example.net': {},
    },
    timeout: ['slow.example.net'],
  });
  resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1, cacheTtlMs: 0 });
});
after(() => dns.close());

type Want = {
  lookups: number;
  voidLookups: number;
  /** Void lookups of an IPv4 and an IPv6 client, when they differ from voidLookups. */
  voids?: [ipv4: number, ipv6: number];
  all: string | undefined;
  problems?: RegExp;
  temperror?: true;
  ptr?: true;
};
// RFC 7208 §4.6.4: include, a, mx, ptr, exists and redirect count; ip4, ip6, all and exp do not.
const cases: [record: string, want: Want][] = [
  ['v=spf1 -all', { lookups: 0, voidLookups: 0, all: '-' }],
  ['v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all', { lookups: 0, voidLookups: 0, all: '~' }],
  // example.com has an A record only: its AAAA lookup, an IPv6 client's `a`, is void (§5.3).
  ['v=spf1 a mx -all', { lookups: 2, voidLookups: 1, voids: [0, 1], all: '-' }],
  // §5.7: exists asks for A whatever the client's family; AAAA records do not make it match.
  ['v=spf1 exists:v6only.example.com -all', { lookups: 1, voidLookups: 1, voids: [1, 1], all: '-' }],
  ['v=spf1 a:v6only.example.com -all', { lookups: 1, voidLookups: 1, voids: [1, 0], all: '-' }],
  ['v=spf1 a:none.example.com mx:none.example.com -all', { lookups: 2, voidLookups: 2, all: '-' }],
  ['v=spf1 include:inc.example.net -all', { lookups: 4, voidLookups: 2, all: '-' }], // inner's a and mx find nothing
  ['v=spf1 mx redirect=redirect.example.net', { lookups: 3, voidLookups: 1, all: '~' }], // the redirect's all (§6.1)
  ['v=spf1 mx -all redirect=redirect.example.net', { lookups: 1, voidLookups: 0, all: '-' }], // all wins over redirect
  ['v=spf1 -all include:inc.example.net', { lookups: 0, voidLookups: 0, all: '-' }], // nothing after all is reached (§5.1)
  ['v=spf1 mx', { lookups: 1, voidLookups: 0, all: undefined }],
  ['v=spf1 exists:%{i}.bl.example.org ptr -all', { lookups: 2, voidLookups: 0, all: '-', ptr: true }],
  ['v=spf1 include:loop.example.net -all', { lookups: 2, voidLookups: 0, all: '-', problems: /loops back/ }],
  ['v=spf1 include:twice.example.net -all', { lookups: 1, voidLookups: 0, all: '-', problems: /2 SPF records/ }],
  ['v=spf1 include:nothing.example.net -all', { lookups: 1, voidLookups: 1, all: '-', problems: /no SPF record/ }],
  ['v=spf1 include:bad.example.net -all', { lookups: 1, voidLookups: 0, all: '-', problems: /ip4/ }],
  ['v=spf1 include:slow.example.net -all', { lookups: 1, voidLookups: 0, all: '-', temperror: true }],
];
for (const [record, want] of cases) {
  test(record, async () => {
    const walk = await walkSpf(resolver, 'example.com', record);
    assert.equal(walk.lookups, want.lookups, 'lookups');
    assert.equal(walk.voidLookups, want.voidLookups, 'void lookups');
    const [ipv4, ipv6] = want.voids ?? [want.voidLookups, want.voidLookups];
    assert.deepEqual(walk.voids, { ipv4, ipv6 }, 'void lookups per family');
    assert.equal(walk.all, want.all, 'all');
    assert.equal(walk.usesPtr, want.ptr === true, 'ptr');
    assert.equal(walk.temperror !== undefined, want.temperror === true, `temperror ${walk.temperror}`);
    if (want.problems) assert.match(walk.problems.map((p) => p.text).join('; '), want.problems);
    else assert.deepEqual(walk.problems, []);
  });
}

test('a redirect target DNS does not answer leaves the ending unknown; an include one only its own record (RFC 7208 §4.4, §6.1)', async () => {
  const redirected = await walkSpf(resolver, 'example.com', 'v=spf1 mx redirect=slow.example.net');
  assert.equal(redirected.all, undefined);
  assert.equal(redirected.allUnread?.name, 'slow.example.net');
  assert.deepEqual(
    redirected.unread.map((u) => u.name),
    ['slow.example.net'],
  );
  const included = await walkSpf(resolver, 'example.com', 'v=spf1 include:slow.example.net -all');
  assert.equal(included.all, '-');
  assert.equal(included.allUnread, undefined);
  assert.deepEqual(
    included.unread.map((u) => u.name),
    ['slow.example.net'],
  );
});
