// The receiving policy with its default lists: recipients are routed or refused as Postfix's
// reject_unlisted_recipient and reject_unauth_destination would, synchronously when the account
// look-up is; config mistakes stop the start naming the key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { createResolver } from '../../src/dns/system-resolver.ts';
import { startTestDnsServer } from '../../src/dns/test-server.ts';
import { createLogger } from '../../src/log/logger.ts';
import { type AccountLookup, InboundPolicy, type PolicyOutcome } from '../../src/policy/inbound-policy.ts';
import type { Envelope, Peer } from '../../src/smtp/envelope.ts';
import { type Path, parseMailbox } from '../../src/smtp/path.ts';
import { renderReply } from '../../src/smtp/replies.ts';
import { NullStore } from '../../src/store/null-store.ts';
import { testPeer } from '../support/peer.ts';

const accounts = new Map([
  ['alice@example.com', 1],
  ['postmaster@example.com', 2],
  ['bob@xn--bcher-kva.example', 3],
  ['"john smith"@example.com', 4], // as `user add` stores it: quoted again, escaping only " and \
  ['"say \\"hi\\""@example.com', 5],
  ['kate@example.com', 6],
]);
const syncLookup: AccountLookup = {
  findAccount: (address) => (accounts.has(address) ? { id: accounts.get(address)! } : undefined),
};

function policy(overrides: Partial<ConfigInput> = {}, lookup: AccountLookup = syncLookup): InboundPolicy {
  const config = parseConfig(
    { hostname: 'mx.example.com', domains: ['example.com', 'xn--bcher-kva.example'], ...overrides },
    'test',
  );
  return new InboundPolicy({
    config,
    // Never asked by these tests' rules; a closed port makes any stray query fail fast.
    resolver: createResolver({ servers: ['127.0.0.1:9'], timeoutMs: 100, tries: 1 }),
    // The lookup below decides who exists; the store only has to hold some account (see noAccounts).
    store: new NullStore([
      { id: 1, address: 'alice@example.com', passwordHash: '', scram: null, createdAt: new Date(0), disabled: false },
    ]),
    accounts: lookup,
    logger: createLogger('silent'),
  });
}

const peer: Peer = testPeer('192.0.2.99');

const envelope: Envelope = {
  id: 's1-1',
  greeting: 'EHLO',
  helo: 'client.example',
  mailFrom: parseMailbox('sender@example.net') as Path,
  declaredSize: undefined,
  body: '7BIT',
  smtputf8: false,
  recipients: [],
};

function path(mailbox: string): Path {
  return mailbox === 'postmaster'
    ? { localPart: 'postmaster', domain: '', address: 'postmaster', utf8: false }
    : (parseMailbox(mailbox) as Path);
}

function describe(outcome: PolicyOutcome): string | number {
  if (outcome.action === 'continue')
    return outcome.route?.kind === 'local' ? outcome.route.accountId : (outcome.route?.kind ?? 'continue');
  return `${outcome.reply.code} ${outcome.reply.enhanced}`;
}

const cases: [mailbox: string, want: number | string][] = [
  ['alice@example.com', 1],
  ['Alice@EXAMPLE.com', 1], // local parts match case-insensitively
  ['"alice"@example.com', 1], // RFC 5321 §4.1.2: quotes that are not needed name the same mailbox
  ['"al\\ice"@example.com', 1], // ... escapes of plain characters included
  ['"alice smith"@example.com', '550 5.1.1'], // one that needs its quotes is another mailbox
  ['"john smith"@example.com', 4],
  ['"john\\ smith"@example.com', 4], // a quoted-pair is the character it quotes
  ['"JOHN\\ SMITH"@example.com', 4],
  ['"say \\"hi\\""@example.com', 5],
  ['"s\\ay \\"hi\\""@example.com', 5],
  ['postmaster', 2], // RFC 5321 §4.1.1.3: domain-less postmaster
  ['postmaster@mx.example.com', 2], // RFC 5321 §4.5.1: the host's own name reaches the postmaster too
  ['PostMaster@MX.example.com', 2],
  ['alice@mx.example.com', '554 5.7.1'], // only the postmaster: the host name is no mail domain
  ['bob@bücher.example', 3], // U-label ≡ A-label (RFC 5890)
  ['bob@xn--bcher-kva.example', 3],
  ['nobody@example.com', '550 5.1.1'], // reject_unlisted_recipient
  ['alice@example.net', '554 5.7.1'], // reject_unauth_destination: no relaying
  ['alice@localhost', '554 5.7.1'], // the relay list runs first (as Postfix's), and localhost is not ours
  // U+212A KELVIN SIGN lower-cases to an ASCII "k" in Unicode; accounts are ASCII, so no UTF-8 local part
  // reaches kate@, quoted or not (RFC 6531 §3.3 carries it, nothing folds it).
  ['\u212Aate@example.com', '550 5.1.1'],
  ['"\u212Aate"@example.com', '550 5.1.1'],
];
for (const [mailbox, want] of cases) {
  test(`default recipient policy: ${mailbox} → ${want}`, async () => {
    // A policy per case: one shared would tarpit (answer later) after the fifth refusal of one client.
    const fresh = policy();
    await fresh.ready();
    const outcome = fresh.recipient(peer, envelope, path(mailbox));
    assert.ok(!(outcome instanceof Promise), 'synchronous look-ups answer synchronously');
    assert.equal(describe(outcome), want);
  });
}

test('an asynchronous account look-up gives a promise of the same outcome', async () => {
  const slow = policy({}, { findAccount: async (address) => syncLookup.findAccount(address) });
  const outcome = slow.recipient(peer, envelope, path('alice@example.com'));
  assert.ok(outcome instanceof Promise);
  assert.equal(describe(await outcome), 1);
});

test('mynetworks may relay: mail for elsewhere is routed to the outbound queue; others may not', () => {
  const relaying = policy({ mynetworks: ['192.0.2.0/24'] });
  const routed = relaying.recipient(peer, envelope, path('someone@example.org')) as PolicyOutcome;
  assert.deepEqual(routed, { action: 'continue', route: { kind: 'outbound' } });
  const outsider = { ...peer, remoteAddress: '198.51.100.1' };
  assert.equal(
    describe(relaying.recipient(outsider, envelope, path('someone@example.org')) as PolicyOutcome),
    '554 5.7.1',
  );
});

test('reject_non_fqdn_recipient answers for a client that may relay', () => {
  const relaying = policy({ mynetworks: ['192.0.2.0/24'] });
  assert.equal(describe(relaying.recipient(peer, envelope, path('alice@localhost')) as PolicyOutcome), '504 5.5.2');
});

test('an admin who removes reject_unlisted_recipient still never gets mail for unknown users accepted', async () => {
  const lax = policy({ restrictions: { recipient: [] } });
  await lax.ready();
  assert.equal(describe(lax.recipient(peer, envelope, path('nobody@example.com')) as PolicyOutcome), '550 5.1.1');
});

test('warn_if_reject logs and counts instead of rejecting, and the list goes on', async () => {
  const warned = policy({ restrictions: { recipient: ['warn_if_reject reject_unlisted_recipient', 'permit'] } });
  await warned.ready();
  // The warn-only rule would reject; routing still refuses an address without an account.
  assert.equal(describe(warned.recipient(peer, envelope, path('nobody@example.com')) as PolicyOutcome), '550 5.1.1');
  assert.equal(describe(warned.recipient(peer, envelope, path('alice@example.com')) as PolicyOutcome), 1);
});

test('the object form takes warnOnly (or warn_if_reject) and the options its rule reads', () => {
  const built = policy({
    restrictions: {
      client: [
        { rule: 'reject_unknown_client_hostname', warnOnly: true },
        { rule: 'reject_rbl_client', zone: 'bl.example.org', match: '127.0.0.2', warn_if_reject: true },
        { rule: 'check_client_access', map: { '192.0.2.1': 'REJECT' } },
      ],
    },
  });
  assert.deepEqual(
    built.lists.client.entries.map((e) => [e.restriction.name, e.warnOnly]),
    [
      ['reject_unknown_client_hostname', true],
      ['reject_rbl_client', true],
      ['check_client_access', false],
    ],
  );
});

test('configuration mistakes stop the start with the key that holds them', () => {
  const bad: [Partial<ConfigInput>, RegExp][] = [
    [
      // A string is no dry-run switch: read as false, it would enforce the rule the admin meant to try.
      {
        restrictions: { client: [{ rule: 'reject_unknown_client_hostname', warnOnly: 'true' }] },
      } as Partial<ConfigInput>,
      /restrictions\.client\[0\]: warnOnly: "true" is invalid: expected true or false/,
    ],
    [
      { restrictions: { recipient: ['reject_unlisted_recipent'] } },
      /restrictions\.recipient\[0\]: unknown restriction "reject_unlisted_recipent"/,
    ],
    [
      { restrictions: { helo: ['reject_unlisted_recipient'] } },
      /restrictions\.helo\[0\]: reject_unlisted_recipient cannot work at the helo stage/,
    ],
    [{ restrictions: { client: ['reject_rbl_client'] } }, /restrictions\.client\[0\]: .*zone/],
    [
      { restrictions: { relay: ['permit'], recipient: ['permit'] } },
      /restrictions\.relay: specify reject_unauth_destination/,
    ],
    [{ restrictions: { relay: ['warn_if_reject reject_unauth_destination'], recipient: [] } }, /relay mail for anyone/],
    // Postfix starts with this and relays for anyone: the bare permit ends the list before the closing rule.
    [
      { restrictions: { relay: ['permit', 'reject_unauth_destination'] } },
      /^restrictions\.relay\[0\]: permit comes before reject_unauth_destination \(or reject\/defer\), which is never reached: .*relay mail for anyone/,
    ],
    [
      { restrictions: { relay: [], recipient: ['reject_non_fqdn_recipient', 'permit', 'reject'] } },
      /^restrictions\.recipient\[1\]: permit comes before/,
    ],
    [{ mynetworks: ['10.0.0.0/33'] }, /mynetworks(\.0)?: .*10\.0\.0\.0\/33/],
    // A misspelt key in the object form would otherwise enforce what was meant as a trial.
    [
      { restrictions: { client: [{ rule: 'reject_unknown_client_hostname', warnonly: true }] } },
      /restrictions\.client\[0\]: reject_unknown_client_hostname has no option "warnonly" \(it takes: rule, warnOnly\)/,
    ],
    [
      { restrictions: { client: [{ rule: 'check_client_access', map: { '192.0.2.1': 'REJECT' }, mapp: 1 }] } },
      /restrictions\.client\[0\]: check_client_access has no option "mapp" \(it takes: rule, map, file, warnOnly\)/,
    ],
    [
      { restrictions: { recipient: ['reject_unlisted_recipient', 'check_greylist'] } },
      /restrictions\.recipient\[1\]: check_greylist needs the greylisting service \(greylisting\.enabled: true\)/,
    ],
  ];
  for (const [overrides, message] of bad) {
    assert.throws(
      () => policy(overrides),
      (error: Error) => error instanceof ConfigError && message.test(error.message),
    );
  }
});

test('a permit is allowed where the relay stays closed: after the closing rule, or with the other list closing', () => {
  for (const restrictions of [
    { relay: ['permit_mynetworks', 'reject_unauth_destination', 'permit'] },
    { relay: ['permit', 'reject_unauth_destination'], recipient: ['reject_unauth_destination'] },
    { relay: ['warn_if_reject reject_unauth_destination', 'permit'], recipient: ['defer'] },
  ]) {
    assert.doesNotThrow(() => policy({ restrictions }), JSON.stringify(restrictions));
  }
});

test('VRFY on: 250 for an account, 550 for an unknown local user, 252 elsewhere, rate-limited', () => {
  const vrfy = policy({ smtp: { vrfy: 'on' }, limits: { vrfyPerMinute: 4 } });
  const answer = (argument: string) => {
    const r = vrfy.vrfy(peer, argument);
    assert.ok(!(r instanceof Promise));
    return `${r.code} ${r.lines[0]}`;
  };
  assert.equal(answer('<alice@example.com>'), '250 <alice@example.com>');
  assert.equal(answer('alice'), '250 <alice@example.com>');
  assert.equal(answer('nobody@example.com'), '550 <nobody@example.com>: User unknown');
  assert.equal(answer('someone@example.org').slice(0, 3), '252');
  assert.equal(answer('alice@example.com').slice(0, 3), '450', 'the fifth VRFY in a minute is refused');
});

test('VRFY reads a quoted local part as RCPT does: spaces inside quotes, brackets optional (RFC 5321 §3.5.3)', () => {
  const vrfy = policy({ smtp: { vrfy: 'on' }, limits: { vrfyPerMinute: 100 } });
  const answer = (argument: string) => {
    const r = vrfy.vrfy(peer, argument);
    assert.ok(!(r instanceof Promise));
    return `${r.code} ${r.lines[0]}`;
  };
  assert.equal(answer('<"John Smith"@example.com>'), '250 <"john smith"@example.com>');
  assert.equal(answer('"john smith"@EXAMPLE.com'), '250 <"john smith"@example.com>');
  assert.equal(answer('<"nobody here"@example.com>'), '550 <"nobody here"@example.com>: User unknown');
  assert.equal(answer('<"a>b"@example.org>').slice(0, 3), '252');
  // A bare local part is read as before; anything no parse takes is a 501.
  assert.equal(answer('alice'), '250 <alice@example.com>');
  assert.equal(answer('John Smith'), '501 Syntax: VRFY <local-part@domain>');
  assert.equal(answer('<a b@example.com>'), '501 Syntax: VRFY <local-part@domain>');
  assert.equal(answer('<>'), '501 Syntax: VRFY <local-part@domain>');
  // Not kate@: the Kelvin sign is not an ASCII k (localAddress folds ASCII only).
  assert.equal(answer('\u212Aate@example.com').slice(0, 3), '550');
});

test('refusals echo a U-label domain as its A-label, so the sender reads which address was refused', async () => {
  const fresh = policy();
  await fresh.ready();
  const wire = (mailbox: string) => {
    const outcome = fresh.recipient(peer, envelope, path(mailbox)) as PolicyOutcome;
    assert.ok(outcome.action === 'reject');
    return renderReply(outcome.reply);
  };
  assert.equal(wire('dave@пример.рф'), '554 5.7.1 <dave@xn--e1afmkfd.xn--p1ai>: Relay access denied\r\n');
  assert.equal(
    wire('nobody@bücher.example'),
    '550 5.1.1 <nobody@xn--bcher-kva.example>: Recipient address rejected: User unknown in local recipient table\r\n',
  );
});

test('greylisting passes our own users and networks: a logged-in client and a mynetworks one are not deferred', async () => {
  // A store that has seen no triplet: every first attempt is deferred.
  const store = Object.assign(new NullStore([]), {
    greylist: async () => ({ outcome: 'defer' as const, retryInMs: 300_000, learned: false }),
  });
  const config = parseConfig(
    {
      hostname: 'mx.example.com',
      domains: ['example.com'],
      greylisting: { enabled: true },
      mynetworks: ['10.0.0.0/8'],
    },
    'test',
  );
  const greylisted = new InboundPolicy({
    config,
    resolver: createResolver({ servers: ['127.0.0.1:9'], timeoutMs: 100, tries: 1 }),
    store,
    accounts: syncLookup,
    logger: createLogger('silent'),
  });
  const rcpt = (who: Peer) => greylisted.recipient(who, envelope, path('alice@example.com'));
  assert.equal(describe(await rcpt(peer)), '450 4.7.1', 'a stranger: greylisted');
  assert.equal(describe(await rcpt({ ...peer, authenticated: 'alice@example.com' })), 1, 'logged in');
  assert.equal(describe(await rcpt({ ...peer, remoteAddress: '10.1.2.3' })), 1, 'mynetworks');
});

test('a domain relayed for strangers by an access table: sender-specified routing is refused (allow_untrusted_routing = no)', async () => {
  const backup = policy({
    restrictions: {
      relay: [{ rule: 'check_recipient_access', map: { 'backup.example': 'OK' } }, 'reject_unauth_destination'],
    },
    mynetworks: ['10.0.0.0/8'],
  });
  const route = async (who: Peer, address: string) => describe(await backup.recipient(who, envelope, path(address)));
  assert.equal(await route(peer, 'user@backup.example'), 'outbound', 'the backup-MX domain is relayed');
  for (const tricky of [
    'user%other.example@backup.example',
    'other.example!user@backup.example',
    '"user@other.example"@backup.example',
  ]) {
    assert.equal(await route(peer, tricky), '554 5.7.1', tricky);
  }
  // Our own networks may route as they like, as Postfix lets trusted clients.
  assert.equal(await route({ ...peer, remoteAddress: '10.1.2.3' }, 'user%other.example@backup.example'), 'outbound');
});

test('a Postfix 2.9-style config: relay list empty, permit_mynetworks in the recipient list relays for mynetworks', async () => {
  const old = policy({
    restrictions: { relay: [], recipient: ['permit_mynetworks', 'reject_unauth_destination'] },
    mynetworks: ['10.0.0.0/8'],
  });
  const route = async (who: Peer) => describe(await old.recipient(who, envelope, path('someone@example.org')));
  assert.equal(await route({ ...peer, remoteAddress: '10.1.2.3' }), 'outbound');
  assert.equal(await route(peer), '554 5.7.1', 'a stranger still cannot relay');
});

test("the client's name for Received: looked up once a session, and not at all for a session already gone", async () => {
  const dns = await startTestDnsServer({
    records: { '192.0.2.99': { PTR: ['c.example'] }, 'c.example': { A: ['192.0.2.99'] } },
  });
  try {
    const p = new InboundPolicy({
      config: parseConfig({ hostname: 'mx.example.com', domains: ['example.com'] }, 'test'),
      resolver: createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1, cacheTtlMs: 0 }),
      store: new NullStore([]),
      accounts: syncLookup,
      logger: createLogger('silent'),
    });
    const live: Peer = { ...peer, sessionId: 'live' };
    assert.equal(await p.clientHostname(live), 'c.example');
    assert.equal(await p.clientHostname(live), 'c.example');
    const asked = dns.queries.length;
    assert.equal(asked, 2, 'PTR, then A to confirm it, once');
    live.gone = true;
    p.disconnected(live);
    assert.equal(await p.clientHostname(live), undefined);
    assert.equal(dns.queries.length, asked, 'nothing asked, and so nothing kept, for a session that is gone');
  } finally {
    await dns.close();
  }
});

test('a store emptied under a running server is seen within 10 s: unknown users go from 550 to 451', async (t) => {
  let any = true;
  const store = Object.assign(new NullStore([]), { hasAccounts: async () => any });
  const config = parseConfig({ hostname: 'mx.example.com', domains: ['example.com'] }, 'test');
  const checked = new InboundPolicy({
    config,
    resolver: createResolver({ servers: ['127.0.0.1:9'], timeoutMs: 100, tries: 1 }),
    store,
    accounts: syncLookup,
    logger: createLogger('silent'),
  });
  await checked.ready();
  const monotonic = performance.now.bind(performance);
  t.after(() => {
    performance.now = monotonic;
  });
  const unknown = async () => describe(await checked.recipient(peer, envelope, path('nobody@example.com')));
  assert.equal(await unknown(), '550 5.1.1');
  any = false; // a PostgreSQL database restored empty while this node runs
  assert.equal(await unknown(), '550 5.1.1', 'within 10 s the last answer stands');
  performance.now = () => monotonic() + 10_001;
  assert.equal(await unknown(), '451 4.3.0');
});

test('limits.messagesPerMinute counts a logged-in client too: a stolen password sends no faster from one address', async () => {
  const p = policy({ limits: { messagesPerMinute: 2 } });
  const user: Peer = { ...peer, authenticated: 'alice@example.com', authAccountId: 1 };
  const own = { ...envelope, mailFrom: path('alice@example.com') };
  const sent: (string | number)[] = [];
  for (let i = 0; i < 3; i++) sent.push(describe(await p.sender(user, own)));
  assert.deepEqual(
    sent,
    ['continue', 'continue', '450 4.7.1'],
    'smtpd_client_message_rate_limit, as Postfix counts it',
  );
  // Logged in or not, it is one client at one address: its count is not started afresh by AUTH.
  assert.equal(describe(await p.sender(peer, envelope)), '450 4.7.1');
  // limits.exceptions (mynetworks by default) are never limited, logged in or not.
  const trusted = policy({ limits: { messagesPerMinute: 1 }, mynetworks: ['10.0.0.0/8'] });
  const inside: Peer = { ...user, remoteAddress: '10.1.2.3' };
  for (let i = 0; i < 3; i++) assert.equal(describe(await trusted.sender(inside, own)), 'continue');
});

test('admit() takes the connection limits when the connection is accepted; connect() then does not count it again', async () => {
  const p = policy({ limits: { maxConnectionsPerClient: 2, connectionsPerMinute: 4 } });
  const session = (id: string): Peer => ({ ...peer, sessionId: id });
  assert.equal(describe(p.admit(session('a'))), 'continue');
  assert.equal(describe(await p.connect(session('a'), false)), 'continue', 'the greeting counts nothing more');
  assert.equal(describe(p.admit(session('a'))), 'continue', 'once per session');
  assert.equal(describe(p.admit(session('b'))), 'continue');
  const third = p.admit(session('c'));
  assert.equal(describe(third), '421 4.7.0', 'a third at once is refused at accept');
  assert.match(third.action === 'disconnect' ? third.reply.lines[0]! : '', /too many connections from 192\.0\.2\.99/);
  // A refused connection holds no slot: one that closes frees its slot for the next.
  p.disconnected(session('b'));
  p.disconnected(session('c'));
  assert.equal(describe(p.admit(session('d'))), 'continue');
  // The rate counts the connections it let in, not c: a, b, d, e, then f is the fifth of four a minute.
  p.disconnected(session('d'));
  assert.equal(describe(p.admit(session('e'))), 'continue');
  p.disconnected(session('e'));
  assert.equal(describe(p.admit(session('f'))), '421 4.7.0', 'connectionsPerMinute');
  // A session connect() sees without admit() (another listener's) is counted there, as before.
  const q = policy({ limits: { maxConnectionsPerClient: 1 } });
  assert.equal(describe(await q.connect(session('x'), false)), 'continue');
  assert.equal(describe(await q.connect(session('y'), false)), '421 4.7.0');
});

test('the default HELO list takes a bare IP address as Postfix does, but not one of ours from a stranger', async () => {
  const p = policy({ serverAddresses: ['198.51.100.25'] });
  assert.equal(describe(await p.helo(peer, '192.0.2.99')), 'continue');
  assert.equal(describe(await p.helo(peer, '2001:db8::99')), 'continue');
  assert.equal(describe(await p.helo(peer, '198.51.100.25')), '550 5.7.1', 'reject_helo_own_identity sees it');
  assert.equal(describe(await p.helo(peer, '192.0.2.256')), '501 5.5.2');
  const fqdn = policy({ restrictions: { helo: ['reject_non_fqdn_helo_hostname'] } });
  assert.equal(describe(await fqdn.helo(peer, '192.0.2.99')), '504 5.5.2', 'not a fully-qualified name');
});

/** A policy whose store can be read back: `postern stats` reads the counters it is given at close(). */
function counted(overrides: Partial<ConfigInput>): {
  policy: InboundPolicy;
  counters: () => Promise<Record<string, number>>;
} {
  const store = new NullStore([
    { id: 1, address: 'alice@example.com', passwordHash: '', scram: null, createdAt: new Date(0), disabled: false },
  ]);
  const p = new InboundPolicy({
    config: parseConfig({ hostname: 'mx.example.com', domains: ['example.com'], ...overrides }, 'test'),
    resolver: createResolver({ servers: ['127.0.0.1:9'], timeoutMs: 100, tries: 1 }),
    store,
    accounts: syncLookup,
    logger: createLogger('silent'),
  });
  return {
    policy: p,
    counters: async () => {
      await p.close();
      return store.readCounters('restriction:');
    },
  };
}

test('the connection count and the connection rate are logged and counted as their own Postfix parameters', async () => {
  const { policy: p, counters } = counted({ limits: { maxConnectionsPerClient: 1, connectionsPerMinute: 2 } });
  const session = (id: string): Peer => ({ ...peer, sessionId: id });
  assert.equal(describe(p.admit(session('a'))), 'continue');
  assert.equal(describe(p.admit(session('b'))), '421 4.7.0', 'a second at once');
  p.disconnected(session('a'));
  assert.equal(describe(p.admit(session('c'))), 'continue');
  p.disconnected(session('c'));
  assert.equal(describe(p.admit(session('d'))), '421 4.7.0', 'a third in a minute');
  assert.deepEqual(await counters(), {
    'restriction:client:smtpd_client_connection_count_limit:defer': 1,
    'restriction:client:smtpd_client_connection_rate_limit:defer': 1,
  });
});

test('the limits are counted per listener, as Postfix anvil keys them by service: port 25 does not use up submission', async () => {
  const p = policy({ limits: { maxConnectionsPerClient: 3, messagesPerMinute: 1 }, restrictions: { sender: [] } });
  const smtp = (id: string): Peer => ({ ...peer, sessionId: id });
  const submission = (id: string, localPort = 587): Peer => ({ ...peer, sessionId: id, submission: true, localPort });
  for (const id of ['a', 'b', 'c']) assert.equal(describe(p.admit(smtp(id))), 'continue');
  assert.equal(describe(p.admit(smtp('d'))), '421 4.7.0', 'a fourth on port 25');
  assert.equal(describe(p.admit(submission('e'))), 'continue', 'submission has its own count');
  assert.equal(describe(p.admit(submission('f', 465))), 'continue', 'and so has port 465');
  p.disconnected(submission('e'));
  assert.equal(describe(p.admit(smtp('g'))), '421 4.7.0', 'a submission session that ends frees nothing on port 25');
  assert.equal(describe(await p.sender(smtp('a'), envelope)), 'continue');
  assert.equal(describe(await p.sender(smtp('a'), envelope)), '450 4.7.1');
  const user: Peer = { ...submission('f', 465), authenticated: 'alice@example.com', authAccountId: 1 };
  assert.equal(describe(await p.sender(user, { ...envelope, mailFrom: path('alice@example.com') })), 'continue');
});

test('the routing guard refuses an unknown user as reject_unlisted_recipient does: same reply, counted, tarpitted', async () => {
  // A supported list without reject_unlisted_recipient: the routing guard is what refuses unknown users.
  const { policy: p, counters } = counted({
    restrictions: { relay: [], recipient: ['permit_mynetworks', 'reject_unauth_destination'] },
    tarpit: { threshold: 2, stepMs: 5, maxMs: 5 },
  });
  await p.ready();
  const replies: string[] = [];
  const delayed: boolean[] = [];
  for (let i = 0; i < 4; i++) {
    const outcome = p.recipient(peer, envelope, path(`guess${i}@example.com`));
    delayed.push(outcome instanceof Promise);
    const answer = await outcome;
    replies.push(answer.action === 'continue' ? 'continue' : `${answer.reply.code} ${answer.reply.lines[0]}`);
  }
  assert.deepEqual(replies, [
    '550 <guess0@example.com>: Recipient address rejected: User unknown in local recipient table',
    '550 <guess1@example.com>: Recipient address rejected: User unknown in local recipient table',
    '550 <guess2@example.com>: Recipient address rejected: User unknown in local recipient table',
    '550 <guess3@example.com>: Recipient address rejected: User unknown in local recipient table',
  ]);
  // A synchronous look-up answers at once; from the tarpit's threshold on, the answer waits.
  assert.deepEqual(delayed, [false, false, true, true]);
  assert.deepEqual(await counters(), { 'restriction:recipient:reject_unlisted_recipient:reject': 4 });
  // The same reply the rule gives when the list names it.
  const listed = policy();
  await listed.ready();
  const byRule = listed.recipient(peer, envelope, path('guess0@example.com')) as PolicyOutcome;
  assert.equal(byRule.action === 'reject' && `${byRule.reply.code} ${byRule.reply.lines[0]}`, replies[0]);
});

test('a tarpit delay ends when the client is done sending or gone: its refusal is sent and the session closed', async () => {
  const p = policy({ tarpit: { threshold: 1, stepMs: 60_000, maxMs: 60_000 } });
  await p.ready();
  /** The outcome, or 'waiting' if it has not come within a second (the delay is a minute). */
  const within = (outcome: PolicyOutcome | Promise<PolicyOutcome>) =>
    Promise.race([
      Promise.resolve(outcome).then(describeEnd),
      new Promise<string>((resolve) => setTimeout(resolve, 1000, 'waiting').unref()),
    ]);
  const describeEnd = (o: PolicyOutcome) => `${o.action} ${describe(o)}`;
  const ended: Peer = { ...peer, sessionId: 'ended' };
  assert.equal(
    describeEnd(p.recipient(ended, envelope, path('guess0@example.com')) as PolicyOutcome),
    'reject 550 5.1.1',
  );
  const delayed = p.recipient(ended, envelope, path('guess1@example.com'));
  assert.ok(delayed instanceof Promise, 'the second refusal waits');
  // A TCP half-close: answered now, and the connection closed after it.
  p.clientEnded(ended);
  assert.equal(await within(delayed), 'disconnect 550 5.1.1');
  // What it pipelined before its FIN is not answered undelayed one by one: the first refusal ends it.
  assert.equal(describeEnd(await p.recipient(ended, envelope, path('guess2@example.com'))), 'disconnect 550 5.1.1');
  p.disconnected(ended);
  // A reset: disconnected() ends the wait, and frees its timer.
  const reset: Peer = { ...peer, sessionId: 'reset' };
  const waiting = p.recipient(reset, envelope, path('guess3@example.com'));
  assert.ok(waiting instanceof Promise);
  p.disconnected({ ...reset, gone: true });
  assert.equal(await within(waiting), 'disconnect 550 5.1.1');
  // A session whose client is still there waits as before.
  const still: Peer = { ...peer, sessionId: 'still' };
  assert.equal(await within(p.recipient(still, envelope, path('guess4@example.com'))), 'waiting');
  p.disconnected(still);
});
