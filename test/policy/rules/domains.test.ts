import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PolicyContext } from '../../../src/policy/restriction.ts';
import { domainRules } from '../../../src/policy/rules/domains.ts';
import { build, context, path, run, startDns } from './context.ts';

const { server, resolver } = await startDns({
  records: {
    'mx-only.example.net': { MX: [{ priority: 10, exchange: 'mail.example.net' }] },
    'a-only.example.net': { A: ['192.0.2.1'] },
    'aaaa-only.example.net': { AAAA: ['2001:db8::1'] },
    'null-mx.example.net': { MX: [{ priority: 0, exchange: '.' }], A: ['192.0.2.2'] }, // RFC 7505 §3
    'txt-only.example.net': { TXT: ['v=spf1 -all'] }, // exists, but no MX, A nor AAAA
    'half-slow.example.net': { TXT: ['v=spf1 -all'] }, // no MX, and the A lookup times out
    'xn--bcher-kva.example.net': { A: ['192.0.2.3'] },
  },
  // missing.example.net does not exist
  timeout: ['slow.example.net', 'half-slow.example.net/A'],
  servfail: ['broken.example.net'],
});

const atSender = (mailbox: string | null): PolicyContext =>
  context(resolver, { stage: 'sender', sender: mailbox === null ? null : path(mailbox) });
const atRecipient = (mailbox: string): PolicyContext =>
  context(resolver, { stage: 'recipient', sender: null, recipient: path(mailbox) });

const fqdnSender = build(domainRules, 'reject_non_fqdn_sender');
const fqdnRecipient = build(domainRules, 'reject_non_fqdn_recipient');
const fqdnCases: [mailbox: string, ok: boolean][] = [
  ['user@mail.example.net', true],
  ['user@bücher.example', true],
  ['user@[192.0.2.1]', true], // an address literal is complete
  ['user@localhost', false],
  ['user@bücher', false], // one label, whatever its script
  ['user@mail', false],
];
for (const [mailbox, ok] of fqdnCases) {
  test(`reject_non_fqdn_sender/recipient ${mailbox} → ${ok ? 'dunno' : '504'}`, async () => {
    // The reply echoes a U-label domain as its A-label: reply text is ASCII (RFC 5321 §4.2.1).
    const echoed = mailbox.replace('bücher', 'xn--bcher-kva');
    const [sender, recipient] = ['Sender', 'Recipient'].map((who) =>
      ok ? 'dunno' : `504 5.5.2 <${echoed}>: ${who} address rejected: need fully-qualified address`,
    );
    assert.equal(await run(fqdnSender, atSender(mailbox)), sender);
    assert.equal(await run(fqdnRecipient, atRecipient(mailbox)), recipient);
  });
}

test('reject_non_fqdn_* leave the null sender, <postmaster> and earlier stages alone', async () => {
  assert.equal(await run(fqdnSender, atSender(null)), 'dunno');
  assert.equal(await run(fqdnRecipient, atRecipient('postmaster')), 'dunno'); // RFC 5321 §4.1.1.3
  assert.equal(await run(fqdnSender, context(resolver)), 'dunno');
  assert.equal(await run(fqdnRecipient, atSender('user@localhost')), 'dunno');
});

const unknownSender = build(domainRules, 'reject_unknown_sender_domain');
const unknownRecipient = build(domainRules, 'reject_unknown_recipient_domain');
const senderNotFound = (address: string, code = '550 5.1.8') =>
  `${code} <${address}>: Sender address rejected: Domain not found`;
const recipientNotFound = (address: string, code = '550 5.1.2') =>
  `${code} <${address}>: Recipient address rejected: Domain not found`;

const domainCases: [domain: string, sender: string, recipient: string][] = [
  ['mx-only.example.net', 'dunno', 'dunno'],
  ['a-only.example.net', 'dunno', 'dunno'], // RFC 5321 §5.1: the implicit MX
  ['aaaa-only.example.net', 'dunno', 'dunno'],
  ['bücher.example.net', 'dunno', 'dunno'], // asked as the A-label
  ['[192.0.2.1]', 'dunno', 'dunno'],
  ['example.com', 'dunno', 'dunno'], // local: never asked (see below)
  ['bücher.example', 'dunno', 'dunno'], // local as its U-label
  ['missing.example.net', senderNotFound('u@missing.example.net'), recipientNotFound('u@missing.example.net')],
  ['txt-only.example.net', senderNotFound('u@txt-only.example.net'), recipientNotFound('u@txt-only.example.net')],
  [
    'null-mx.example.net',
    '550 5.7.27 <u@null-mx.example.net>: Sender address rejected: Domain does not accept mail (null MX)',
    '556 5.1.10 <u@null-mx.example.net>: Recipient address rejected: Domain does not accept mail (null MX)',
  ],
  [
    'slow.example.net',
    senderNotFound('u@slow.example.net', '450 4.1.8'),
    recipientNotFound('u@slow.example.net', '450 4.1.2'),
  ],
  [
    'broken.example.net',
    senderNotFound('u@broken.example.net', '450 4.1.8'),
    recipientNotFound('u@broken.example.net', '450 4.1.2'),
  ],
  [
    'half-slow.example.net', // no MX and a timeout on A: it may yet have an address
    senderNotFound('u@half-slow.example.net', '450 4.1.8'),
    recipientNotFound('u@half-slow.example.net', '450 4.1.2'),
  ],
];
for (const [domain, sender, recipient] of domainCases) {
  test(`reject_unknown_sender_domain u@${domain} → ${sender.slice(0, 10)}`, async () => {
    assert.equal(await run(unknownSender, atSender(`u@${domain}`)), sender);
  });
  test(`reject_unknown_recipient_domain u@${domain} → ${recipient.slice(0, 10)}`, async () => {
    assert.equal(await run(unknownRecipient, atRecipient(`u@${domain}`)), recipient);
  });
}

test('reject_unknown_*_domain have nothing to say without an address', async () => {
  assert.equal(await run(unknownSender, atSender(null)), 'dunno'); // the null sender (RFC 5321 §4.5.5)
  assert.equal(await run(unknownRecipient, atRecipient('postmaster')), 'dunno');
  assert.equal(await run(unknownSender, context(resolver)), 'dunno');
  assert.equal(await run(unknownRecipient, atSender('u@missing.example.net')), 'dunno');
});

test('local domains are decided without DNS, and synchronously', () => {
  const start = server.queries.length;
  for (const mailbox of ['u@example.com', 'u@EXAMPLE.com', 'u@bücher.example']) {
    const verdict = unknownSender.evaluate(atSender(mailbox));
    assert.ok(!(verdict instanceof Promise), mailbox);
    assert.deepEqual(verdict, { action: 'dunno' });
  }
  assert.equal(server.queries.length, start);
});

test('a non-ASCII domain is asked as its A-label', async () => {
  const start = server.queries.length;
  assert.equal(
    await run(unknownRecipient, atRecipient('u@straße.example.net')),
    recipientNotFound('u@xn--strae-oqa.example.net'), // echoed as the A-label too (RFC 5321 §4.2.1)
  );
  assert.deepEqual(
    server.queries.slice(start).map((q) => `${q.type} ${q.name}`),
    ['MX xn--strae-oqa.example.net'], // NXDOMAIN ends it: nothing lives below a name that does not exist
  );
});

test('the reason says what DNS answered', async () => {
  const cases: [mailbox: string, reason: RegExp][] = [
    ['u@missing.example.net', /^missing\.example\.net does not exist \(NXDOMAIN\)$/],
    ['u@txt-only.example.net', /^txt-only\.example\.net has no MX, A or AAAA record$/],
    ['u@null-mx.example.net', /null MX/],
    ['u@slow.example.net', /^MX lookup of slow\.example\.net failed: ETIMEOUT/],
    ['u@half-slow.example.net', /^address lookup of half-slow\.example\.net failed/],
  ];
  for (const [mailbox, reason] of cases) {
    const verdict = await unknownSender.evaluate(atSender(mailbox));
    assert.match(verdict.action === 'reject' ? verdict.reason : '', reason, mailbox);
  }
});

test('the factories take no arguments', () => {
  assert.deepEqual(Object.keys(domainRules).sort(), [
    'reject_non_fqdn_recipient',
    'reject_non_fqdn_sender',
    'reject_unknown_recipient_domain',
    'reject_unknown_sender_domain',
  ]);
  for (const name of Object.keys(domainRules)) {
    assert.throws(() => build(domainRules, name, ['x']), new RegExp(`${name} takes no arguments`));
    assert.equal(build(domainRules, name).label, name);
  }
});
