import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heloRules } from '../../../src/policy/rules/helo.ts';
import { build, context, run, startDns } from './context.ts';

const { resolver } = await startDns({
  records: {
    'a-only.example.net': { A: ['192.0.2.1'] },
    'win_host.example.net': { A: ['192.0.2.3'] }, // DNS holds "_" (RFC 2181 §11)
    'aaaa-only.example.net': { AAAA: ['2001:db8::1'] },
    'mx-only.example.net': { MX: [{ priority: 10, exchange: 'mail.example.net' }] },
    'txt-only.example.net': { TXT: ['v=spf1 -all'] },
    'half-slow.example.net': { A: ['192.0.2.2'] },
    'xn--bcher-kva.example.net': { A: ['192.0.2.3'] },
  },
  timeout: ['slow.example.net', 'half-slow.example.net/AAAA'],
  servfail: ['broken.example.net'],
});

const at = (helo: string | undefined, clientAddress = '203.0.113.5') => context(resolver, { helo, clientAddress });

const invalid = build(heloRules, 'reject_invalid_helo_hostname');
const invalidReply = (helo: string) => `501 5.5.2 <${helo}>: Helo command rejected: Invalid name`;
const syntaxCases: [helo: string, valid: boolean][] = [
  ['mail.example.com', true],
  ['localhost', true], // a Domain, if not a useful one
  ['MAIL-1.Example.COM', true],
  ['bücher.example', true], // RFC 6531 §3.3: a U-label
  ['[192.0.2.1]', true], // RFC 5321 §4.1.3 address literals
  ['[IPv6:2001:db8::1]', true],
  ['mail_server.example.com', true], // lenient by default: Windows hosts use "_"
  ['_mail.example.com', true], // Postfix's valid_hostname() takes "_" as a letter, at a label's ends too
  ['mail_.example.com', true],
  ['_.example.com', true],
  ['_-x.example.com', true],
  ['x_-.example.com', false], // a hyphen still may not end a label
  ['-mail.example.com', false],
  ['mail-.example.com', false],
  ['mail..example.com', false],
  ['mail.example.com.', true], // a trailing dot names the DNS root: harmless
  [`${'a'.repeat(64)}.example.com`, false], // label over 63
  [`${'a'.repeat(63)}.`.repeat(4) + 'com', false], // 260 octets
  // RFC 5321 §4.1.3 wants brackets, but Postfix takes a bare address ("XXX back compat" in smtpd_check.c)
  ['192.0.2.1', true],
  ['2001:db8::1', true],
  ['::ffff:192.0.2.1', true],
  ['192.0.2.256', false], // neither an address nor, all-numeric, a name
  ['192.0.2', false],
  ['fe80::1%eth0', false], // a zone index: Postfix's valid_hostaddr() refuses it
  ['[192.0.2.256]', false],
  ['[mail.example.com]', false],
  ['mail example.com', false],
  ['', false],
];
for (const [helo, valid] of syntaxCases) {
  test(`reject_invalid_helo_hostname "${helo.slice(0, 40)}" → ${valid ? 'dunno' : '501'}`, async () => {
    assert.equal(await run(invalid, at(helo)), valid ? 'dunno' : invalidReply(helo));
  });
}

const fqdn = build(heloRules, 'reject_non_fqdn_helo_hostname');
const fqdnCases: [helo: string, ok: boolean][] = [
  ['mail.example.com', true],
  ['bücher.example', true],
  ['[192.0.2.1]', true],
  ['[IPv6:2001:db8::1]', true],
  ['localhost', false],
  ['mail', false],
  ['mail.example.com.', true], // Postfix strips one trailing dot (smtpd_check.c) before it checks
  ['mail.', false],
  ['192.0.2.1', false], // dots, but an address, not a domain (Postfix refuses it here too)
  ['2001:db8::1', false],
  ['mail_server.example.com', true], // Postfix's valid_hostname() takes "_" (Windows hosts use it)
  ['host_.example.com', true],
  ['_host', false], // one label, so not fully qualified
];
for (const [helo, ok] of fqdnCases) {
  test(`reject_non_fqdn_helo_hostname "${helo}" → ${ok ? 'dunno' : '504'}`, async () => {
    const want = ok ? 'dunno' : `504 5.5.2 <${helo}>: Helo command rejected: need fully-qualified hostname`;
    assert.equal(await run(fqdn, at(helo)), want);
  });
}

const unknown = build(heloRules, 'reject_unknown_helo_hostname');
const notFound = (helo: string, code = '550 5.7.1') => `${code} <${helo}>: Helo command rejected: Host not found`;
const dnsCases: [helo: string, want: string][] = [
  ['a-only.example.net', 'dunno'],
  ['win_host.example.net', 'dunno'], // asked for as it is, not refused unasked
  ['other_host.example.net', notFound('other_host.example.net')],
  ['aaaa-only.example.net', 'dunno'],
  ['mx-only.example.net', 'dunno'],
  ['A-Only.Example.NET.', 'dunno'], // case and the root dot do not matter to DNS
  ['bücher.example.net', 'dunno'], // asked as the A-label
  ['half-slow.example.net', 'dunno'], // an answer settles it though the AAAA lookup timed out
  ['[192.0.2.1]', 'dunno'], // nothing to look up
  ['txt-only.example.net', notFound('txt-only.example.net')], // NODATA for all three
  ['missing.example.net', notFound('missing.example.net')], // NXDOMAIN
  ['not a name', notFound('not a name')], // refused without asking DNS
  ['slow.example.net', notFound('slow.example.net', '450 4.7.1')], // timeout
  ['broken.example.net', notFound('broken.example.net', '450 4.7.1')], // SERVFAIL
];
for (const [helo, want] of dnsCases) {
  test(`reject_unknown_helo_hostname "${helo}" → ${want.slice(0, 9)}`, async () => {
    assert.equal(await run(unknown, at(helo)), want);
  });
}

test('reject_unknown_helo_hostname says which lookup failed', async () => {
  const verdict = await unknown.evaluate(at('slow.example.net'));
  assert.match(verdict.action === 'reject' ? verdict.reason : '', /HELO slow\.example\.net: ETIMEOUT/);
  const missing = await unknown.evaluate(at('missing.example.net'));
  assert.equal(missing.action === 'reject' && missing.reason, 'HELO missing.example.net has no A, AAAA or MX record');
});

// SERVER (context.ts): mx.example.com, local domains example.com and xn--bcher-kva.example,
// addresses 192.0.2.25 and 2001:db8::25, mynetworks 198.51.100.1.
const own = build(heloRules, 'reject_helo_own_identity');
const notMe = (helo: string) => `550 5.7.1 <${helo}>: Helo command rejected: you are not me`;
const ownCases: [helo: string, client: string, want: string][] = [
  ['mx.example.com', '203.0.113.5', notMe('mx.example.com')],
  ['MX.Example.COM.', '203.0.113.5', notMe('MX.Example.COM.')],
  ['example.com', '203.0.113.5', notMe('example.com')],
  ['bücher.example', '203.0.113.5', notMe('bücher.example')], // a local domain as its U-label
  ['[192.0.2.25]', '203.0.113.5', notMe('[192.0.2.25]')],
  ['192.0.2.25', '203.0.113.5', notMe('192.0.2.25')],
  ['2001:db8::25', '203.0.113.5', notMe('2001:db8::25')], // bare, as reject_invalid_helo_hostname now lets through
  ['198.51.100.25', '203.0.113.5', notMe('198.51.100.25')],
  ['192.0.2.26', '203.0.113.5', 'dunno'],
  ['[IPv6:2001:DB8:0::25]', '203.0.113.5', notMe('[IPv6:2001:DB8:0::25]')],
  ['mx.example.com', '2001:db8:1::5', notMe('mx.example.com')], // an IPv6 stranger
  ['mx.example.com', '198.51.100.1', 'dunno'], // our own network may
  ['[192.0.2.25]', '198.51.100.1', 'dunno'],
  ['mail.example.net', '203.0.113.5', 'dunno'],
  ['sub.example.com', '203.0.113.5', 'dunno'], // a name in our domain is not our domain
  ['[192.0.2.26]', '203.0.113.5', 'dunno'],
  ['[IPv6:2001:db8::26]', '203.0.113.5', 'dunno'],
  ['[198.51.100.25]', '203.0.113.5', notMe('[198.51.100.25]')], // the address the client connected to
  ['[IPv6:::ffff:192.0.2.25]', '203.0.113.5', notMe('[IPv6:::ffff:192.0.2.25]')], // ours, IPv4-mapped
  ['localhost', '203.0.113.5', notMe('localhost')], // RFC 6761 §6.3: never a remote client's name
  ['localhost.localdomain', '203.0.113.5', notMe('localhost.localdomain')],
  ['localhost', '127.0.0.1', 'dunno'], // our own network may
  ['localhost', '127.0.0.2', 'dunno'], // and a program on this machine, over loopback
  ['[198.51.100.25]', '198.51.100.25', 'dunno'], // a client naming its own address (ours too, over loopback)
];
for (const [helo, client, want] of ownCases) {
  test(`reject_helo_own_identity "${helo}" from ${client} → ${want.slice(0, 9)}`, async () => {
    assert.equal(await run(own, at(helo, client)), want);
  });
}

test('reject_helo_own_identity explains the claim', async () => {
  const verdict = await own.evaluate(at('[192.0.2.25]'));
  assert.equal(
    verdict.action === 'reject' && verdict.reason,
    'HELO [192.0.2.25] claims our address 192.0.2.25 but the client 203.0.113.5 is not in mynetworks',
  );
});

test('before HELO every rule has nothing to say', async () => {
  for (const name of Object.keys(heloRules)) {
    assert.equal(await run(build(heloRules, name), at(undefined)), 'dunno', name);
  }
});

test('the syntax checks answer without waiting', () => {
  for (const rule of [invalid, fqdn]) assert.ok(!(rule.evaluate(at('mail')) instanceof Promise), rule.name);
});

test('the factories take no arguments', () => {
  for (const name of Object.keys(heloRules)) {
    assert.throws(() => build(heloRules, name, ['x']), new RegExp(`${name} takes no arguments`));
  }
  assert.deepEqual(Object.keys(heloRules).sort(), [
    'reject_helo_own_identity',
    'reject_invalid_helo_hostname',
    'reject_non_fqdn_helo_hostname',
    'reject_unknown_helo_hostname',
  ]);
});
