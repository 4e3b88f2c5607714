import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDateTime } from '../../src/mime/date.ts';
import { decodeEncodedWords } from '../../src/mime/encoded-word.ts';
import { summarize } from '../../src/mime/summary.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

// RFC 2047 §8, the examples, plus common real-world forms.
const ENCODED_WORDS: [input: string, decoded: string][] = [
  ['=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>', 'Keith Moore <moore@cs.utk.edu>'],
  ['=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>', 'Keld J\u00f8rn Simonsen <keld@dkuug.dk>'],
  ['=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>', 'Andr\u00e9 Pirard <PIRARD@vm1.ulg.ac.be>'],
  [
    '=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=',
    'If you can read this you understand the example.',
  ],
  ['=?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>', 'Olle J\u00e4rnefors <ojarnef@admin.kth.se>'],
  ['=?ISO-8859-1?Q?Patrik_F=E4ltstr=F6m?= <paf@nada.kth.se>', 'Patrik F\u00e4ltstr\u00f6m <paf@nada.kth.se>'],
  [
    'Nathaniel Borenstein <nsb@thumper.bellcore.com> (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)',
    'Nathaniel Borenstein <nsb@thumper.bellcore.com> (\u05dd\u05d5\u05dc\u05e9 \u05df\u05d1 \u05d9\u05dc\u05d8\u05e4\u05e0)',
  ],
  ['(=?ISO-8859-1?Q?a?=)', '(a)'],
  ['(=?ISO-8859-1?Q?a?= b)', '(a b)'],
  ['(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)', '(ab)'],
  ['(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)', '(ab)'],
  ['(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)', '(ab)'],
  ['(=?ISO-8859-1?Q?a_b?=)', '(a b)'],
  ['(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)', '(a b)'],
  // Beyond §8:
  ['=?UTF-8?B?8J+TrA==?= mail', '\u{1f4ec} mail'],
  ['=?utf-8?q?caf=C3=A9?=', 'caf\u00e9'],
  ['=?UTF-8*en?Q?hello?=', 'hello'], // RFC 2231 §5 language tag
  ['=?UTF-8?B?w6k?=', '\u00e9'], // missing base64 padding
  ['=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?=', '\u00e9'], // a character split across two words
  ['=?UTF-8?Q?=C3?= =?utf-8?Q?=A9?=', '\u00e9'], // … under labels that differ in case
  ['=?utf-8?Q?=C3?= =?utf8?Q?=A9?=', '\u00e9'], // … or name one charset two ways
  ['=?ISO-2022-JP?B?GyRCJUY=?= =?ISO-2022-JP?B?JTklSBsoQg==?=', '\u30c6\u30b9\u30c8'], // split mid-sequence
  ['=?ISO-2022-JP?B?GyRCJUYbKEI=?= =?ISO-2022-JP?B?GyRCJTklSBsoQg==?=', '\u30c6\u30b9\u30c8'], // each word back to ASCII
  ['=?UTF-8?Q?a b?=', '=?UTF-8?Q?a b?='], // a space inside: not an encoded-word (§2)
  ['=?x-unknown?Q?abc?=', '=?x-unknown?Q?abc?='], // unknown charset: shown as written, §6.2
  ['=?UTF-8?B?!!!?=', '=?UTF-8?B?!!!?='], // not base64
  ['plain text', 'plain text'],
  ['a =?UTF-8?Q?b?= c', 'a b c'],
];
for (const [input, decoded] of ENCODED_WORDS) {
  test(`decodes ${JSON.stringify(input)}`, () => assert.equal(decodeEncodedWords(input), decoded));
}

test('lenient (the filters): a charset no decoder knows and spaces inside a word are decoded; bad base64 is not', () => {
  const lenient = (text: string) => decodeEncodedWords(text, { lenient: true });
  assert.equal(lenient('=?x-unknown?Q?caf=C3=A9?='), 'caf\u00e9'); // valid UTF-8
  assert.equal(lenient('=?x-unknown?Q?caf=E9?='), 'caf\u00e9'); // else windows-1252, as an unknown body
  assert.equal(lenient('=?UTF-8?Q?a b?= =?UTF-8?B?w6 k=?='), 'a b\u00e9');
  assert.equal(lenient('=?UTF-8?B?w6=k?= x'), '=?UTF-8?B?w6=k?= x'); // RFC 2047 §6.3: shown as written
  for (const [input, decoded] of ENCODED_WORDS) {
    if (!input.includes('x-unknown') && !input.includes('a b')) assert.equal(lenient(input), decoded, input);
  }
});

// RFC 5322 §3.3 and Appendix A, then the obsolete forms of §4.3.
const DATES: [input: string, iso: string | null][] = [
  ['Fri, 21 Nov 1997 09:55:06 -0600', '1997-11-21T15:55:06.000Z'], // A.1.1
  ['Tue, 1 Jul 2003 10:52:37 +0200', '2003-07-01T08:52:37.000Z'], // A.1.2
  ['Thu, 13 Feb 1969 23:32:54 -0330', '1969-02-14T03:02:54.000Z'], // A.1.3
  ['Fri, 21 Nov 1997 09(comment):   55  :  06 -0600', '1997-11-21T15:55:06.000Z'], // A.6.3
  ['21 Nov 97 09:55:06 GMT', '1997-11-21T09:55:06.000Z'], // A.6.2, §4.3 two-digit year
  ['Thu, 1 Jan 04 00:00 PST', '2004-01-01T08:00:00.000Z'], // no seconds, 04 → 2004
  ['Mon, 2 Jan 106 01:02:03 EDT', '2006-01-02T05:02:03.000Z'], // three-digit year + 1900
  ['Sat, 29 Feb 2020 12:00:00 +0000 (UTC)', '2020-02-29T12:00:00.000Z'],
  ['sun, 5 jan 2025 01:02:03 z', '2025-01-05T01:02:03.000Z'], // military zone → -0000
  ['Fri 21 Nov 1997 09:55:06 -0600', '1997-11-21T15:55:06.000Z'], // missing comma tolerated
  ['Fri, 30 Feb 2021 09:55:06 -0600', null], // no such day
  ['Fri, 21 Nov 1997 24:00:00 -0600', null],
  ['Fri, 21 Nov 1997 09:55:06 -0675', null],
  ['Fri, 21 Foo 1997 09:55:06 -0600', null],
  ['Xyz, 21 Nov 1997 09:55:06 -0600', null],
  ['21 Nov 1800 09:55:06 +0000', null], // §3.3: 1900 or later
  ['Fri, 21 Nov 1997 09:55:06', null], // zone required
  ['2024-01-02T03:04:05Z', null], // ISO 8601 is not a mail date
  ['', null],
  ['yesterday', null],
  // The canonical form, which parseDateTime reads char by char:
  ['SAT, 28 NOV 2026 15:00:00 +0000', '2026-11-28T15:00:00.000Z'], // names in any case
  ['Fri, 1 Nov 1997 09:55 -0600', '1997-11-01T15:55:00.000Z'], // one-digit day, no seconds
  ['Tue, 29 Feb 2000 12:00:00 +0000', '2000-02-29T12:00:00.000Z'], // 2000 is a leap year
  ['Mon, 29 Feb 2100 12:00:00 +0000', null], // 2100 is not
  ['Fri, 21 Nov 1997 09:55:60 +0000', '1997-11-21T09:56:00.000Z'], // a leap second
  ['Fri, 21 Nov 1997 09:55:06 +0060', null],
  ['Fri, 21 Nov 1997 09:55:06 +2400', null], // §3.3: the zone is hhmm, hours to 23
  ['Fri, 21 Nov 1997 09:55:06 -9900', null],
  ['Fri, 21 Nov 97 09:55:06 +2400', null], // the general path
  ['Fri, 21 Nov 1997 09:55:06 +2359', '1997-11-20T09:56:06.000Z'],
  ['Fri, 21 N0v 1997 09:55:06 -0600', null],
  ['Fri, 21 Nov 1997 09:55:06 -0600x', null],
  ['Fri, 21 Nov 1997 9:55:06 -0600', '1997-11-21T15:55:06.000Z'], // one-digit hour: the general path
  ['Sat, 28 Nov 2026 15:27:17 +0000 (UTC)', '2026-11-28T15:27:17.000Z'], // as Postfix writes it
  ['Sat, 28 Nov 2026 15:27:17 +0100 (a (nested) comment)', '2026-11-28T14:27:17.000Z'],
];
for (const [input, iso] of DATES) {
  test(`parses Date ${JSON.stringify(input)}`, () => assert.equal(parseDateTime(input)?.toISOString() ?? null, iso));
}

test('the char-by-char reading of the canonical form agrees with the general one on random dates', () => {
  // A trailing space sends a value down the general path (it trims), so each value is read both ways.
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pick = <T>(items: readonly T[]): T => items[random(items.length)] as T;
  const pad = (n: number) => String(n).padStart(2, '0');
  for (let i = 0; i < 2000; i++) {
    const day = pick(['', 'Mon, ', 'sun, ', 'FRI, ', 'Xyz, ']);
    const date = `${random(33)} ${pick(['Jan', 'feb', 'MAR', 'Sep', 'Dec', 'Foo'])} ${1890 + random(250)}`;
    const time = `${pad(random(26))}:${pad(random(62))}${random(2) ? `:${pad(random(62))}` : ''}`;
    const zone = `${pick(['+', '-'])}${pad(random(30))}${pad(random(62))}`;
    const comment = pick([
      '',
      '',
      ' (UTC)',
      ' (Coordinated Universal Time)',
      ' (a (b))',
      ' (x\\)',
      '(UTC)',
      ' ()',
      ' x)',
      ' (a) (b)',
    ]);
    const value = `${day}${date} ${time} ${zone}${comment}`;
    assert.equal(parseDateTime(value)?.getTime(), parseDateTime(`${value} `)?.getTime(), value);
  }
});

test('summarizes From, Subject, Date and Message-ID from the header section only', () => {
  const message = bytes(
    'Received: from a.example by b.example; Fri, 21 Nov 1997 09:55:06 -0600\r\n' +
      'From: =?ISO-8859-1?Q?Patrik_F=E4ltstr=F6m?= <paf@nada.kth.se>\r\n' +
      'Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n' +
      ' =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\r\n' +
      'Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n' +
      'Message-ID: <1234@local.machine.example>\r\n' +
      '\r\n' +
      'Subject: not a header, this is the body\r\n',
  );
  assert.deepEqual(summarize(message), {
    from: 'Patrik F\u00e4ltstr\u00f6m <paf@nada.kth.se>',
    subject: 'If you can read this you understand the example.',
    date: new Date('1997-11-21T15:55:06Z'),
    messageId: '<1234@local.machine.example>',
  });
});

const SUMMARIES: [name: string, message: string, want: Partial<ReturnType<typeof summarize>>][] = [
  [
    'unfolds a folded Subject (RFC 5322 §2.2.3)',
    'Subject: This is a test\r\n message\r\n\r\n',
    { subject: 'This is a test message' },
  ],
  [
    'accepts bare LF line ends',
    'Subject: bare\n lf\nFrom: a@example.com\n\nSubject: body\n',
    { subject: 'bare lf', from: 'a@example.com' },
  ],
  ['takes the first of repeated fields', 'Subject: one\r\nSubject: two\r\n\r\n', { subject: 'one' }],
  [
    'matches field names case-insensitively',
    'SUBJECT: loud\r\nmessage-id: <a@b>\r\n\r\n',
    { subject: 'loud', messageId: '<a@b>' },
  ],
  ['accepts whitespace before the colon (§4.5)', 'Subject : spaced\r\n\r\n', { subject: 'spaced' }],
  ['gives null for an unparsable Date', 'Date: someday\r\n\r\n', { date: null }],
  ['gives null for a missing Message-ID', 'Subject: x\r\n\r\n', { messageId: null }],
  [
    'keeps only the msg-id of a Message-ID with comments',
    'Message-ID: (c) <id@example.com> (c)\r\n\r\n',
    { messageId: '<id@example.com>' },
  ],
  ['keeps an unbracketed Message-ID as written', 'Message-ID: id@example.com\r\n\r\n', { messageId: 'id@example.com' }],
  ['decodes raw 8-bit UTF-8', 'Subject: Gr\u00fc\u00dfe\r\n\r\n', { subject: 'Gr\u00fc\u00dfe' }],
  ['turns decoded CR LF into spaces', 'Subject: =?UTF-8?Q?a=0D=0AX-Evil:_1?=\r\n\r\n', { subject: 'a  X-Evil: 1' }],
  ['reads nothing when the message starts with an empty line', '\r\nSubject: body\r\n', { subject: '', from: '' }],
  [
    'skips an mbox From_ line',
    'From alice@example.com Mon Jan  1 00:00:00 2024\r\nSubject: s\r\n\r\n',
    { subject: 's', from: '' },
  ],
];
for (const [name, message, want] of SUMMARIES) {
  test(name, () => {
    const summary = summarize(bytes(message));
    for (const [key, value] of Object.entries(want)) assert.deepEqual(summary[key as keyof typeof summary], value, key);
  });
}

test('tolerates invalid UTF-8 with replacement characters', () => {
  const message = Uint8Array.from([...bytes('Subject: caf'), 0xe9, ...bytes('\r\n\r\n')]); // Latin-1 é, raw
  assert.equal(summarize(message).subject, 'caf\ufffd');
});

test('never throws on garbage', () => {
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  const alphabet = bytes('=?:<>()\\"_ \t\r\nQBqbutf-8ISO8859abc@.,0123456789+-');
  for (let round = 0; round < 2000; round++) {
    const length = random() % 400;
    const input = Uint8Array.from({ length }, () =>
      random() % 3 === 0 ? random() % 256 : (alphabet[random() % alphabet.length] ?? 0),
    );
    const summary = summarize(input);
    assert.equal(typeof summary.subject, 'string');
    assert.equal(typeof summary.from, 'string');
  }
  assert.deepEqual(summarize(new Uint8Array()), { from: '', subject: '', date: null, messageId: null });
});

test('reads no further than the header cap on a message without an empty line', () => {
  const huge = bytes(`Subject: big\r\nX-Filler: ${'x'.repeat(1024 * 1024)}`);
  assert.equal(summarize(huge).subject, 'big');
});
