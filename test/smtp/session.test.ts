// SmtpSession without sockets: every command, its reply codes and the session's limits (RFC 5321, 2920, 3030).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SessionOptions } from '../../src/smtp/session.ts';
import { acceptAll, Driver, inTransaction } from '../support/session-driver.ts';

const EHLO = 'EHLO client.example.net\r\n';
const MAIL = 'MAIL FROM:<a@example.net>\r\n';
const RCPT = 'RCPT TO:<alice@example.com>\r\n';
/** `n` RCPT commands for different mailboxes: a repeated one is one recipient (counted once). */
const rcpts = (n: number) => Array.from({ length: n }, (_, i) => `RCPT TO:<user${i}@example.com>\r\n`).join('');
const TX = EHLO + MAIL + RCPT;

type Case = [name: string, input: string | Buffer, want: string[], options?: Partial<SessionOptions>];
const cases: Case[] = [
  ['HELO', 'HELO client.example.net\r\n', ['250']],
  ['EHLO without a name: 501', 'EHLO\r\n', ['501 5.5.4']],
  // Whatever the helo restrictions hold: a list without reject_invalid_helo_hostname took "name\0".
  [
    'EHLO with a control character: 501',
    'EHLO mx.example.com\0\r\nHELO a\x01b.example\r\n',
    ['501 5.5.4', '501 5.5.4'],
  ],
  ['MAIL before EHLO: 503 (RFC 5321 §4.1.4)', MAIL, ['503 5.5.1']],
  ['nested MAIL: 503', EHLO + MAIL + MAIL, ['250', '250 2.1.0', '503 5.5.1']],
  ['RCPT before MAIL: 503', EHLO + RCPT, ['250', '503 5.5.1']],
  ['DATA without MAIL: 503', EHLO + 'DATA\r\n', ['250', '503 5.5.1']],
  ['DATA without RCPT: 554 (RFC 2920 §3.1)', EHLO + MAIL + 'DATA\r\n', ['250', '250 2.1.0', '554 5.5.1']],
  ['DATA with an argument: 501', TX + 'DATA x\r\n', ['250', '250 2.1.0', '250 2.1.5', '501 5.5.4']],
  [
    'RSET ends the transaction',
    TX + 'RSET\r\nRCPT TO:<alice@example.com>\r\n',
    ['250', '250 2.1.0', '250 2.1.5', '250 2.0.0', '503 5.5.1'],
  ],
  ['EHLO implies RSET', TX + EHLO + 'DATA\r\n', ['250', '250 2.1.0', '250 2.1.5', '250', '503 5.5.1']],
  ['NOOP, with an ignored argument', 'NOOP\r\nNOOP hello\r\n', ['250 2.0.0', '250 2.0.0']],
  ['HELP: 214', 'HELP\r\n', ['214 2.0.0']],
  ['VRFY off: 502', 'VRFY alice\r\n', ['502 5.5.1']],
  ['VRFY ambiguous: 252 (RFC 5321 §3.5.3)', 'VRFY alice\r\n', ['252 2.0.0'], { vrfy: 'ambiguous' }],
  ['EXPN: 502', 'EXPN staff\r\n', ['502 5.5.1']],
  // No TLS on the listener: 502, not the 454 that tells the client to try later (Postfix: 502 5.5.1).
  ['STARTTLS where no TLS is configured: 502', 'STARTTLS\r\n', ['502 5.5.1']],
  ['AUTH where it is not offered (an MX listener): 503', 'AUTH PLAIN AGFsaWNlAHg=\r\n', ['503 5.5.1']],
  ['unknown command: 500', 'FROB\r\n', ['500 5.5.1']],
  ['empty line: 500 (RFC 5321 §4.2.2: no command to read)', '\r\n', ['500 5.5.2']],
  ['verbs are case-insensitive', 'ehlo client.example.net\r\nmail from:<a@example.net>\r\n', ['250', '250 2.1.0']],
  // Strict paths, RFC 5321 §4.1.2.
  ['MAIL with a display name: 501', EHLO + 'MAIL FROM:the dude <a@example.com>\r\n', ['250', '501 5.1.7']],
  ['MAIL without brackets: 501', EHLO + 'MAIL FROM:a@example.com\r\n', ['250', '501 5.1.7']],
  ['MAIL with a space after the colon', EHLO + 'MAIL FROM: <a@example.net>\r\n', ['250', '250 2.1.0']],
  ['null reverse-path <>', EHLO + 'MAIL FROM:<>\r\n', ['250', '250 2.1.0']],
  [
    'source route accepted and ignored',
    EHLO + 'MAIL FROM:<@a.example,@b.example:a@example.net>\r\n',
    ['250', '250 2.1.0'],
  ],
  ['address literal', EHLO + 'MAIL FROM:<a@[192.0.2.1]>\r\n', ['250', '250 2.1.0']],
  ['quoted local part', EHLO + 'MAIL FROM:<"a b"@example.net>\r\n', ['250', '250 2.1.0']],
  ['bad domain: 501', EHLO + 'MAIL FROM:<a@exa_mple.com>\r\n', ['250', '501 5.1.7']],
  ['domain with a trailing dot: 501', EHLO + 'MAIL FROM:<a@example.com.>\r\n', ['250', '501 5.1.7']],
  ['local part of 64 octets', EHLO + `MAIL FROM:<${'a'.repeat(64)}@example.net>\r\n`, ['250', '250 2.1.0']],
  // RFC 5321 §4.5.3.1: "to the maximum extent possible" no limits: SRS and VERP senders run past 64.
  ['sender local part of 65 octets', EHLO + `MAIL FROM:<${'a'.repeat(65)}@example.net>\r\n`, ['250', '250 2.1.0']],
  [
    'sender local part of an SRS address (78 octets)',
    EHLO + `MAIL FROM:<SRS0=Ab3d=Z7=mcsv.net=bounce-mc.us5_123456789.1234567-0123456789abcdef01234567@example.net>\r\n`,
    ['250', '250 2.1.0'],
  ],
  [
    'sender path over 256 octets: 501 (RFC 5321 §4.5.3.1.3)',
    EHLO + `MAIL FROM:<${'a'.repeat(243)}@example.net>\r\n`,
    ['250', '501 5.1.7'],
  ],
  [
    'recipient local part of 65 octets: 501 (an account name is at most 64)',
    EHLO + MAIL + `RCPT TO:<${'a'.repeat(65)}@example.com>\r\n`,
    ['250', '250 2.1.0', '501 5.1.3'],
  ],
  // RFC 6531 §3.3: a non-ASCII domain is made of U-labels; C1 and bidi controls are in no address.
  ['a C1 control in a sender domain: 501', EHLO + 'MAIL FROM:<s@ex\u0085ample.net> SMTPUTF8\r\n', ['250', '501 5.1.7']],
  [
    'a U-label whose A-label is over 63 octets: 501',
    EHLO + `MAIL FROM:<s@${'é'.repeat(63)}.example> SMTPUTF8\r\n`,
    ['250', '501 5.1.7'],
  ],
  [
    'a bidi override in a recipient local part: 501',
    EHLO + 'MAIL FROM:<a@example.net> SMTPUTF8\r\nRCPT TO:<\u202ecilA@example.com>\r\n',
    ['250', '250 2.1.0', '501 5.1.3'],
  ],
  ['a valid U-label domain', EHLO + 'MAIL FROM:<s@bücher-straße.example> SMTPUTF8\r\n', ['250', '250 2.1.0']],
  ['RCPT empty path: 501', EHLO + MAIL + 'RCPT TO:<>\r\n', ['250', '250 2.1.0', '501 5.1.3']],
  ['unknown MAIL parameter: 555', EHLO + 'MAIL FROM:<a@example.net> FOO=bar\r\n', ['250', '555 5.5.4']],
  // RFC 1869 §4: after HELO no service extension exists in the session.
  ['MAIL SIZE= after HELO: 555', 'HELO c.example\r\nMAIL FROM:<a@example.net> SIZE=100\r\n', ['250', '555 5.5.4']],
  ['MAIL SMTPUTF8 after HELO: 555', 'HELO c.example\r\nMAIL FROM:<a@example.net> SMTPUTF8\r\n', ['250', '555 5.5.4']],
  ['plain MAIL after HELO', 'HELO c.example\r\nMAIL FROM:<a@example.net>\r\n', ['250', '250 2.1.0']],
  [
    'BDAT after HELO: 502, its chunk read and dropped',
    'HELO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nBDAT 5 LAST\r\nhelloNOOP\r\n',
    ['250', '250 2.1.0', '250 2.1.5', '502 5.5.1', '250 2.0.0'],
  ],
  [
    'RCPT parameter: 555',
    EHLO + MAIL + 'RCPT TO:<alice@example.com> NOTIFY=NEVER\r\n',
    ['250', '250 2.1.0', '555 5.5.4'],
  ],
  ['SIZE within the maximum', EHLO + 'MAIL FROM:<a@example.net> SIZE=10000\r\n', ['250', '250 2.1.0']],
  [
    'a trailing space after the parameters is taken',
    EHLO + 'MAIL FROM:<a@example.net> SIZE=100 \r\n',
    ['250', '250 2.1.0'],
  ],
  [
    'two spaces between parameters: 501',
    EHLO + 'MAIL FROM:<a@example.net> SIZE=100  BODY=8BITMIME\r\n',
    ['250', '501 5.5.4'],
  ],
  ['SIZE over the maximum: 552 (RFC 1870)', EHLO + 'MAIL FROM:<a@example.net> SIZE=10001\r\n', ['250', '552 5.3.4']],
  ['BODY=8BITMIME', EHLO + 'MAIL FROM:<a@example.net> BODY=8BITMIME\r\n', ['250', '250 2.1.0']],
  // RFC 5321 §4.1.1.11: 555 for a value known but not implemented; an unknown value is a syntax error.
  ['BODY=BINARYMIME: 555', EHLO + 'MAIL FROM:<a@example.net> BODY=BINARYMIME\r\n', ['250', '555 5.5.4']],
  // Python's smtplib repeats SMTPUTF8 and BODY=8BITMIME that a caller also passes in mail_options.
  [
    'a parameter repeated as it was: taken once; with another value: 501',
    EHLO +
      'MAIL FROM:<a@example.net> SIZE=224 SMTPUTF8 BODY=8BITMIME SMTPUTF8 BODY=8BITMIME\r\nRSET\r\n' +
      'MAIL FROM:<a@example.net> BODY=7BIT BODY=8BITMIME\r\n',
    ['250', '250 2.1.0', '250 2.0.0', '501 5.5.4'],
  ],
  ['BODY=FOO: 501', EHLO + 'MAIL FROM:<a@example.net> BODY=FOO\r\n', ['250', '501 5.5.4']],
  ['non-ASCII sender without SMTPUTF8: 553', EHLO + 'MAIL FROM:<jörg@example.net>\r\n', ['250', '553 5.6.7']],
  ['non-ASCII sender with SMTPUTF8', EHLO + 'MAIL FROM:<jörg@example.net> SMTPUTF8\r\n', ['250', '250 2.1.0']],
  [
    'non-ASCII recipient without SMTPUTF8: 553',
    EHLO + MAIL + 'RCPT TO:<jörg@example.com>\r\n',
    ['250', '250 2.1.0', '553 5.6.7'],
  ],
  [
    'non-ASCII recipient with SMTPUTF8',
    EHLO + 'MAIL FROM:<a@example.net> SMTPUTF8\r\nRCPT TO:<jörg@example.com>\r\n',
    ['250', '250 2.1.0', '250 2.1.5'],
  ],
  [
    '<postmaster> accepted (RFC 5321 §4.1.1.3)',
    EHLO + MAIL + 'RCPT TO:<Postmaster>\r\n',
    ['250', '250 2.1.0', '250 2.1.5'],
  ],
  ['relay refused by the check', EHLO + MAIL + 'RCPT TO:<x@example.org>\r\n', ['250', '250 2.1.0', '554 5.7.1']],
  // Line limits, RFC 5321 §4.5.3.1.4 and §2.3.8.
  ['command of 512 octets', `NOOP ${'x'.repeat(505)}\r\n`, ['250 2.0.0']],
  ['command of 513 octets: 500, then usable', `NOOP ${'x'.repeat(506)}\r\nNOOP\r\n`, ['500 5.5.2', '250 2.0.0']],
  ['long line without LF: one 500, then usable', `NOOP ${'x'.repeat(2000)}\r\nNOOP\r\n`, ['500 5.5.2', '250 2.0.0']],
  ['bare LF in a command (reject): 500', 'NOOP\nNOOP\r\n', ['500 5.5.2', '250 2.0.0']],
  [
    'bare LF in a command (normalize): accepted',
    'NOOP\nNOOP\r\n',
    ['250 2.0.0', '250 2.0.0'],
    { bareLineEndings: 'normalize' },
  ],
  ['bare CR in a command: 500 in both modes', 'NO\rOP\r\n', ['500 5.5.2'], { bareLineEndings: 'normalize' }],
  ['invalid UTF-8 in a command: 501', Buffer.from('NOOP \xff\xfe\r\n', 'latin1'), ['501 5.5.4']],
  // Limits.
  [
    'too many recipients: 452 (RFC 5321 §4.5.3.1.10)',
    EHLO + MAIL + rcpts(3),
    ['250', '250 2.1.0', '250 2.1.5', '250 2.1.5', '452 4.5.3'],
    { maxRecipients: 2 },
  ],
  [
    // Postfix's smtpd_recipient_overshoot_limit: a long list is not a run of errors (maxErrors 3 here).
    'recipients over the limit are not errors: the transaction goes on to DATA',
    EHLO + MAIL + rcpts(7) + 'DATA\r\n',
    [
      '250',
      '250 2.1.0',
      '250 2.1.5',
      '250 2.1.5',
      '452 4.5.3',
      '452 4.5.3',
      '452 4.5.3',
      '452 4.5.3',
      '452 4.5.3',
      '354',
    ],
    { maxRecipients: 2, maxErrors: 3 },
  ],
  [
    'maxErrors: 421 and close',
    'A\r\nB\r\nC\r\nNOOP\r\n',
    ['500 5.5.1', '500 5.5.1', '500 5.5.1', '421 4.7.0'],
    { maxErrors: 3 },
  ],
  [
    'maxCommandsBeforeMail: 421',
    EHLO + 'NOOP\r\nNOOP\r\nNOOP\r\n',
    ['250', '250 2.0.0', '250 2.0.0', '421 4.7.0'],
    { maxCommandsBeforeMail: 3 },
  ],
  [
    // Postfix resets its junk command count when mail is delivered: MAIL then RSET, again and again, is none.
    'MAIL alone does not reset the command count',
    EHLO + 'NOOP\r\n' + MAIL + 'RSET\r\nNOOP\r\n',
    ['250', '250 2.0.0', '250 2.1.0', '250 2.0.0', '421 4.7.0'],
    { maxCommandsBeforeMail: 3 },
  ],
  [
    'an accepted message resets the command count',
    `${EHLO}NOOP\r\n${TX}DATA\r\nSubject: x\r\n\r\nx\r\n.\r\nNOOP\r\nRSET\r\nNOOP\r\n`,
    ['250', '250 2.0.0', '250', '250 2.1.0', '250 2.1.5', '354', '250 2.0.0', '250 2.0.0', '250 2.0.0', '250 2.0.0'],
    { maxCommandsBeforeMail: 3 },
  ],
  // Pipelining, RFC 2920: replies in order, whatever the chunking.
  [
    'pipelined MAIL RCPT RCPT DATA',
    EHLO + MAIL + RCPT + 'RCPT TO:<bob@example.com>\r\nDATA\r\n',
    ['250', '250 2.1.0', '250 2.1.5', '250 2.1.5', '354'],
  ],
  ['QUIT: 221 and close', 'QUIT\r\nNOOP\r\n', ['221 2.0.0']],
  ['QUIT with an argument: 501', 'QUIT now\r\n', ['501 5.5.4']],
  // Trailing spaces are no argument (Postfix takes them); a tab is not a space here.
  ['QUIT with two trailing spaces: 221', 'QUIT  \r\n', ['221 2.0.0']],
  ['RSET with three trailing spaces: 250', 'RSET   \r\n', ['250 2.0.0']],
  ['DATA with two trailing spaces: 354', TX + 'DATA  \r\n', ['250', '250 2.1.0', '250 2.1.5', '354']],
  ['QUIT with a trailing tab: 501', 'QUIT \t\r\n', ['501 5.5.4']],
  ['STARTTLS with two trailing spaces: 220', 'STARTTLS  \r\n', ['220 2.0.0'], { tls: 'starttls' }],
  // RFC 5321 §4.1.1.10: QUIT always gets 221, even as the command one past maxCommandsBeforeMail.
  [
    'QUIT past maxCommandsBeforeMail: 221',
    'NOOP\r\nNOOP\r\nQUIT\r\n',
    ['250 2.0.0', '250 2.0.0', '221 2.0.0'],
    { maxCommandsBeforeMail: 2 },
  ],
  [
    'NOOP past maxCommandsBeforeMail: 421',
    'NOOP\r\nNOOP\r\nNOOP\r\n',
    ['250 2.0.0', '250 2.0.0', '421 4.7.0'],
    { maxCommandsBeforeMail: 2 },
  ],
  // RFC 5321 §4.1.1 and RFC 5234 §2.3: verbs and keywords are ASCII, case-insensitive in ASCII only.
  // Unicode case mapping would read "ı" as I, "ſ" as S and "ﬆ" as ST (Postfix: 500 and 555).
  ['"maıl" (dotless i) is no MAIL: 500', EHLO + 'maıl FROM:<s@example.net>\r\n', ['250', '500 5.5.1']],
  ['"quıt" is no QUIT: 500, and the session stays', 'quıt\r\nNOOP\r\n', ['500 5.5.1', '250 2.0.0']],
  ['"rſet" (long s) is no RSET: 500', 'rſet\r\n', ['500 5.5.1']],
  ['"ﬆARTTLS" (ligature) is no STARTTLS: 500', EHLO + 'ﬆARTTLS\r\n', ['250', '500 5.5.1'], { tls: 'starttls' }],
  ['"ſIZE=10" is no SIZE parameter: 501', EHLO + 'MAIL FROM:<s@example.net> ſIZE=10\r\n', ['250', '501 5.5.4']],
  ['"BODY=8bıtmıme" is no BODY value: 501', EHLO + 'MAIL FROM:<s@example.net> BODY=8bıtmıme\r\n', ['250', '501 5.5.4']],
  [
    'ASCII case still folds: "Rset", "body=8bitmime"',
    EHLO + 'MAIL FROM:<s@example.net> body=8bitmime\r\nRset\r\n',
    ['250', '250 2.1.0', '250 2.0.0'],
  ],
];

for (const [name, input, want, options] of cases) {
  test(name, () => {
    const d = new Driver(options);
    assert.deepEqual(d.send(input), want);
  });
}

test('greeting is 220 with the hostname (RFC 5321 §4.3.1)', () => {
  const d = new Driver();
  assert.deepEqual(d.replies, ['220 mx.example.com ESMTP Postern\r\n']);
});

test('EHLO lists the extensions, one per line', () => {
  const d = new Driver({ maxMessageSize: 12345 });
  d.send(EHLO);
  assert.equal(
    d.replies[1],
    '250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 12345\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n' +
      '250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n',
  );
});

test('closing effects: QUIT, maxErrors and maxCommandsBeforeMail close; later input is ignored', () => {
  for (const [input, options] of [
    ['QUIT\r\n', {}],
    ['A\r\nB\r\n', { maxErrors: 2 }],
    ['NOOP\r\nNOOP\r\n', { maxCommandsBeforeMail: 1 }],
  ] as const) {
    const d = new Driver(options);
    d.send(input);
    assert.equal(d.closed, true, input);
    assert.deepEqual(d.send('NOOP\r\n'), [], 'nothing after close');
  }
});

test('shutdown(): an idle session gets 421 and closes; a busy one is left to finish, then gets 421', () => {
  const idle = new Driver();
  idle.send(EHLO);
  assert.deepEqual(idle.shutdown(), ['421 4.3.2']);
  assert.equal(idle.closed, true);
  const busy = inTransaction();
  assert.deepEqual(busy.shutdown(), []);
  assert.equal(busy.closed, false);
  assert.deepEqual(busy.send('DATA\r\nx\r\n.\r\n'), ['354', '250 2.0.0', '421 4.3.2']);
  assert.equal(busy.messages.length, 1);
  assert.equal(busy.closed, true);
  assert.deepEqual(busy.shutdown(), [], 'closed already');
});

test('bare LF in a command with normalize mode keeps a CRLF line usable', () => {
  const d = new Driver({ bareLineEndings: 'normalize' });
  assert.deepEqual(d.send('EHLO a.example\nMAIL FROM:<a@example.net>\nRCPT TO:<alice@example.com>\n'), [
    '250',
    '250 2.1.0',
    '250 2.1.5',
  ]);
});

test('reply text is printable ASCII within 512 octets, even when it echoes the client (RFC 5321 §4.2.1, §4.5.3.1.5)', () => {
  const d = new Driver();
  d.send(EHLO);
  d.send(`MAIL FROM:<a@example.net> ${'P'.repeat(470)}=1\r\n`);
  d.send('MAIL FROM:<a@ex\x1bample.com>\r\n');
  d.send('MAIL FROM:<a@exämple_.com>\r\n');
  d.send(`NOOP ${'x'.repeat(600)}\r\n`);
  assert.equal(d.replies.length, 6);
  for (const line of d.replies.join('').split(/(?<=\r\n)/)) {
    assert.match(line, /^[\t\x20-\x7e]*\r\n$/, line);
    assert.ok(line.length <= 512, `${line.length} octets`);
  }
  assert.match(d.replies[4]!, /\(RFC 5321 section 4\.1\.2\)/);
});

test('a refused EHLO leaves the transaction as it was; an accepted one resets it (RFC 5321 §4.1.4)', () => {
  const d = new Driver({}, (effect) => {
    if (effect.type === 'check' && effect.stage === 'helo' && effect.helo === 'bad.example') {
      return { action: 'reject', reply: { code: 550, enhanced: '5.7.1', lines: ['Helo command rejected'] } };
    }
    return acceptAll(effect);
  });
  assert.deepEqual(d.send(EHLO + MAIL + RCPT), ['250', '250 2.1.0', '250 2.1.5']);
  assert.deepEqual(d.send('EHLO bad.example\r\n'), ['550 5.7.1']);
  assert.deepEqual(d.send(RCPT), ['250 2.1.5'], 'MAIL still stands');
  assert.deepEqual(d.send(EHLO + RCPT), ['250', '503 5.5.1'], 'an accepted EHLO is a RSET: RCPT needs MAIL again');
});

test('HELP lists what this session takes: VRFY only when it is not off', () => {
  const helpOf = (vrfy: 'off' | 'ambiguous') => {
    const d = new Driver({ vrfy });
    d.send('HELP\r\n');
    return d.replies.at(-1) ?? '';
  };
  // Before, HELP listed VRFY while the default answers 502 to it.
  assert.doesNotMatch(helpOf('off'), /VRFY/);
  assert.match(helpOf('ambiguous'), /^214 2\.0\.0 See RFC 5321; commands: .* HELP VRFY\r\n$/);
});

test('HELP lists BDAT to a client that greeted with EHLO (or not yet), not to one that used HELO, which BDAT refuses', () => {
  const helpAfter = (greeting: string) => {
    const d = new Driver();
    d.send(`${greeting}HELP\r\n`);
    return d.replies.at(-1) ?? '';
  };
  assert.match(helpAfter(''), / DATA BDAT RSET /);
  assert.match(helpAfter('EHLO a.example\r\n'), / DATA BDAT RSET /);
  assert.match(helpAfter('HELO a.example\r\n'), / DATA RSET /);
  const d = new Driver();
  d.send('HELO a.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\n');
  assert.deepEqual(d.send('BDAT 4 LAST\r\nabcd'), ['502 5.5.1']);
});

test('MAIL may run 26 octets past 512 for SIZE (RFC 1870 §3), and 500 more for AUTH= where AUTH is offered (RFC 4954 §3)', () => {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  // A long alias of 64 + 1 + 180 octets, and an AUTH= naming the author's long address too.
  const sender = `${'s'.repeat(64)}@${'d'.repeat(60)}.${'e'.repeat(60)}.${'f'.repeat(57)}.example`;
  const mail = (auth: string) => `MAIL FROM:<${sender}> SIZE=1000 BODY=8BITMIME AUTH=${auth}\r\n`;
  const d = new Driver({ tls: 'implicit', submission: true, authMechanisms: ['PLAIN'] });
  d.send(EHLO);
  assert.deepEqual(d.send(`AUTH PLAIN ${b64('secret')}\r\n`), ['235 2.7.0']);
  const long = mail(`${'a'.repeat(64)}@${'b'.repeat(180)}.example`);
  assert.ok(long.length > 512 && long.length <= 1038, String(long.length));
  assert.deepEqual(d.send(long), ['250 2.1.0'], 'was 500 5.5.2 Line too long');
  // Past 512 + 26 + 500, and any other command past 512, is still too long.
  assert.deepEqual(d.send(`RSET\r\n${mail(`${'a'.repeat(64)}@${'b'.repeat(700)}`)}`), ['250 2.0.0', '500 5.5.2']);
  assert.deepEqual(d.send(`RCPT TO:<alice@example.com> ${'x'.repeat(520)}\r\n`), ['500 5.5.2']);
  assert.deepEqual(d.send(`NOOP ${'x'.repeat(506)}\r\n`), ['500 5.5.2']);
  // Where AUTH is not offered (an MX listener), MAIL gets SIZE's 26 octets only: a line of 538 octets is
  // read (and its unknown parameter refused), one of 539 is too long.
  const mx = new Driver({});
  mx.send(EHLO);
  const withParameter = (octets: number) => {
    const head = 'MAIL FROM:<a@example.net> X=';
    return `${head}${'y'.repeat(octets - head.length - 2)}\r\n`;
  };
  assert.deepEqual(mx.send(withParameter(538)), ['555 5.5.4']);
  assert.deepEqual(mx.send(withParameter(539)), ['500 5.5.2']);
});

test('reply texts name the problem: an empty local part is not a "bad source route"; a RCPT parameter is named', () => {
  const d = new Driver();
  d.send(EHLO);
  assert.deepEqual(d.send('MAIL FROM:<@example.net>\r\n'), ['501 5.1.7']);
  assert.match(d.replies.at(-1)!, /^501 5\.1\.7 Syntax error: empty local part/);
  assert.deepEqual(d.send('MAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com> NOTIFY=NEVER\r\n'), [
    '250 2.1.0',
    '555 5.5.4',
  ]);
  assert.equal(d.replies.at(-1), '555 5.5.4 Unsupported parameter NOTIFY\r\n');
  d.send('RSET\r\nMAIL FROM:<a@example.net> BODY=BINARYMIME\r\n');
  assert.equal(d.replies.at(-1), '555 5.5.4 Unsupported parameter value BODY=BINARYMIME\r\n');
});

test('a recipient domain in U-labels, NFD or A-labels is one domain: the mailbox is kept once', () => {
  let recipients: string[] = [];
  const d = new Driver({ maxRecipients: 5 }, (effect) => {
    if (effect.type === 'message') recipients = effect.envelope.recipients.map(({ path }) => path.address);
    if (effect.type === 'check' && effect.stage === 'rcpt') {
      return { action: 'continue', route: { kind: 'outbound' } };
    }
    return acceptAll(effect);
  });
  d.send(`${EHLO}MAIL FROM:<a@example.net> SMTPUTF8\r\n`);
  // RFC 5890 §2.3.2.1, RFC 5891 §5.2: bücher.test, its NFD spelling and xn--bcher-kva.test name one host.
  for (const to of ['x@bücher.test', 'x@bu\u0308cher.test', 'x@XN--BCHER-KVA.test', 'x@BÜCHER.test', 'y@bücher.test']) {
    assert.deepEqual(d.send(`RCPT TO:<${to}>\r\n`), ['250 2.1.5'], to);
  }
  // Every RCPT answered 250 counts toward maxRecipients, a spelling of one already given too.
  assert.deepEqual(d.send('RCPT TO:<z@bücher.test>\r\n'), ['452 4.5.3']);
  d.send('DATA\r\nSubject: x\r\n\r\nx\r\n.\r\n');
  assert.deepEqual(recipients, ['x@bücher.test', 'y@bücher.test']);
});

test('a recipient given again and again counts toward maxRecipients each time (Postfix counts every accepted RCPT)', () => {
  const d = new Driver({ maxRecipients: 3 });
  d.send(EHLO + MAIL);
  assert.deepEqual(d.send(RCPT.repeat(3)), ['250 2.1.5', '250 2.1.5', '250 2.1.5']);
  // Without the count every duplicate got 250 and a restriction check, without end.
  assert.deepEqual(d.send(RCPT), ['452 4.5.3']);
  // A new transaction starts its own count.
  d.send('RSET\r\n');
  d.send(MAIL);
  assert.deepEqual(d.send(RCPT), ['250 2.1.5']);
});

test('an "xn--" recipient domain that is no A-label: 501 5.1.3 (RFC 5890 §2.3.2.1, RFC 3463)', () => {
  const d = new Driver();
  d.send(EHLO + MAIL);
  assert.deepEqual(d.send('RCPT TO:<x@xn--zz.example.com>\r\n'), ['501 5.1.3']);
  assert.deepEqual(d.send('RCPT TO:<x@mail.XN--ZZ.example.com>\r\n'), ['501 5.1.3']);
  assert.deepEqual(d.send('RCPT TO:<x@xn--bcher-kva.example.com>\r\n'), ['554 5.7.1'], 'an A-label passes the syntax');
});

test('shutdown: a transaction that ends in a refusal starts no new one; MAIL gets 421 4.3.2 and the session closes', () => {
  // RFC 5321 §3.8. Content over the size limit ends the transaction with 552; before, a MAIL pipelined
  // behind it (RFC 2920) opened a new transaction in a draining session.
  const d = new Driver({ maxMessageSize: 10 });
  d.send(`${TX}DATA\r\n`);
  assert.deepEqual(d.shutdown(), [], 'in a transaction: left to finish');
  const said = d.send(`${'x'.repeat(40)}\r\n.\r\n${MAIL}${RCPT}`);
  assert.deepEqual(said, ['552 5.3.4', '421 4.3.2']);
  assert.equal(d.closed, true);
});
