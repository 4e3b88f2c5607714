/**
 * MilterClient against a tiny milter written here: a real TCP server on 127.0.0.1 that speaks the
 * libmilter protocol (mfdef.h framing) and answers each command as a test's script says.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import {
  applyModifications,
  filterMessage,
  MilterClient,
  MilterTimeoutError,
  MilterUnavailableError,
  parseReplyCode,
  parseSocketSpec,
  recipientMacros,
  sessionMacros,
} from '../../../src/filter/milter/index.ts';
import { protocol } from '../../../src/filter/milter/protocol.ts';
import { type Answer, type FakeMilter, fakeMilter, u32, z } from '../../support/fake-milter.ts';

const MESSAGE = Buffer.from(
  'From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n  there\r\nX-Tag: one\r\nX-Tag: two\r\n\r\nBody line\r\n',
);
const input = { from: 'a@example.com', recipients: ['b@example.com'], content: MESSAGE };
const codes = (m: FakeMilter) => m.received.map((p) => p.code).join('');

test('negotiation and every stage in order, with macros before their command', async () => {
  const milter = await fakeMilter(0, () => ['c']);
  const client = await MilterClient.open({ socket: milter.spec });
  assert.equal(client.negotiated.version, 6);
  const macros = sessionMacros({
    hostname: 'mx.example.com',
    version: 'Postern 1.2.3',
    daemonAddress: '198.51.100.25',
    clientAddress: '192.0.2.1',
    tlsVersion: 'TLSv1.3',
    authUser: 'joe',
    queueId: 'Q1',
  });
  assert.deepEqual(
    await client.connect({ hostname: 'client.example', address: '192.0.2.1', port: 4321 }, macros.connect),
    { action: 'continue' },
  );
  await client.helo('client.example', macros.helo);
  const outcome = await filterMessage(client, { ...input, macros: { mail: macros.mail, eom: macros.eom } });
  assert.deepEqual(outcome, { verdict: { action: 'continue' }, modifications: [] });
  await client.quit();
  // O, D C, D H, D M, R, T, 5×L, N, B, D E, Q
  assert.equal(codes(milter), 'ODCDHDMRTLLLLLNBDEQ');
  const connect = milter.received.find((p) => p.code === 'C')?.data;
  assert.deepEqual(
    connect,
    Buffer.concat([z('client.example'), Buffer.from('4'), Buffer.from([0x10, 0xe1]), z('192.0.2.1')]),
  );
  const mailMacros = milter.received.filter((p) => p.code === 'D')[2]?.data.toString();
  assert.equal(mailMacros, 'Mi\0Q1\0{auth_authen}\0joe\0');
  assert.equal(
    milter.received.filter((p) => p.code === 'D')[0]?.data.toString(),
    // Postfix's default connect macros (j {daemon_name} {daemon_addr} v _), then the client's address.
    'Cj\0mx.example.com\0{daemon_name}\0mx.example.com\0{daemon_addr}\x00198.51.100.25\0' +
      'v\0Postern 1.2.3\0_\0unknown [192.0.2.1]\0{client_addr}\x00192.0.2.1\0{client_name}\0unknown\0',
  );
  assert.equal(milter.received.find((p) => p.code === 'M')?.data.toString(), '<a@example.com>\0');
  // Without SMFIP_HDR_LEADSPC the value loses its leading space; folding goes as LF (as Sendmail sends it).
  assert.equal(milter.received.filter((p) => p.code === 'L')[2]?.data.toString(), 'Subject\0hi\n  there\0');
  assert.equal(milter.received.find((p) => p.code === 'B')?.data.toString(), 'Body line\r\n');
  await milter.close();
});

test("each recipient's macros go before its RCPT: address, next hop and transport, as Postfix sends them", async () => {
  const milter = await fakeMilter(0, () => ['c']);
  const client = await MilterClient.open({ socket: milter.spec });
  const macros = sessionMacros({ hostname: 'mx.example.com', clientAddress: '192.0.2.1', queueId: 'Q2', sender: '' });
  const rcpt = [
    recipientMacros('mx.example.com', 'Q2', { address: 'b@example.com', local: true }),
    recipientMacros('mx.example.com', 'Q2', { address: 'c@elsewhere.example', local: false }),
  ];
  const recipients = ['<b@example.com>', '<c@elsewhere.example>'];
  await filterMessage(client, { ...input, from: '<>', recipients, macros: { mail: macros.mail, rcpt } });
  await client.quit();
  const sent = milter.received.filter((p) => p.code === 'D' || p.code === 'M' || p.code === 'R');
  assert.deepEqual(
    sent.map((p) => p.data.toString()),
    [
      'Mi\0Q2\0{mail_addr}\0\0', // the null reverse-path: an empty {mail_addr}
      '<>\0',
      'Ri\0Q2\0{rcpt_addr}\0b@example.com\0{rcpt_host}\0mx.example.com\0{rcpt_mailer}\0local\0',
      '<b@example.com>\0',
      'Ri\0Q2\0{rcpt_addr}\0c@elsewhere.example\0{rcpt_host}\0elsewhere.example\0{rcpt_mailer}\0smtp\0',
      '<c@elsewhere.example>\0',
    ],
  );
  await milter.close();
});

test('no-callback and no-reply steps are skipped or not waited for', async () => {
  const steps =
    protocol.noconnect |
    protocol.nohelo |
    protocol.nohdrs |
    protocol.nrMail |
    protocol.nrRcpt |
    protocol.nrData |
    protocol.nrEoh |
    protocol.nrBody;
  // Any answer to a no-reply step would be a stray reply read at eom: the milter answers only eom.
  const milter = await fakeMilter(steps, (p) => (p.code === 'E' ? ['a'] : 'silent'));
  const client = await MilterClient.open({ socket: milter.spec, timeouts: { replyMs: 500 } });
  await client.connect({ hostname: 'h', address: '192.0.2.1', port: 25 });
  await client.helo('h');
  const outcome = await filterMessage(client, input);
  assert.deepEqual(outcome.verdict, { action: 'accept' });
  await client.quit();
  assert.equal(codes(milter), 'OMRTNBEQ');
  await milter.close();
});

test('body goes in chunks of at most 65535 bytes; SMFIR_SKIP stops it', async () => {
  const milter = await fakeMilter(0, (p) =>
    p.code === 'B' && milter.received.filter((q) => q.code === 'B').length === 2 ? ['s'] : ['c'],
  );
  const client = await MilterClient.open({ socket: milter.spec });
  const body = Buffer.alloc(65535 * 3 + 10, 'a');
  const outcome = await filterMessage(client, {
    ...input,
    content: Buffer.concat([Buffer.from('From: a@example.com\r\n\r\n'), body]),
  });
  assert.deepEqual(outcome.verdict, { action: 'continue' });
  assert.deepEqual(
    milter.received.filter((p) => p.code === 'B').map((p) => p.data.length),
    [65535, 65535],
  );
  await client.quit();
  await milter.close();
});

const verdicts: [name: string, at: string, answer: Answer[], want: object][] = [
  ['reject at mail', 'M', [['r']], { action: 'reject' }],
  ['tempfail at data', 'T', [['t']], { action: 'tempfail' }],
  [
    'replycode at eoh',
    'N',
    [['y', z('554 5.7.1 Go away')]],
    { action: 'reject', reply: { code: 554, enhanced: '5.7.1', lines: ['Go away'] } },
  ],
  [
    '4xx replycode at eom',
    'E',
    [['y', z('451 4.7.1 Try later')]],
    { action: 'tempfail', reply: { code: 451, enhanced: '4.7.1', lines: ['Try later'] } },
  ],
  [
    'multi-line replycode',
    'M',
    [['y', z('550-5.7.1 one\r\n550 5.7.1 two')]],
    { action: 'reject', reply: { code: 550, enhanced: '5.7.1', lines: ['one', 'two'] } },
  ],
  ['discard at a header', 'L', [['d']], { action: 'discard' }],
  ['progress, then accept at eom', 'E', [['p'], ['p'], ['a']], { action: 'accept' }],
];
for (const [name, at, answer, want] of verdicts) {
  test(`verdict: ${name}`, async () => {
    const milter = await fakeMilter(0, (p) => (p.code === at ? answer : ['c']));
    const client = await MilterClient.open({ socket: milter.spec });
    const outcome = await filterMessage(client, input);
    assert.deepEqual(outcome.verdict, want);
    await client.quit();
    // An unfinished message was aborted before QUIT.
    if (at !== 'E') assert.ok(codes(milter).endsWith('AQ'), codes(milter));
    await milter.close();
  });
}

test('a rejected recipient is refused alone; the message goes on', async () => {
  const milter = await fakeMilter(0, (p) => (p.code === 'R' && p.data.toString().startsWith('<bad') ? ['r'] : ['c']));
  const client = await MilterClient.open({ socket: milter.spec });
  const outcome = await filterMessage(client, { ...input, recipients: ['bad@example.com', 'b@example.com'] });
  assert.deepEqual(outcome.verdict, { action: 'continue' });
  assert.deepEqual(outcome.rejected, [{ rcpt: 'bad@example.com', verdict: { action: 'reject' } }]);
  await client.quit();
  await milter.close();
});

test('modifications and quarantine at eom, applied to the message', async () => {
  const milter = await fakeMilter(0, (p) =>
    p.code === 'E'
      ? [
          ['h', z('X-Added', 'yes')],
          ['i', Buffer.concat([u32(0), z('X-Top', 'first\n\tfolded')])],
          ['m', Buffer.concat([u32(2), z('X-Tag', 'TWO')])],
          ['m', Buffer.concat([u32(1), z('x-tag', '')])],
          ['m', Buffer.concat([u32(1), z('Subject', '')])],
          ['b', Buffer.from('New ')],
          ['b', Buffer.from('body\r\n')],
          ['e', z('<new@example.com>', 'SIZE=10')],
          ['+', z('<c@example.com>')],
          ['-', z('<b@example.com>')],
          ['q', z('looks odd')],
          ['c'],
        ]
      : ['c'],
  );
  const client = await MilterClient.open({ socket: milter.spec });
  const outcome = await filterMessage(client, input);
  assert.ok('quarantine' in outcome);
  assert.equal(outcome.quarantine, 'looks odd');
  assert.deepEqual(outcome.modifications.slice(6), [
    { type: 'chgfrom', from: '<new@example.com>', args: 'SIZE=10' },
    { type: 'addrcpt', rcpt: '<c@example.com>' },
    { type: 'delrcpt', rcpt: '<b@example.com>' },
  ]);
  assert.equal(
    applyModifications(MESSAGE, outcome.modifications).toString(),
    'X-Top: first\r\n\tfolded\r\nFrom: a@example.com\r\nTo: b@example.com\r\nX-Tag: TWO\r\nX-Added: yes\r\n\r\nNew body\r\n',
  );
  await client.quit();
  await milter.close();
});

test('a milter that never answers: MilterTimeoutError naming the stage', async () => {
  const milter = await fakeMilter(0, (p) => (p.code === 'T' ? 'silent' : ['c']));
  const client = await MilterClient.open({ socket: milter.spec, timeouts: { replyMs: 200 } });
  const started = Date.now();
  await assert.rejects(filterMessage(client, input), (err) => {
    assert.ok(err instanceof MilterTimeoutError);
    assert.ok(err instanceof MilterUnavailableError);
    assert.equal(err.stage, 'data');
    assert.equal(err.code, 'MILTER_TIMEOUT');
    return true;
  });
  assert.ok(Date.now() - started < 2000);
  // The conversation is over: the next step fails at once.
  await assert.rejects(client.mail('x@example.com'), MilterUnavailableError);
  client.destroy();
  await milter.close();
});

test('the whole-message time limit holds even while the milter sends progress', async () => {
  // SMFIR_PROGRESS every 100 ms restarts the 300 ms reply timer, never the 600 ms message deadline.
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? 'progress-forever' : ['c']));
  const client = await MilterClient.open({ socket: milter.spec, timeouts: { replyMs: 300, messageMs: 600 } });
  const started = Date.now();
  await assert.rejects(filterMessage(client, input), (err) => err instanceof MilterTimeoutError && err.stage === 'eom');
  assert.ok(Date.now() - started >= 500);
  client.destroy();
  await milter.close();
});

test('progress outside a message (at connect) does not restart the reply timer: no endless wait', async (t) => {
  // Before MAIL there is no message deadline; SMFIR_PROGRESS every 100 ms once held the client forever.
  const milter = await fakeMilter(0, (p) => (p.code === 'C' ? 'progress-forever' : ['c']));
  const client = await MilterClient.open({ socket: milter.spec, timeouts: { replyMs: 300, messageMs: 600 } });
  t.after(async () => {
    client.destroy();
    await milter.close();
  });
  const started = Date.now();
  const outcome = await Promise.race([
    client.connect({ hostname: 'client.example', address: '192.0.2.30', port: 4000 }).then(
      () => 'answered',
      (err: unknown) => (err instanceof MilterTimeoutError && err.stage === 'connect' ? 'timeout' : String(err)),
    ),
    new Promise((r) => setTimeout(r, 3000, 'still waiting after 3 s')),
  ]);
  assert.equal(outcome, 'timeout');
  assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
});

test('connection refused: MilterUnavailableError at open', async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((r) => probe.close(r));
  await assert.rejects(MilterClient.open({ socket: `inet:${port}@127.0.0.1` }), (err) => {
    assert.ok(err instanceof MilterUnavailableError);
    assert.equal(err.stage, 'open');
    assert.equal(err.code, 'MILTER_UNAVAILABLE');
    return true;
  });
});

test('a milter that hangs up mid-message: MilterUnavailableError at that stage', async () => {
  const milter = await fakeMilter(0, (p) => {
    if (p.code === 'R') void milter.close();
    return p.code === 'R' ? 'silent' : ['c'];
  });
  const client = await MilterClient.open({ socket: milter.spec });
  await assert.rejects(
    filterMessage(client, input),
    (err) => err instanceof MilterUnavailableError && err.stage === 'rcpt',
  );
  client.destroy();
});

test('accept at connect covers the whole connection', async () => {
  const milter = await fakeMilter(0, (p) => (p.code === 'C' ? ['a'] : ['r']));
  const client = await MilterClient.open({ socket: milter.spec });
  assert.deepEqual(await client.connect({ hostname: 'h', address: '2001:db8::1', port: 25 }), { action: 'accept' });
  assert.deepEqual((await filterMessage(client, input)).verdict, { action: 'accept' });
  await client.quit();
  assert.equal(codes(milter), 'OCQ');
  assert.equal(milter.received[1]?.data.subarray(2, 3).toString(), '6');
  await milter.close();
});

test('after the milter hung up, the next step fails at once with its own stage', async () => {
  const milter = await fakeMilter(0, () => ['c']);
  const client = await MilterClient.open({ socket: milter.spec });
  await milter.close();
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(client.helo('h'), (err) => err instanceof MilterUnavailableError && err.stage === 'helo');
  client.destroy();
});

test('every recipient refused: the message ends with the first refusal and its reply', async () => {
  const milter = await fakeMilter(0, (p) => {
    if (p.code !== 'R') return ['c'];
    return p.data.toString().startsWith('<b@') ? ['y', z('550 5.1.1 No such user')] : ['y', z('553 5.1.3 Bad address')];
  });
  const client = await MilterClient.open({ socket: milter.spec });
  const outcome = await filterMessage(client, { ...input, recipients: ['b@example.com', 'c@example.com'] });
  const first = { code: 550, enhanced: '5.1.1', lines: ['No such user'] };
  assert.deepEqual(outcome.verdict, { action: 'reject', reply: first });
  assert.deepEqual(outcome.rejected, [
    { rcpt: 'b@example.com', verdict: { action: 'reject', reply: first } },
    {
      rcpt: 'c@example.com',
      verdict: { action: 'reject', reply: { code: 553, enhanced: '5.1.3', lines: ['Bad address'] } },
    },
  ]);
  await client.quit();
  assert.equal(codes(milter), 'OMRRAQ');
  await milter.close();
});

test('a recipient refused for now (4xx) at RCPT defers the whole message: no later step is sent', async () => {
  // A greylisting milter tempfails one recipient; the message is in, so refusing that one alone would
  // lose it after our 250 (RFC 5321 §6.1): the whole message is deferred, the client retries them all.
  const milter = await fakeMilter(0, (p) =>
    p.code === 'R' && p.data.toString().startsWith('<c@') ? ['y', z('451 4.7.1 Greylisted')] : ['c'],
  );
  const client = await MilterClient.open({ socket: milter.spec });
  const outcome = await filterMessage(client, { ...input, recipients: ['b@example.com', 'c@example.com'] });
  assert.deepEqual(outcome.verdict, {
    action: 'tempfail',
    reply: { code: 451, enhanced: '4.7.1', lines: ['Greylisted'] },
  });
  await client.quit();
  assert.equal(codes(milter), 'OMRRAQ');
  await milter.close();
});

const specs: [spec: string, want: object][] = [
  ['inet:8891@127.0.0.1', { port: 8891, host: '127.0.0.1' }],
  ['inet6:8891@[::1]', { port: 8891, host: '::1' }],
  ['unix:/run/milter.sock', { path: '/run/milter.sock' }],
  ['local:/run/milter.sock', { path: '/run/milter.sock' }],
];
for (const [spec, want] of specs) test(`socket ${spec}`, () => assert.deepEqual(parseSocketSpec(spec), want));
test('socket without a scheme is refused', () =>
  assert.throws(
    () => parseSocketSpec('127.0.0.1:8891'),
    /milter socket 127\.0\.0\.1:8891: expected inet:port@host or unix:\/path/,
  ));

test('header octets go to the milter as they are, 8-bit ones too (as Postfix and Sendmail pass them)', async () => {
  const milter = await fakeMilter(0, () => ['c']);
  const client = await MilterClient.open({ socket: milter.spec });
  const koi8 = Buffer.from([0xf3, 0xfe, 0xf4]); // KOI8-R, not UTF-8
  const content = Buffer.concat([
    Buffer.from('From: a@example.com\r\nSubject: '),
    koi8,
    Buffer.from('\r\n\r\nBody\r\n'),
  ]);
  await filterMessage(client, { ...input, content });
  await client.quit();
  const subject = milter.received.filter((p) => p.code === 'L')[1]?.data;
  assert.deepEqual(subject, Buffer.concat([Buffer.from('Subject\0'), koi8, Buffer.from('\0')]));
  await milter.close();
});

test('SMFIR_REPLYCODE text with U+2028 or U+2029 keeps its code and enhanced code apart from the text', () => {
  assert.deepEqual(parseReplyCode('550 5.7.1 milter says no\u2028second'), {
    code: 550,
    enhanced: '5.7.1',
    lines: ['milter says no\u2028second'],
  });
  assert.deepEqual(parseReplyCode('451 4.7.1 try\u2029later'), {
    code: 451,
    enhanced: '4.7.1',
    lines: ['try\u2029later'],
  });
});

test('a replacement body of 8 MiB in 65535-octet SMFIR_REPLBODY packets comes whole, octet for octet', async () => {
  const size = 8 * 1024 * 1024;
  const replacement = Buffer.alloc(size);
  for (let i = 0; i < size; i++) replacement[i] = 0x20 + (i % 95);
  const packets: Answer[] = [];
  for (let at = 0; at < size; at += 65535) packets.push(['b', replacement.subarray(at, at + 65535)]);
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? [...packets, ['c']] : ['c']));
  const client = await MilterClient.open({ socket: milter.spec, timeouts: { messageMs: 60_000 } });
  const outcome = await filterMessage(client, input);
  const bodies = outcome.modifications.filter((m) => m.type === 'replbody');
  assert.equal(bodies.length, 1, 'one replacement made of all the packets');
  assert.ok(bodies[0]?.type === 'replbody' && bodies[0].body.equals(replacement), 'the same octets');
  await client.quit();
  await milter.close();
});

test('a replacement body over maxBodySize (the message size limit) fails the milter: unavailable', async () => {
  const chunk = Buffer.alloc(65535, 0x41);
  // 17 packets: 1,114,095 octets, over a 1 MiB limit.
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? [...Array(17).fill(['b', chunk]), ['c']] : ['c']));
  const client = await MilterClient.open({ socket: milter.spec, maxBodySize: 1024 * 1024 });
  await assert.rejects(filterMessage(client, input), (err) => {
    assert.ok(err instanceof MilterUnavailableError);
    assert.equal(err.stage, 'eom');
    assert.match(err.message, /replacement body over 1048576 octets/);
    return true;
  });
  client.destroy();
  await milter.close();
});

test("a milter's header names and values keep their octets: 8-bit ones of any charset are not turned into U+FFFD", async () => {
  const cp1251 = Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]); // "Привет" in windows-1251, not UTF-8
  const field = (index: number) =>
    Buffer.concat([u32(index), Buffer.from('Subject\0[SPAM] '), cp1251, Buffer.from([0])]);
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? [['m', field(1)], ['c']] : ['c']));
  const client = await MilterClient.open({ socket: milter.spec });
  const outcome = await filterMessage(client, input);
  const changed = applyModifications(MESSAGE, outcome.modifications);
  assert.ok(changed.includes(Buffer.concat([Buffer.from('Subject: [SPAM] '), cp1251, Buffer.from('\r\n')])));
  await client.quit();
  await milter.close();
});

test('without SMFIP_HDR_LEADSPC exactly one leading space goes, never a tab or a second space (milter8.c)', async () => {
  const milter = await fakeMilter(0, () => ['c']);
  const client = await MilterClient.open({ socket: milter.spec });
  const content = Buffer.from('X-Three:   three\r\nX-Tab:\ttab\r\nX-One: one\r\nX-None:none\r\n\r\nbody\r\n');
  await filterMessage(client, { ...input, content });
  await client.quit();
  const sent = milter.received.filter((p) => p.code === 'L').map((p) => p.data.toString());
  assert.deepEqual(sent, ['X-Three\0  three\0', 'X-Tab\0\ttab\0', 'X-One\0one\0', 'X-None\0none\0']);
  await milter.close();
});

test('with SMFIP_HDR_LEADSPC the value goes as it is, its leading space included', async () => {
  const milter = await fakeMilter(protocol.hdrLeadspc, () => ['c']);
  const client = await MilterClient.open({ socket: milter.spec });
  await filterMessage(client, { ...input, content: Buffer.from('X-One: one\r\nX-Tab:\ttab\r\n\r\nbody\r\n') });
  await client.quit();
  const sent = milter.received.filter((p) => p.code === 'L').map((p) => p.data.toString());
  assert.deepEqual(sent, ['X-One\0 one\0', 'X-Tab\0\ttab\0']);
  await milter.close();
});

const replyCodes: [text: string, want: ReturnType<typeof parseReplyCode>][] = [
  // An enhanced code of another class than the reply's says two things: malformed (Postfix milter8.c).
  ['450 5.7.1 Blocked for good?', undefined],
  ['550 4.7.1 Try later?', undefined],
  ['550 2.0.0 All fine?', undefined],
  ['550-5.7.1 one\r\n551 5.7.1 two', undefined], // another code on a later line
  ['250 2.0.0 ok', undefined], // not a refusal
  // Without an enhanced code: x.7.1 of the reply's class, as Postfix and Sendmail give a milter's refusal.
  ['554 Rejected', { code: 554, enhanced: '5.7.1', lines: ['Rejected'] }],
  ['421 Later', { code: 421, enhanced: '4.7.1', lines: ['Later'] }],
  // %% is % (Sendmail reads the text as a format); a lone % is dropped, as Postfix does.
  ['550 5.7.1 100%% spam', { code: 550, enhanced: '5.7.1', lines: ['100% spam'] }],
  ['550 5.7.1 100% spam', { code: 550, enhanced: '5.7.1', lines: ['100 spam'] }],
  ['451 4.7.1 Greylisted', { code: 451, enhanced: '4.7.1', lines: ['Greylisted'] }],
];
for (const [text, want] of replyCodes) {
  test(`SMFIR_REPLYCODE ${JSON.stringify(text)}: ${want ? `${want.code} ${want.enhanced}` : 'malformed'}`, () =>
    assert.deepEqual(parseReplyCode(text), want));
}

test('SMFIR_REPLYCODE keeps at most 32 lines (smfi_setmlreply) of at most 512 octets each', () => {
  const lines = Array.from({ length: 20_000 }, (_, i) => `550-5.7.1 line ${i} ${'x'.repeat(1000)}`);
  const parsed = parseReplyCode(`${lines.join('\r\n')}\r\n550 5.7.1 end`);
  assert.equal(parsed?.lines.length, 32);
  assert.ok(parsed?.lines.every((l) => l.length <= 512));
});

test('a malformed SMFIR_REPLYCODE makes the milter unavailable (its default action), as Postfix treats it', async () => {
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? ['y', z('550 4.7.1 Try later?')] : ['c']));
  const client = await MilterClient.open({ socket: milter.spec });
  await assert.rejects(
    filterMessage(client, input),
    (err) =>
      err instanceof MilterUnavailableError && err.stage === 'eom' && /malformed SMFIR_REPLYCODE/.test(err.message),
  );
  client.destroy();
  await milter.close();
});

test('a version 2 or 3 milter is not sent SMFIC_DATA, which came with version 4 (Postfix milter8.c)', async () => {
  for (const version of [2, 3]) {
    // An old libmilter drops the connection on a command it does not know.
    const milter = await fakeMilter(0, (p) => (p.code === 'T' ? 'hang-up' : ['c']), { version });
    const client = await MilterClient.open({ socket: milter.spec, timeouts: { replyMs: 2000 } });
    try {
      assert.equal(client.negotiated.version, version);
      assert.deepEqual((await filterMessage(client, input)).verdict, { action: 'continue' });
      assert.equal(codes(milter), 'OMRLLLLLNBE');
    } finally {
      client.destroy();
      await milter.close();
    }
  }
});

test('protocol flags we did not offer (RCPT_REJ, MDS_256K, MDS_1M) are left out with one warning, not a failure', async () => {
  const unoffered = protocol.rcptRej | 0x10000000 | 0x20000000;
  const milter = await fakeMilter(unoffered | protocol.noconnect, () => ['c']);
  const client = await MilterClient.open({ socket: milter.spec });
  assert.equal(client.negotiated.protocol, protocol.noconnect);
  assert.deepEqual(client.warnings, ['milter asked for protocol flags 0x30000800 we did not offer: ignored']);
  assert.deepEqual((await filterMessage(client, input)).verdict, { action: 'continue' });
  assert.equal(client.warnings.length, 1);
  await client.quit();
  await milter.close();
});

test('a header-section line that is no field is not made into one: the fields around it and the body go as stored', async () => {
  const content = Buffer.from('Subject: s\r\nHello Bob, see below\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n');
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? [['h', z('X-Spam', 'Yes')], ['c']] : ['c']));
  const client = await MilterClient.open({ socket: milter.spec });
  const outcome = await filterMessage(client, { ...input, content });
  const sent = (code: string) => milter.received.filter((p) => p.code === code).map((p) => p.data.toString('latin1'));
  // Postern's readers (readFirstFields, the MIME parser) read Content-Type as a field of this header
  // section and the body after the empty line: so does the milter.
  assert.deepEqual(sent('L'), ['Subject\0s\0', 'Content-Type\0text/html\0']);
  assert.deepEqual(sent('B'), ['<p>x</p>\r\n']);
  // The added field goes at the end of the header section, before the empty line.
  assert.equal(
    applyModifications(content, outcome.modifications).toString(),
    'Subject: s\r\nHello Bob, see below\r\nContent-Type: text/html\r\nX-Spam: Yes\r\n\r\n<p>x</p>\r\n',
  );
  await client.quit();
  await milter.close();
});

test('a header-less message: its lines go as no made-up fields', async () => {
  const milter = await fakeMilter(0, () => ['c']);
  const client = await MilterClient.open({ socket: milter.spec });
  await filterMessage(client, { ...input, content: Buffer.from('just a body line\r\nsecond line\r\n') });
  assert.equal(codes(milter).includes('L'), false);
  await client.quit();
  await milter.close();
});

test('the message timeout ending the wait says so, naming messageTimeoutMs, not "no reply in N ms"', async () => {
  // Progress every 100 ms keeps the 300 ms reply timer from firing; the 600 ms message deadline ends it.
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? 'progress-forever' : ['c']));
  const client = await MilterClient.open({ socket: milter.spec, timeouts: { replyMs: 300, messageMs: 600 } });
  await assert.rejects(filterMessage(client, input), (err) => {
    assert.ok(err instanceof MilterTimeoutError);
    assert.equal(err.stage, 'eom');
    assert.match(err.message, /^milter eom: message timeout reached \(messageTimeoutMs, 600 ms from MAIL\)$/);
    return true;
  });
  client.destroy();
  await milter.close();
});
