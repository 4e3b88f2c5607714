import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dnsblRules } from '../../../src/policy/rules/dnsbl.ts';
import { build, context, path, resolverFor, run, startDns } from './context.ts';

/** 2001:db8::bad, nibble by nibble from the last (RFC 5782 §2.4), written out rather than computed. */
const V6_LISTED = ['d', 'a', 'b', '0', ...Array(20).fill('0'), '8', 'b', 'd', '0', '1', '0', '0', '2'].join('.');

const { server, resolver } = await startDns({
  records: {
    '2.2.0.192.bl.example.org': { A: ['127.0.0.2'], TXT: ['Listed for spam, see https://bl.example.org/?192.0.2.2'] },
    '10.2.0.192.bl.example.org': { A: ['127.0.0.10'] },
    '13.2.0.192.bl.example.org': { A: ['192.0.2.200'] }, // outside 127/8: a rewritten NXDOMAIN, not a listing
    [`${V6_LISTED}.bl.example.org`]: { A: ['127.0.0.2'] },
    'spam.example.dbl.example.org': { A: ['127.0.1.2'], TXT: ['Domain listed'] },
    'xn--bcher-kva.example.dbl.example.org': { A: ['127.0.1.2'] },
    // Spamhaus's error answers: a query through a public resolver, a mistyped zone.
    '16.2.0.192.bl.example.org': { A: ['127.255.255.254'], TXT: ['query refused: public resolver'] },
    '17.2.0.192.bl.example.org': { A: ['127.255.255.252'] },
    // URIBL/SURBL's answer to a query they refuse or block (URIBL_BLOCKED), whatever was asked.
    '18.2.0.192.bl.example.org': { A: ['127.0.0.1'] },
    'blocked.example.dbl.example.org': { A: ['127.0.0.1'] },
    // Spamhaus DBL's answer to an IP address asked as a domain ("IP queries prohibited").
    'ipasdomain.example.dbl.example.org': { A: ['127.0.1.255'] },
  },
  // 192.0.2.99 and clean.example are in no list
  timeout: ['14.2.0.192.bl.example.org', 'slow.example.dbl.example.org'],
  servfail: ['15.2.0.192.bl.example.org'],
});

const blocked = (ip: string, zone = 'bl.example.org') =>
  `554 5.7.1 Service unavailable; Client host [${ip}] blocked using ${zone}`;
// Postfix gives a client the benefit of the doubt when a list does not answer: not listed, with a warning.
const deferred = (_ip: string) => 'undecided';

const clientCases: [args: string, ip: string, want: string][] = [
  ['bl.example.org', '192.0.2.2', `${blocked('192.0.2.2')}; Listed for spam, see https://bl.example.org/?192.0.2.2`],
  ['bl.example.org', '192.0.2.10', blocked('192.0.2.10')], // no TXT: the reply goes without a reason
  ['bl.example.org', '192.0.2.99', 'dunno'], // NXDOMAIN
  ['bl.example.org', '192.0.2.13', 'dunno'],
  ['bl.example.org', '2001:db8::bad', blocked('2001:db8::bad')],
  ['bl.example.org', '2001:db8::bae', 'dunno'],
  ['bl.example.org', '192.0.2.14', deferred('192.0.2.14')], // timeout
  ['bl.example.org', '192.0.2.15', deferred('192.0.2.15')], // SERVFAIL
  ['BL.Example.ORG.', '192.0.2.10', blocked('192.0.2.10')], // the zone is normalized
  // filters: only some codes count
  [
    'bl.example.org=127.0.0.2',
    '192.0.2.2',
    `${blocked('192.0.2.2')}; Listed for spam, see https://bl.example.org/?192.0.2.2`,
  ],
  ['bl.example.org=127.0.0.2', '192.0.2.10', 'dunno'],
  ['bl.example.org=127.0.0.[2..11]', '192.0.2.10', blocked('192.0.2.10')],
  ['bl.example.org=127.0.0.[3..9]', '192.0.2.10', 'dunno'],
  ['bl.example.org=127.0.0.[3;10]', '192.0.2.10', blocked('192.0.2.10')],
  ['bl.example.org=127.0.0.[3;10]', '192.0.2.2', 'dunno'],
  ['bl.example.org=127.0.[0..1].[1;5..12]', '192.0.2.10', blocked('192.0.2.10')],
  ['bl.example.org=127.0.0.10', '192.0.2.14', deferred('192.0.2.14')], // a filter does not hide a failure
  // 127.255.255.0/24 is the list refusing the query, the same for every address: not a listing.
  ['bl.example.org', '192.0.2.16', deferred('192.0.2.16')],
  ['bl.example.org', '192.0.2.17', deferred('192.0.2.17')],
  // a filter that does not name the error code: still a list that refused, said in the log
  ['bl.example.org=127.0.0.[2..11]', '192.0.2.16', deferred('192.0.2.16')],
  // asked for by name
  ['bl.example.org=127.255.255.254', '192.0.2.16', `${blocked('192.0.2.16')}; query refused: public resolver`],
  // 127.0.0.1 is no listing either (RFC 5782 §5: a list never holds it), but URIBL's "query blocked"
  ['bl.example.org', '192.0.2.18', deferred('192.0.2.18')],
  ['bl.example.org=127.0.0.[2..11]', '192.0.2.18', deferred('192.0.2.18')],
  ['bl.example.org=127.0.0.1', '192.0.2.18', blocked('192.0.2.18')], // asked for by name
];
for (const [args, ip, want] of clientCases) {
  test(`reject_rbl_client ${args} for ${ip} → ${want.slice(0, 10)}`, async () => {
    const rule = build(dnsblRules, 'reject_rbl_client', [args]);
    assert.equal(await run(rule, context(resolver, { stage: 'client', clientAddress: ip })), want);
  });
}

test('a list that does not answer says why it could not decide', async () => {
  const rule = build(dnsblRules, 'reject_rbl_client', ['bl.example.org']);
  const verdict = await rule.evaluate(context(resolver, { stage: 'client', clientAddress: '192.0.2.15' }));
  assert.equal(verdict.action, 'dunno');
  assert.match(
    (verdict.action === 'dunno' && verdict.undecided) || '',
    /^DNSBL bl\.example\.org: lookup of 15\.2\.0\.192\.bl\.example\.org failed: .+; taken as not listed$/,
  );
});

test('a list that refuses the query (127.255.255.x) says so', async () => {
  const rule = build(dnsblRules, 'reject_rbl_client', ['bl.example.org']);
  const verdict = await rule.evaluate(context(resolver, { stage: 'client', clientAddress: '192.0.2.16' }));
  assert.match(
    (verdict.action === 'dunno' && verdict.undecided) || '',
    /bl\.example\.org refused the query for 16\.2\.0\.192\.bl\.example\.org: 127\.255\.255\.254; taken as not listed$/,
  );
});

test('a list that blocks the query (127.0.0.1, URIBL_BLOCKED) says so, for a sender domain too', async () => {
  const client = build(dnsblRules, 'reject_rbl_client', ['bl.example.org']);
  const verdict = await client.evaluate(context(resolver, { stage: 'client', clientAddress: '192.0.2.18' }));
  assert.match(
    (verdict.action === 'dunno' && verdict.undecided) || '',
    /bl\.example\.org refused the query for 18\.2\.0\.192\.bl\.example\.org: 127\.0\.0\.1; taken as not listed$/,
  );
  const rhs = build(dnsblRules, 'reject_rhsbl_sender', ['dbl.example.org']);
  const ctx = context(resolver, { stage: 'sender', sender: path('user@blocked.example') });
  assert.equal(await run(rhs, ctx), 'undecided');
  const dbl = context(resolver, { stage: 'sender', sender: path('user@ipasdomain.example') });
  assert.equal(await run(rhs, dbl), 'undecided', "DBL's 127.0.1.255 is its error, not a listing");
});

test('the object form takes zone and match', async () => {
  const rule = build(dnsblRules, 'reject_rbl_client', [], { zone: 'bl.example.org', match: '127.0.0.10' });
  assert.equal(rule.label, 'reject_rbl_client bl.example.org=127.0.0.10');
  assert.equal(await run(rule, context(resolver, { clientAddress: '192.0.2.10' })), blocked('192.0.2.10'));
  assert.equal(await run(rule, context(resolver, { clientAddress: '192.0.2.2' })), 'dunno');
  const zoneOnly = build(dnsblRules, 'reject_rbl_client', [], { zone: 'bl.example.org' });
  assert.equal(zoneOnly.label, 'reject_rbl_client bl.example.org');
  const mixed = build(dnsblRules, 'reject_rbl_client', ['bl.example.org'], { match: '127.0.0.[2..3]' });
  assert.equal(mixed.label, 'reject_rbl_client bl.example.org=127.0.0.[2..3]');
});

test('the reversed address is what is asked, and the TXT of the same name', async () => {
  const rule = build(dnsblRules, 'reject_rbl_client', ['bl.example.org']);
  const start = server.queries.length;
  const verdict = await rule.evaluate(context(resolverFor(server, 0), { clientAddress: '192.0.2.2' }));
  const asked = server.queries.slice(start).map((q) => `${q.type} ${q.name.toLowerCase()}`);
  assert.deepEqual(asked.sort(), ['A 2.2.0.192.bl.example.org', 'TXT 2.2.0.192.bl.example.org']);
  assert.equal(verdict.action === 'reject' && verdict.reason.startsWith('192.0.2.2 is listed in bl.example.org'), true);
});

const badArguments: [args: string[], options: Record<string, unknown>, message: RegExp][] = [
  [[], {}, /reject_rbl_client needs a zone: reject_rbl_client zen\.example\.org/],
  [['bl.example.org', 'more'], {}, /takes one zone/],
  [['bl example'], {}, /not a DNS zone name/],
  [['=127.0.0.2'], {}, /not a DNS zone name/],
  [['bl.example.org=127.0.0'], {}, /bad filter "127\.0\.0"/],
  [['bl.example.org=127.0.0.[5..2]'], {}, /bad filter/],
  [['bl.example.org=127.0.0.256'], {}, /bad filter/],
  [['bl.example.org=127.0.0.2..4'], {}, /bad filter/],
  [['bl.example.org=127.0.0.[x]'], {}, /bad filter/],
  [['bl.example.org=127.0.0.2'], { match: '127.0.0.3' }, /filter once/],
  [['bl.example.org'], { zone: 'other.example.org' }, /zone once/],
  [[], { zone: 'bl.example.org', mtach: '127.0.0.2' }, /unknown option mtach/],
  [[], { zone: 5 }, /zone must be a string/],
];
for (const [args, options, message] of badArguments) {
  test(`reject_rbl_client ${JSON.stringify([args, options])} is refused`, () => {
    assert.throws(() => build(dnsblRules, 'reject_rbl_client', args, options), message);
  });
}

test('reject_rhsbl_sender without a zone is refused', () => {
  assert.throws(() => build(dnsblRules, 'reject_rhsbl_sender'), /reject_rhsbl_sender needs a zone/);
});

const sender = (address: string) => `Service unavailable; Sender address [${address}] blocked using dbl.example.org`;
const senderCases: [mailbox: string | null, want: string][] = [
  ['user@spam.example', `554 5.7.1 ${sender('user@spam.example')}; Domain listed`],
  ['user@SPAM.example', `554 5.7.1 ${sender('user@spam.example')}; Domain listed`],
  ['user@bücher.example', `554 5.7.1 ${sender('user@bücher.example')}`], // asked as the A-label
  ['user@clean.example', 'dunno'],
  [null, 'dunno'], // the null sender has no domain
  ['user@[192.0.2.2]', 'dunno'], // an address literal has no domain either
  ['user@slow.example', 'undecided'], // a timeout: not listed, with a warning
];
for (const [mailbox, want] of senderCases) {
  test(`reject_rhsbl_sender for ${mailbox ?? '<>'} → ${want.slice(0, 10)}`, async () => {
    const rule = build(dnsblRules, 'reject_rhsbl_sender', ['dbl.example.org']);
    const ctx = context(resolver, { stage: 'sender', sender: mailbox === null ? null : path(mailbox) });
    assert.equal(await run(rule, ctx), want);
  });
}

test('reject_rhsbl_sender filters as reject_rbl_client does', async () => {
  const ctx = context(resolver, { stage: 'sender', sender: path('user@spam.example') });
  const other = build(dnsblRules, 'reject_rhsbl_sender', ['dbl.example.org=127.0.1.3']);
  assert.equal(await run(other, ctx), 'dunno');
  const same = build(dnsblRules, 'reject_rhsbl_sender', ['dbl.example.org=127.0.1.[1..3]']);
  assert.equal(await run(same, ctx), `554 5.7.1 ${sender('user@spam.example')}; Domain listed`);
});

test('reject_rhsbl_sender before MAIL FROM has nothing to say', async () => {
  const rule = build(dnsblRules, 'reject_rhsbl_sender', ['dbl.example.org']);
  assert.equal(await run(rule, context(resolver, { stage: 'helo' })), 'dunno');
});

test('a sender domain too long to sit under the zone is listed nowhere, and not asked', async () => {
  const rule = build(dnsblRules, 'reject_rhsbl_sender', ['dbl.example.org']);
  const long = `user@${Array(4).fill('a'.repeat(60)).join('.')}`; // 243 + 16 octets of zone > 253
  const start = server.queries.length;
  assert.equal(await run(rule, context(resolver, { stage: 'sender', sender: path(long) })), 'dunno');
  assert.equal(server.queries.length, start);
});
