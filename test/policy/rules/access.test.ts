import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Resolver } from '../../../src/dns/resolver.ts';
import { buildList } from '../../../src/policy/registry.ts';
import type { ClientHostname } from '../../../src/policy/rules/client.ts';
import type { Path } from '../../../src/smtp/path.ts';
import { context, noDns, outcome, path, rule } from './access-context.ts';

const denied = (who: string, what: string, text = 'Access denied') => `<${who}>: ${what} rejected: ${text}`;

// access(5): an address beats a network, a longer prefix a shorter one (cidr_table(5) order).
const client = rule('check_client_access', {
  map: {
    '192.0.2.1': 'OK',
    '192.0.2.0/24': 'REJECT net24',
    '192.0.2.0/28': 'DEFER net28',
    '198.51': '550 5.7.1 partial', // access(5) "net.work": 198.51.0.0/16
    '2001:db8::/32': 'REJECT v6',
    '2001:db8::25': 'OK',
    '203.0.113.0/24': 'DUNNO', // found: stops the lookup before the name
    '.example.net': 'REJECT sub',
    'mail.example.org': 'REJECT host',
  },
});

const clientCases: [ip: string, hostname: string | undefined, want: string][] = [
  ['192.0.2.1', undefined, 'permit'],
  ['192.0.2.5', undefined, `450 4.7.1 ${denied('192.0.2.5', 'Client host', 'net28')}`],
  ['192.0.2.100', undefined, `554 5.7.1 ${denied('192.0.2.100', 'Client host', 'net24')}`],
  ['::ffff:192.0.2.100', undefined, `554 5.7.1 ${denied('::ffff:192.0.2.100', 'Client host', 'net24')}`],
  ['198.51.100.1', undefined, `550 5.7.1 ${denied('198.51.100.1', 'Client host', 'partial')}`],
  ['2001:DB8:0::25', undefined, 'permit'],
  ['2001:db8::26', undefined, `554 5.7.1 ${denied('2001:db8::26', 'Client host', 'v6')}`],
  ['203.0.113.9', 'host.example.net', 'dunno'],
  ['198.18.0.1', 'host.example.net', `554 5.7.1 ${denied('host.example.net[198.18.0.1]', 'Client host', 'sub')}`],
  ['198.18.0.1', 'a.b.example.net', `554 5.7.1 ${denied('a.b.example.net[198.18.0.1]', 'Client host', 'sub')}`],
  ['198.18.0.1', 'example.net', 'dunno'], // .example.net is for subdomains only
  ['198.18.0.1', 'MAIL.example.org', `554 5.7.1 ${denied('MAIL.example.org[198.18.0.1]', 'Client host', 'host')}`],
  ['198.18.0.1', 'a.mail.example.org', 'dunno'], // parent_domain_matches_subdomains off
];
for (const [ip, hostname, want] of clientCases) {
  test(`check_client_access ${ip} ${hostname ?? ''} → ${want.slice(0, 10)}`, async () => {
    const memo = new Map<string, unknown>(hostname ? [['client.hostname', hostname]] : []);
    assert.equal(await outcome(client, context({ clientAddress: ip, memo })), want);
  });
}

const confirmed = (name?: string): ClientHostname => ({ name, temporary: false, reverse: [], reason: 'test' });

test('check_client_access uses the hostname the client-name rules verified', async () => {
  const memo = new Map<string, unknown>([['client.hostname', Promise.resolve(confirmed('x.example.net'))]]);
  assert.match(await outcome(client, context({ clientAddress: '198.18.0.1', memo })), /^554 .*: sub$/);
  const unverified = new Map<string, unknown>([['client.hostname', Promise.resolve(confirmed())]]);
  assert.equal(await outcome(client, context({ clientAddress: '198.18.0.1', memo: unverified })), 'dunno');
});

test('check_client_access with name keys defers when the name is unknown for a DNS failure, not skips them', async () => {
  // A host the map rejects by name must not get past it by making its reverse zone time out: before,
  // the name keys were skipped in silence and the client went on as unlisted.
  const timedOut = (ptr: boolean): Resolver => ({
    ...noDns,
    ptr: async () =>
      ptr ? { ok: false, error: 'temperror', reason: 'ETIMEOUT' } : { ok: true, records: ['host.example.net.'] },
    a: async () => ({ ok: false, error: 'temperror', reason: 'ETIMEOUT' }),
  });
  for (const ptr of [true, false]) {
    const answer = await outcome(client, context({ clientAddress: '198.18.0.1', resolver: timedOut(ptr) }));
    assert.match(
      answer,
      /^450 4\.7\.25 Client host rejected: cannot find your hostname \(a temporary DNS failure\), \[198\.18\.0\.1\]/,
    );
  }
  // An address entry still decides first, and a client with no name at all (no PTR) is only unlisted.
  assert.equal(await outcome(client, context({ clientAddress: '192.0.2.1', resolver: timedOut(true) })), 'permit');
  const noPtr: Resolver = { ...noDns, ptr: async () => ({ ok: false, error: 'nxdomain' }) };
  assert.equal(await outcome(client, context({ clientAddress: '198.18.0.1', resolver: noPtr })), 'dunno');
});

test('check_client_access whose name keys only let clients through does not defer on a DNS failure', async () => {
  // Postfix matches such keys against "unknown" and goes on; deferring here delayed every client with a
  // slow reverse zone because a partner was listed by name.
  const allowList = rule('check_client_access', {
    map: { 'mx.partner.example': 'OK', '.relay.example': 'DUNNO', 'old.example': 'WARN try' },
  });
  const timedOut: Resolver = { ...noDns, ptr: async () => ({ ok: false, error: 'temperror', reason: 'ETIMEOUT' }) };
  assert.equal(await outcome(allowList, context({ clientAddress: '198.18.0.1', resolver: timedOut })), 'dunno');
  // One refusing name key is enough to defer again.
  const mixed = rule('check_client_access', { map: { 'mx.partner.example': 'OK', 'bad.example': 'DEFER later' } });
  assert.match(await outcome(mixed, context({ clientAddress: '198.18.0.1', resolver: timedOut })), /^450 4\.7\.25 /);
});

test('check_client_access looks the name up once when no rule has, and shares it', async () => {
  const lookups: string[] = [];
  const resolver: Resolver = {
    ...noDns,
    ptr: async (address) => {
      lookups.push(`PTR ${address}`);
      return { ok: true, records: ['host.example.net.'] };
    },
    a: async (name) => {
      lookups.push(`A ${name}`);
      return { ok: true, records: ['198.18.0.1'] };
    },
  };
  const ctx = context({ clientAddress: '198.18.0.1', resolver });
  assert.match(await outcome(client, ctx), /^554 .*: sub$/);
  assert.match(await outcome(client, ctx), /^554 .*: sub$/);
  assert.deepEqual(lookups, ['PTR 198.18.0.1', 'A host.example.net']);
});

test('check_client_access without name keys never asks DNS', async () => {
  const ipOnly = rule('check_client_access', { map: { '192.0.2.0/24': 'REJECT' } });
  assert.equal(await outcome(ipOnly, context({ clientAddress: '198.18.0.1', resolver: noDns })), 'dunno');
});

// smtpd_check.c check_mail_access: user@domain, then domain and .parents, then user@.
const sender = rule('check_sender_access', {
  map: {
    'spammer@example.com': 'REJECT',
    'friend@example.com': 'DUNNO',
    'example.com': 'REJECT domain',
    '.example.net': 'REJECT parent',
    'postmaster@': 'OK',
    '<>': 'DEFER no bounces', // smtpd_null_access_lookup_key
    'Boss@Example.ORG': 'OK',
    'bücher.example': 'REJECT idn',
    '[192.0.2.1]': 'REJECT literal',
  },
});
const senderCases: [sender: string | null | undefined, want: string][] = [
  ['spammer@example.com', `554 5.7.1 ${denied('spammer@example.com', 'Sender address')}`],
  ['Spammer@EXAMPLE.com', `554 5.7.1 ${denied('Spammer@example.com', 'Sender address')}`],
  ['friend@example.com', 'dunno'], // DUNNO on the address: the domain is not tried
  ['other@example.com', `554 5.7.1 ${denied('other@example.com', 'Sender address', 'domain')}`],
  ['postmaster@example.com', `554 5.7.1 ${denied('postmaster@example.com', 'Sender address', 'domain')}`],
  ['postmaster@example.org', 'permit'], // user@ last
  ['a@sub.example.com', 'dunno'],
  ['a@example.net', 'dunno'],
  ['a@deep.sub.example.net', `554 5.7.1 ${denied('a@deep.sub.example.net', 'Sender address', 'parent')}`],
  ['boss@example.org', 'permit'],
  ['a@xn--bcher-kva.example', `554 5.7.1 ${denied('a@xn--bcher-kva.example', 'Sender address', 'idn')}`],
  // The reply echoes the A-label: reply text is ASCII (RFC 5321 §4.2.1), where a U-label would be "?".
  ['a@BÜCHER.example', `554 5.7.1 ${denied('a@xn--bcher-kva.example', 'Sender address', 'idn')}`],
  ['a@[192.0.2.1]', `554 5.7.1 ${denied('a@[192.0.2.1]', 'Sender address', 'literal')}`],
  [null, `450 4.7.1 ${denied('', 'Sender address', 'no bounces')}`],
  [undefined, 'dunno'], // no MAIL FROM yet
];
for (const [from, want] of senderCases) {
  test(`check_sender_access ${from === null ? '<>' : from} → ${want.slice(0, 10)}`, async () => {
    const ctx = context({ sender: typeof from === 'string' ? path(from) : from });
    assert.equal(await outcome(sender, ctx), want);
  });
}

test('check_recipient_access: address, domain, user@; domain-less <postmaster>', async () => {
  const recipient = rule('check_recipient_access', {
    map: { 'abuse@': 'OK', 'example.com': '550 5.1.1 gone', 'postmaster@': 'OK' },
  });
  const check = (to: Path | undefined) => outcome(recipient, context({ recipient: to }));
  assert.equal(
    await check(path('abuse@example.com')),
    `550 5.1.1 ${denied('abuse@example.com', 'Recipient address', 'gone')}`,
  );
  assert.equal(await check(path('abuse@example.org')), 'permit');
  assert.equal(await check(path('bob@example.org')), 'dunno');
  assert.equal(await check({ localPart: 'postmaster', domain: '', address: 'postmaster', utf8: false }), 'permit');
  assert.equal(await check(undefined), 'dunno');
});

test('WARN and INFO decide nothing but carry their text for the log (access(5))', async () => {
  const check = rule('check_sender_access', {
    map: { 'a@example.net': 'WARN trying a block', 'b@example.net': 'INFO' },
  });
  const warned = await check.evaluate(context({ sender: path('a@example.net') }));
  assert.deepEqual(warned, {
    action: 'dunno',
    note: {
      level: 'warn',
      text: '<a@example.net> matched "a@example.net" WARN (check_sender_access map, key "a@example.net"): trying a block',
    },
  });
  const informed = await check.evaluate(context({ sender: path('b@example.net') }));
  assert.equal(informed.action === 'dunno' && informed.note?.level, 'info');
});

test('check_sender/recipient_access: every spelling that reaches a mailbox meets its key (quoted, <Postmaster>)', async () => {
  const map = {
    'old-user@example.com': 'REJECT moved away',
    'spammer@good.example': 'REJECT go away',
    'postmaster@example.com': 'OK',
  };
  const recipient = rule('check_recipient_access', { map });
  const senderRule = rule('check_sender_access', { map });
  const to = (address: string | Path) =>
    outcome(recipient, context({ recipient: typeof address === 'string' ? path(address) : address }));
  for (const spelling of ['old-user@example.com', '"old-user"@example.com', '"old\\-user"@example.com']) {
    assert.match(await to(spelling), /moved away$/, spelling);
  }
  // RFC 5321 §4.1.1.3 and §4.5.1: <Postmaster> and postmaster@<host name> are the postmaster's mailbox.
  assert.equal(await to({ localPart: 'Postmaster', domain: '', address: 'Postmaster', utf8: false }), 'permit');
  assert.equal(await to('postmaster@mx.example.com'), 'permit');
  assert.equal(await to('"postmaster"@example.com'), 'permit');
  for (const spelling of ['spammer@good.example', '"spammer"@good.example', '"sp\\ammer"@GOOD.example']) {
    assert.match(await outcome(senderRule, context({ sender: path(spelling) })), /go away$/, spelling);
  }
});

test('check_recipient_access: postmaster@ another of our domains meets the key of the postmaster it falls back to', async () => {
  // RFC 5321 §4.5.1: postmaster@bücher.example without an account of its own is delivered to
  // postmaster@example.com (the first domain's), so that mailbox's key is its key.
  const server = { ...context().server, localDomains: new Set(['example.com', 'xn--bcher-kva.example']) };
  const to = (map: Record<string, string>, address: string) =>
    outcome(rule('check_recipient_access', { map }), context({ server, recipient: path(address) }));
  const pmKey = { 'postmaster@example.com': 'REJECT pm key' };
  assert.equal(
    await to(pmKey, 'postmaster@bücher.example'),
    `554 5.7.1 ${denied('postmaster@xn--bcher-kva.example', 'Recipient address', 'pm key')}`,
  );
  assert.match(await to(pmKey, 'PostMaster@xn--bcher-kva.example'), /pm key$/);
  assert.match(await to(pmKey, 'postmaster@mx.example.com'), /pm key$/);
  // A key of its own is asked first; a domain that is not ours falls back to nothing.
  assert.equal(await to({ ...pmKey, 'postmaster@bücher.example': 'OK' }, 'postmaster@bücher.example'), 'permit');
  assert.equal(await to(pmKey, 'postmaster@example.org'), 'dunno');
  // The fallback's mailbox key is more specific than the domain's.
  assert.match(await to({ ...pmKey, 'bücher.example': 'OK' }, 'postmaster@bücher.example'), /pm key$/);
  assert.equal(await to(pmKey, 'other@bücher.example'), 'dunno');
});

test('check_recipient_access: a key meets ASCII case only: U+212A KELVIN SIGN is no "k" (as accounts)', async () => {
  const recipient = rule('check_recipient_access', { map: { 'kate@example.com': 'REJECT kate key' } });
  const to = (address: string) => outcome(recipient, context({ recipient: path(address) }));
  assert.match(await to('KATE@example.com'), /kate key$/);
  assert.equal(await to('\u212Aate@example.com'), 'dunno');
  assert.equal(await to('"\u212Aate"@example.com'), 'dunno');
});

test('a refusal echoes a U-label domain as its A-label (RFC 5321 §4.2.1: reply text is ASCII)', async () => {
  const recipient = rule('check_recipient_access', { map: { 'xn--e1afmkfd.xn--p1ai': 'REJECT idn' } });
  assert.equal(
    await outcome(recipient, context({ recipient: path('dave@пример.рф') })),
    `554 5.7.1 ${denied('dave@xn--e1afmkfd.xn--p1ai', 'Recipient address', 'idn')}`,
  );
});

test('check_helo_access: the name, its .parents, literals, a trailing dot', async () => {
  const helo = rule('check_helo_access', {
    map: { localhost: 'REJECT you are not me', '.example.com': 'REJECT forged', '[192.0.2.1]': 'REJECT literal' },
  });
  const check = (name: string | undefined) => outcome(helo, context({ helo: name }));
  assert.equal(await check('localhost'), `554 5.7.1 ${denied('localhost', 'Helo command', 'you are not me')}`);
  assert.equal(await check('LOCALHOST.'), `554 5.7.1 ${denied('LOCALHOST.', 'Helo command', 'you are not me')}`);
  assert.match(await check('mx.example.com'), /forged$/);
  assert.equal(await check('example.com'), 'dunno');
  assert.match(await check('[192.0.2.1]'), /literal$/);
  assert.equal(await check(undefined), 'dunno');
});

test('check_helo_access: an address matches in any spelling, literal or bare (RFC 5952 §4, RFC 5321 §4.1.3)', async () => {
  const helo = rule('check_helo_access', {
    map: { '[IPv6:2001:db8::1]': 'REJECT v6 literal', '2001:db8::2': 'REJECT v6 bare', '192.0.2.9': 'REJECT v4 bare' },
  });
  const check = (name: string) => outcome(helo, context({ helo: name }));
  for (const spelling of [
    '[IPv6:2001:db8::1]',
    '[IPv6:2001:db8:0::1]',
    '[ipv6:2001:0DB8::0001]',
    '[IPv6:2001:db8:0:0:0:0:0:1]',
  ]) {
    assert.match(await check(spelling), /v6 literal$/, spelling);
  }
  assert.match(await check('[IPv6:2001:db8::2]'), /v6 bare$/, 'a bare key matches the literal');
  assert.match(await check('[192.0.2.9]'), /v4 bare$/);
  // RFC 4291 §2.5.5.2: the IPv4-mapped literal is the IPv4 host, in either spelling.
  assert.match(await check('[IPv6:::ffff:192.0.2.9]'), /v4 bare$/);
  assert.match(await check('[IPv6:::FFFF:c000:209]'), /v4 bare$/);
  assert.equal(await check('[IPv6:2001:db8::3]'), 'dunno');
});

// smtpd_check.c check_table_result; access_map_reject_code 554, access_map_defer_code 450.
const actions: [action: string, want: string][] = [
  ['OK', 'permit'],
  ['ok trailing text is ignored', 'permit'],
  ['PERMIT', 'permit'],
  ['RELAY', 'permit'],
  ['DUNNO', 'dunno'],
  ['WARN listed locally', 'dunno'], // Postfix logs it and goes on
  ['INFO', 'dunno'],
  ['REJECT', `554 5.7.1 ${denied('192.0.2.1', 'Client host')}`],
  ['reject Go away', `554 5.7.1 ${denied('192.0.2.1', 'Client host', 'Go away')}`],
  ['REJECT 5.7.26 spoofed', `554 5.7.26 ${denied('192.0.2.1', 'Client host', 'spoofed')}`],
  ['DEFER', `450 4.7.1 ${denied('192.0.2.1', 'Client host')}`],
  ['Defer try later', `450 4.7.1 ${denied('192.0.2.1', 'Client host', 'try later')}`],
  ['550 go away', `550 5.7.1 ${denied('192.0.2.1', 'Client host', 'go away')}`],
  ['550 5.1.1 no such user', `550 5.1.1 ${denied('192.0.2.1', 'Client host', 'no such user')}`],
  ['421 4.7.0 closing', `421 4.7.0 ${denied('192.0.2.1', 'Client host', 'closing')}`],
  ['451 busy', `451 4.7.1 ${denied('192.0.2.1', 'Client host', 'busy')}`],
];
for (const [action, want] of actions) {
  test(`action "${action}" → ${want.slice(0, 10)}`, async () => {
    const r = rule('check_client_access', { map: { '192.0.2.1': action } });
    assert.equal(await outcome(r, context()), want);
  });
}

const badActions: [action: string, message: RegExp][] = [
  ['FILTER smtp:[127.0.0.1]:10025', /unknown action "FILTER/],
  ['DISCARD', /unknown action "DISCARD"/],
  ['reject_unknown_client_hostname', /unknown action/], // restriction classes are not supported
  ['', /unknown action ""/],
  ['250 fine', /unknown action "250 fine"/],
  ['550', /a reply code needs a text/], // Postfix would read a bare number as OK
  ['600 no', /unknown action/],
  ['REJECT 4.7.1 text', /enhanced code 4\.7\.1 does not match reply code 554/],
  ['550 4.1.1 text', /does not match reply code 550/],
];
for (const [action, message] of badActions) {
  test(`refuses action "${action}", naming the key`, () => {
    assert.throws(
      () => rule('check_client_access', { map: { '192.0.2.9': action } }),
      (error: Error) => {
        assert.match(error.message, message);
        assert.match(error.message, /check_client_access map, key "192\.0\.2\.9"/);
        return true;
      },
    );
  });
}

const badKeys: [name: string, key: string, message: RegExp][] = [
  ['check_client_access', 'a key', /cannot be empty or contain spaces/],
  ['check_client_access', '2001:db8', /not an IP address, network, host name/],
  ['check_client_access', '192.0.2.1/24', /did you mean 192\.0\.2\.0\/24/],
  ['check_client_access', 'bad_name.example', /not an IP address, network, host name/],
  ['check_sender_access', '@example.com', /write the domain without @/],
  ['check_sender_access', 'user@bad_domain', /not a domain/],
  ['check_recipient_access', '<>', /only applies to senders/],
  ['check_helo_access', 'a@example.com', /not a host name/],
];
for (const [name, key, message] of badKeys) {
  test(`${name} refuses key "${key}"`, () => assert.throws(() => rule(name, { map: { [key]: 'OK' } }), message));
}

test('a key written twice (any case, or as a network and a truncated address) is refused', () => {
  assert.throws(
    () => rule('check_sender_access', { map: { 'Example.com': 'OK', 'example.com': 'REJECT' } }),
    /repeats/,
  );
  assert.throws(() => rule('check_client_access', { map: { '192.0.2.0/24': 'OK', '192.0.2': 'REJECT' } }), /repeats/);
});

const badSpecs: [options: Record<string, unknown>, args: string[], message: RegExp][] = [
  [{}, [], /needs map: \{ "<key>": "<action>" \} or file/],
  [{ map: {}, file: '/x' }, [], /not both/],
  [{ map: 'REJECT' }, [], /needs map/],
  [{ map: { 'example.com': 5 } }, [], /must be a string/],
  [{}, ['/a', '/b'], /takes one file path/],
  [{ file: 'hash:/etc/postfix/access' }, [], /Postfix table types are not supported/],
  [{ file: '/nonexistent/postern-access' }, [], /cannot read \/nonexistent\/postern-access/],
];
for (const [options, args, message] of badSpecs) {
  test(`refuses ${JSON.stringify(options)} ${args.join(' ')}`, () => {
    assert.throws(() => rule('check_sender_access', options, args), message);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'postern-access-'));
function file(name: string, text: string): string {
  const at = join(dir, name);
  writeFileSync(at, text);
  return at;
}

test('file form: comments, blank lines, continuation lines, read once', async () => {
  const at = file('client_access', '# our list\n\n192.0.2.1   OK\n192.0.2.0/24 REJECT\n   listed on our own list\n');
  const r = rule('check_client_access', { file: at });
  writeFileSync(at, '192.0.2.7 OK\n'); // read at construction: a later change does not count
  assert.equal(r.label, `check_client_access ${at}`);
  assert.equal(await outcome(r, context()), 'permit');
  const verdict = await r.evaluate(context({ clientAddress: '192.0.2.7' }));
  assert.equal(verdict.action, 'reject');
  assert.equal(
    verdict.action === 'reject' && verdict.reply.lines[0],
    denied('192.0.2.7', 'Client host', 'listed on our own list'),
  );
  assert.match(verdict.action === 'reject' ? verdict.reason : '', /client_access:4/);
  assert.equal(rule('check_client_access', {}, [at]).label, `check_client_access ${at}`); // string form
});

test('file form: a bad line is named by file and line', () => {
  const cases: [text: string, message: RegExp][] = [
    ['# list\n192.0.2.1 OK\nlonelykey\n', /bad1:3: "lonelykey" has no action/],
    ['192.0.2.1 OK\n\n\n192.0.2.2 FILTER x:y\n', /bad2:4: unknown action "FILTER x:y"/],
    ['  indented first\n', /bad3:1: a continuation line/],
    [
      '192.0.2.1 OK\nexample.com REJECT\n192.0.2.1 REJECT\n',
      /bad4:3: "192\.0\.2\.1" repeats "192\.0\.2\.1" of .*bad4:1/,
    ],
  ];
  cases.forEach(([text, message], i) => {
    const at = file(`bad${i + 1}`, text);
    assert.throws(() => rule('check_client_access', { file: at }), message);
  });
});

test('two inline maps of one stage have labels of their own (their rows in postern stats, their rule in the log)', () => {
  const list = buildList(
    'sender',
    [
      { rule: 'check_sender_access', map: { 'a@example.net': 'REJECT' } },
      'reject_non_fqdn_sender',
      { rule: 'check_sender_access', map: { 'b@example.net': 'REJECT' } },
    ],
    {},
  );
  const labels = list.entries.map((entry) => entry.restriction.label);
  assert.deepEqual(labels, [
    'check_sender_access (inline map at restrictions.sender[0])',
    'reject_non_fqdn_sender',
    'check_sender_access (inline map at restrictions.sender[2])',
  ]);
});
