// SmtpSession content: DATA (RFC 5321 §4.1.1.4, §4.5.2) and BDAT (RFC 3030), without sockets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContentDecoder } from '../../src/smtp/data-decoder.ts';
import { replies, reply } from '../../src/smtp/replies.ts';
import { type Effect, SmtpSession } from '../../src/smtp/session.ts';
import { acceptAll, Driver, inTransaction, sessionDefaults } from '../support/session-driver.ts';

const READY = ['220', '250', '250 2.1.0', '250 2.1.5'];
const long = (n: number) => 'x'.repeat(n);
const lines = (n: number) => `${long(98)}\r\n`.repeat(n); // 100 octets each

type DataCase = [name: string, wire: string, want: string[], stored: string | null];
const dataCases: DataCase[] = [
  ['a message', 'Subject: hi\r\n\r\nbody\r\n.\r\n', ['354', '250 2.0.0'], 'Subject: hi\r\n\r\nbody\r\n'],
  ['an empty message', '.\r\n', ['354', '250 2.0.0'], ''],
  [
    'dot-unstuffing: "..x" is ".x" (§4.5.2)',
    'a\r\n..x\r\n..\r\n...\r\n.\r\n',
    ['354', '250 2.0.0'],
    'a\r\n.x\r\n.\r\n..\r\n',
  ],
  ['a dot inside a line stays', 'a.b\r\n x.\r\n.\r\n', ['354', '250 2.0.0'], 'a.b\r\n x.\r\n'],
  ['8-bit and NUL content is kept', 'caf\u00e9 \0\r\n.\r\n', ['354', '250 2.0.0'], 'caf\u00e9 \0\r\n'],
  ['a line of 998 octets + CRLF', `${long(998)}\r\n.\r\n`, ['354', '250 2.0.0'], `${long(998)}\r\n`],
  // §4.5.3.1.6; refused at the end of the data, so with a code DATA may end with (§4.3.2: 554), not 500.
  ['a line of 999 octets: 554 after the end (§4.5.3.1.6)', `${long(999)}\r\nmore\r\n.\r\n`, ['354', '554 5.6.0'], null],
  // §4.5.3.1.6: the leading dot doubled for transparency is not counted.
  ['a stuffed line of 998 octets + its dot', `.${'.'}${long(997)}\r\n.\r\n`, ['354', '250 2.0.0'], `.${long(997)}\r\n`],
  ['a stuffed line of 999 octets: 554', `..${long(998)}\r\n.\r\n`, ['354', '554 5.6.0'], null],
  ['bare LF: 550 after the real end', 'a\nb\r\n.\r\n', ['354', '550 5.6.11'], null],
  ['bare CR: 550 after the real end', 'a\rb\r\n.\r\n', ['354', '550 5.6.11'], null],
];

for (const [name, wire, want, stored] of dataCases) {
  test(`DATA: ${name}`, () => {
    const d = inTransaction();
    assert.deepEqual([...d.codes.slice(0, 4), ...d.send(`DATA\r\n${wire}`)], [...READY, ...want]);
    assert.deepEqual(
      d.messages.map((m) => m.toString('utf8')),
      stored === null ? [] : [stored],
    );
    assert.deepEqual(d.send('NOOP\r\n'), ['250 2.0.0'], 'back in command phase');
  });
}

test('DATA: bare LF normalized to CRLF in normalize mode, and a "." after it is content', () => {
  const d = inTransaction({ bareLineEndings: 'normalize' });
  assert.deepEqual(d.send('DATA\r\na\nb\r\n.\n.\r\n.\r\n'), ['354', '250 2.0.0']);
  assert.equal(d.messages[0]!.toString(), 'a\r\nb\r\n.\r\n.\r\n');
});

test('DATA: a message over the size limit gets 552 5.3.4 and is not kept while it streams', () => {
  const d = inTransaction({ maxMessageSize: 2000 });
  assert.deepEqual(d.send('DATA\r\n'), ['354']);
  for (let i = 0; i < 100; i++) assert.deepEqual(d.send(`${long(98)}\r\n`), []);
  assert.deepEqual(d.send('.\r\n'), ['552 5.3.4']);
  assert.equal(d.messages.length, 0);
  const decoder = new ContentDecoder({ maxSize: 2000, bareLineEndings: 'reject', dotStuffed: true });
  for (let i = 0; i < 100; i++) decoder.push(Buffer.from(`${long(98)}\r\n`));
  assert.equal(decoder.problem, 'too-large');
  assert.ok(decoder.decodedSize <= 2100, `counting stops at the limit (${decoder.decodedSize})`);
});

test('content held in few buffers whatever its shape: dot-stuffed lines, bare LFs, 1-octet BDAT chunks', () => {
  // A Buffer costs ~100 bytes of heap: one per 3-octet piece made 25 MB of `..` lines take ~1 GB.
  const stuffed = new ContentDecoder({ maxSize: 10_000_000, bareLineEndings: 'reject', dotStuffed: true });
  const wire = Buffer.from('..\r\n'.repeat(250_000)); // 1 MB, each line a stuffed dot
  for (let at = 0; at < wire.length; at += 65_536) stuffed.push(wire.subarray(at, at + 65_536));
  assert.equal(stuffed.decodedSize, 750_000);
  assert.ok(stuffed.heldBuffers <= 100, `${stuffed.heldBuffers} buffers for 750 KB`);
  const normalized = new ContentDecoder({ maxSize: 10_000_000, bareLineEndings: 'normalize', dotStuffed: true });
  normalized.push(Buffer.from('a\n'.repeat(200_000)));
  assert.ok(normalized.heldBuffers <= 100, `${normalized.heldBuffers} buffers for bare LFs`);
  const bdat = new ContentDecoder({ maxSize: 10_000_000, bareLineEndings: 'reject', dotStuffed: false });
  for (let i = 0; i < 100_000; i++) bdat.push(Buffer.from(i % 50 === 49 ? '\r\n' : 'x'));
  assert.ok(bdat.heldBuffers <= 100, `${bdat.heldBuffers} buffers for 100,000 chunks`);
  const result = bdat.result();
  assert.ok(result.ok && result.content.length === 100_000 + 2_000);
  assert.equal(result.ok && result.content.subarray(0, 52).toString(), `${'x'.repeat(49)}\r\nx`);
});

test('content held keeps about its own size alive, not the socket chunks its pieces came in', () => {
  // 512-octet BDAT chunks, each in a 64 KiB read padded with `BDAT 0` lines: each piece was kept as a
  // view of its read, pinning 128 times its size while the content budget counted the piece alone.
  const padded = new ContentDecoder({ maxSize: 10_000_000, bareLineEndings: 'reject', dotStuffed: false });
  for (let i = 0; i < 100; i++) {
    const read = Buffer.from(`${'x'.repeat(62)}\r\n`.repeat(1024)); // lines of 64 octets: 8 a piece
    padded.push(read.subarray(640, 640 + 512));
  }
  assert.equal(padded.decodedSize, 51_200);
  assert.ok(padded.heldBytes <= 2 * padded.decodedSize + 16_384, `${padded.heldBytes} bytes held for 51,200`);
  // Small pieces between views: each block is filled before the next is made.
  const mixed = new ContentDecoder({ maxSize: 10_000_000, bareLineEndings: 'reject', dotStuffed: false });
  for (let i = 0; i < 200; i++) {
    mixed.push(Buffer.alloc(1, 'y'));
    mixed.push(Buffer.from(`${'z'.repeat(98)}\r\n`.repeat(10)));
  }
  assert.ok(
    mixed.heldBytes <= 2 * mixed.decodedSize + 16_384,
    `${mixed.heldBytes} bytes held for ${mixed.decodedSize}`,
  );
  // A message read in whole chunks is still kept as views of them, not copied.
  const whole = new ContentDecoder({ maxSize: 10_000_000, bareLineEndings: 'reject', dotStuffed: true });
  const line = `${'w'.repeat(76)}\r\n`;
  for (let i = 0; i < 20; i++) whole.push(Buffer.from(line.repeat(800)));
  assert.equal(whole.heldBuffers, 20);
  assert.ok(whole.heldBytes <= 2 * whole.decodedSize);
  const padded2 = padded.result();
  assert.ok(padded2.ok && padded2.content.toString() === `${'x'.repeat(62)}\r\n`.repeat(800));
  const mixed2 = mixed.result();
  assert.ok(mixed2.ok && mixed2.content.toString() === `y${`${'z'.repeat(98)}\r\n`.repeat(10)}`.repeat(200));
});

test('DATA: size declared within the limit but the content is larger: 552', () => {
  const d = new Driver({ maxMessageSize: 1024 });
  d.send('EHLO a.example\r\nMAIL FROM:<a@example.net> SIZE=100\r\nRCPT TO:<alice@example.com>\r\n');
  assert.deepEqual(d.send(`DATA\r\n${`${long(100)}\r\n`.repeat(20)}.\r\n`), ['354', '552 5.3.4']);
});

test('input split byte by byte gives the same replies and message as one chunk', () => {
  const wire =
    'EHLO a.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n' +
    'Subject: x\r\n\r\n..dot\r\n\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.com>\r\nBDAT 7\r\nchunk\r\n' +
    'BDAT 0 LAST\r\nRSET\r\nQUIT\r\n';
  const whole = new Driver();
  whole.send(wire);
  const split = new Driver();
  for (const byte of Buffer.from(wire)) split.send(Buffer.from([byte]));
  assert.deepEqual(split.replies, whole.replies);
  assert.deepEqual(split.messages, whole.messages);
  assert.equal(whole.messages.length, 2);
  assert.equal(whole.messages[0]!.toString(), 'Subject: x\r\n\r\n.dot\r\n\r\n');
  assert.equal(whole.codes.at(-1), '221 2.0.0');
});

test('pipelining: a whole transaction in one chunk, replies in order (RFC 2920)', () => {
  const d = new Driver();
  const codes = d.send(
    'EHLO a.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n' +
      'DATA\r\nhello\r\n.\r\nQUIT\r\n',
  );
  assert.deepEqual(codes, ['250', '250 2.1.0', '250 2.1.5', '250 2.1.5', '354', '250 2.0.0', '221 2.0.0']);
  assert.equal(d.closed, true);
});

test('pipelining: RCPT refused, DATA gets 554 and the pipelined content is not read as commands', () => {
  const d = new Driver();
  const codes = d.send(
    'EHLO a.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<x@example.org>\r\nDATA\r\nNOOP\r\n.\r\nNOOP\r\n',
  );
  // The text lines become commands here: the session cannot know the client's view (RFC 2920 §3.1).
  assert.deepEqual(codes.slice(0, 4), ['250', '250 2.1.0', '554 5.7.1', '554 5.5.1']);
  assert.equal(d.messages.length, 0);
});

type BdatCase = [name: string, wire: string, want: string[], stored: string[]];
const bdatCases: BdatCase[] = [
  [
    'chunks then BDAT 0 LAST',
    'BDAT 7\r\nhello\r\nBDAT 5\r\nworldBDAT 0 LAST\r\n',
    ['250 2.0.0', '250 2.0.0', '250 2.0.0'],
    ['hello\r\nworld\r\n'],
  ],
  ['a last line without CRLF gets one (RFC 5321 §4.1.1.4)', 'BDAT 8 LAST\r\nSubject:', ['250 2.0.0'], ['Subject:\r\n']],
  [
    'a chunk is not dot-stuffed: ".\\r\\n" is content',
    'BDAT 5\r\n.\r\n..BDAT 0 LAST\r\n',
    ['250 2.0.0', '250 2.0.0'],
    ['.\r\n..\r\n'],
  ],
  ['a CRLF split across two chunks', 'BDAT 1\r\n\rBDAT 1 LAST\r\n\n', ['250 2.0.0', '250 2.0.0'], ['\r\n']],
  ['BDAT LAST with content', 'BDAT 9 LAST\r\nhi\r\n.\r\n\r\n', ['250 2.0.0'], ['hi\r\n.\r\n\r\n']],
  ['BDAT 0 LAST alone: an empty message', 'BDAT 0 LAST\r\n', ['250 2.0.0'], ['']],
  // Trailing spaces, taken as after QUIT or MAIL's parameters: not a 501 that costs the connection.
  [
    'trailing spaces after LAST or the size',
    'BDAT 4 \r\nab\r\nBDAT 4 LAST  \r\ncd\r\n',
    ['250 2.0.0', '250 2.0.0'],
    ['ab\r\ncd\r\n'],
  ],
  ['two chunks', 'BDAT 4\r\nab\r\nBDAT 4 LAST\r\ncd\r\n', ['250 2.0.0', '250 2.0.0'], ['ab\r\ncd\r\n']],
  ['DATA after BDAT: 503 (RFC 3030 §2)', 'BDAT 4\r\nab\r\nDATA\r\n', ['250 2.0.0', '503 5.5.1'], []],
  ['RCPT after BDAT: 503', 'BDAT 4\r\nab\r\nRCPT TO:<bob@example.com>\r\n', ['250 2.0.0', '503 5.5.1'], []],
  ['bad BDAT syntax: 501, then 421 and close (RFC 5321 §3.8)', 'BDAT x\r\nNOOP\r\n', ['501 5.5.4', '421 4.5.0'], []],
  ['BDAT with a negative size: 501, 421', 'BDAT -1\r\n', ['501 5.5.4', '421 4.5.0'], []],
  ['bare LF in BDAT (reject): 550', 'BDAT 3 LAST\r\na\nb', ['550 5.6.11'], []],
  ['BDAT over the size limit: 552', `BDAT 10100 LAST\r\n${lines(101)}`, ['552 5.3.4'], []],
  [
    'exactly the size limit, its last line without CRLF: accepted, the CRLF we add is not the client’s',
    `BDAT 10000 LAST\r\n${lines(99)}${long(100)}`,
    ['250 2.0.0'],
    [`${lines(99)}${long(100)}\r\n`],
  ],
  [
    'a chunk over the limit ends the transaction',
    `BDAT 10100\r\n${lines(101)}BDAT 0 LAST\r\n`,
    ['552 5.3.4', '503 5.5.1'],
    [],
  ],
  ['a text line over 1000 octets: 554', `BDAT 1001 LAST\r\n${long(999)}\r\n`, ['554 5.6.0'], []],
];

for (const [name, wire, want, stored] of bdatCases) {
  test(`BDAT: ${name}`, () => {
    const d = inTransaction();
    assert.deepEqual(d.send(wire), want);
    assert.deepEqual(
      d.messages.map((m) => m.toString()),
      stored,
    );
  });
}

test('BDAT: a bare LF refuses the chunk at once in reject mode, and is CRLF in normalize mode', () => {
  const d = inTransaction();
  assert.deepEqual(d.send('BDAT 6\r\nhello\n'), ['550 5.6.11']);
  assert.deepEqual(d.send('BDAT 0 LAST\r\n'), ['503 5.5.1'], 'the transaction is over');
  const n = inTransaction({ bareLineEndings: 'normalize' });
  n.send('BDAT 6\r\nhello\nBDAT 5\r\nworld');
  assert.deepEqual(n.send('BDAT 0 LAST\r\n'), ['250 2.0.0']);
  assert.equal(n.messages[0]!.toString(), 'hello\r\nworld\r\n');
});

test('BDAT without MAIL or RCPT: the chunk is read, refused, and the session stays in step', () => {
  const noMail = new Driver();
  noMail.send('EHLO a.example\r\n');
  assert.deepEqual(noMail.send('BDAT 12\r\nNOOP\r\nNOOP\r\nNOOP\r\n'), ['503 5.5.1', '250 2.0.0']);
  const noRcpt = new Driver();
  noRcpt.send('EHLO a.example\r\nMAIL FROM:<a@example.net>\r\n');
  assert.deepEqual(noRcpt.send('BDAT 12 LAST\r\nQUIT\r\nQUIT\r\nNOOP\r\n'), ['554 5.5.1', '250 2.0.0']);
  assert.equal(noRcpt.closed, false);
  const noHelo = new Driver();
  assert.deepEqual(noHelo.send('BDAT 0\r\nNOOP\r\n'), ['503 5.5.1', '250 2.0.0']);
});

test('BDAT: chunks pipelined behind a first chunk the data restrictions refuse are discarded (RFC 3030 §2)', () => {
  let dataChecks = 0;
  // A data restriction that answers 4xx once (a DNS lookup that timed out), then passes.
  const d = inTransaction({}, (effect) => {
    if (effect.type === 'check' && effect.stage === 'data' && dataChecks++ === 0) {
      return { action: 'reject', reply: reply(451, '4.7.1', 'try again later') };
    }
    return acceptAll(effect);
  });
  const first = 'Subject: part 1\r\n\r\nFIRST\r\n';
  const second = 'SECOND ONLY\r\n';
  const wire = `BDAT ${first.length}\r\n${first}BDAT ${second.length} LAST\r\n${second}NOOP\r\n`;
  assert.deepEqual(d.send(wire), ['451 4.7.1', '503 5.5.1', '250 2.0.0']);
  assert.equal(d.messages.length, 0, 'no message made of the chunks after the refused one');
  assert.deepEqual(
    d.send(`MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.com>\r\nBDAT ${first.length} LAST\r\n${first}`),
    ['250 2.1.0', '250 2.1.5', '250 2.0.0'],
    'a new transaction is whole',
  );
  assert.equal(d.messages[0]?.toString(), first);
});

test('BDAT whose size is read but not the rest: 501, the chunk discarded, the transaction over, the session open', () => {
  for (const line of ['BDAT 5 LAST extra', 'BDAT 5  LAST', 'BDAT 5\tLAST', 'BDAT  5 LAST']) {
    const d = inTransaction();
    // Before, 501 then 421 and close: a client with an extra space lost its connection.
    assert.deepEqual(d.send(`${line}\r\nhelloNOOP\r\n`), ['501 5.5.4', '250 2.0.0'], line);
    assert.equal(d.closed, false, line);
    assert.deepEqual(d.send('BDAT 3 LAST\r\nabc'), ['503 5.5.1'], `${line}: no message missing a chunk`);
    assert.equal(d.messages.length, 0, line);
  }
});

test('BDAT chunk-size = 1*DIGIT (RFC 3030 §2): leading zeros do not count toward the digits read', () => {
  const d = inTransaction();
  // Sixteen digits and more: before, 501 then 421 and close (Postfix takes it).
  assert.deepEqual(d.send('BDAT 0000000000000005 LAST\r\nabc\r\n'), ['250 2.0.0']);
  assert.equal(d.messages[0]?.toString(), 'abc\r\n');
  const zero = inTransaction();
  assert.deepEqual(zero.send('BDAT 0000000000000000000000004\r\nabcdBDAT 00000000000000000000 LAST\r\n'), [
    '250 2.0.0',
    '250 2.0.0',
  ]);
  assert.equal(zero.messages.length, 1);
});

// RFC 3030 §2: a BDAT line whose chunk size cannot be read leaves its chunk unframed: whatever is
// wrong with the line, the session answers and closes rather than read the chunk as commands.
const CHUNK = 'RCPT TO:<bob@example.com>\r\nQUIT\r\n';
type LostCase = [name: string, line: string, first: string];
const lostFramingCases: LostCase[] = [
  ['over 538 octets, its LF read with it', `BDAT ${'9'.repeat(600)} LAST\r\n`, '500 5.5.2'],
  ['over 538 octets of junk, lower case', `bdat ${'j'.repeat(600)}\r\n`, '500 5.5.2'],
  ['over 512 octets but a valid size: trailing spaces', `BDAT ${CHUNK.length} LAST${' '.repeat(510)}\r\n`, '500 5.5.2'],
  ['over 512 octets with a size that does not parse', `BDAT ${'7'.repeat(520)}\r\n`, '500 5.5.2'],
  ['a bare LF ends it (reject mode)', `BDAT ${CHUNK.length} LAST\n`, '500 5.5.2'],
  ['a bare CR in it', `BDAT ${CHUNK.length}\r LAST\r\n`, '500 5.5.2'],
  ['not UTF-8', `BDAT ${CHUNK.length} LAST\xff\r\n`, '501 5.5.4'],
  ['a leading space', ` BDAT ${CHUNK.length} LAST\r\n`, '501 5.5.4'],
  ['a tab after the verb', `BDAT\t${CHUNK.length} LAST\r\n`, '501 5.5.4'],
  ['sixteen significant digits', `BDAT 1${'0'.repeat(15)} LAST\r\n`, '501 5.5.4'],
  ['a size run into letters', `BDAT ${CHUNK.length}x LAST\r\n`, '501 5.5.4'],
];

for (const [name, line, first] of lostFramingCases) {
  test(`BDAT line that loses its chunk's framing, ${name}: refused, 421, closed, nothing of the chunk run`, () => {
    for (const split of [false, true]) {
      const d = inTransaction();
      const wire = Buffer.from(`${line}${CHUNK}`, 'latin1');
      const codes: string[] = [];
      if (split) for (const byte of wire) codes.push(...d.send(Buffer.from([byte])));
      else codes.push(...d.send(wire));
      assert.deepEqual(codes, [first, '421 4.5.0'], `${split ? 'a byte at a time' : 'whole'}: no 250 or 221`);
      assert.equal(d.closed, true);
    }
  });
}

test('an over-long line that is not a BDAT is still refused and skipped, the session goes on', () => {
  const d = inTransaction();
  assert.deepEqual(d.send(`BDATX ${'9'.repeat(600)}\r\nNOOP\r\n`), ['500 5.5.2', '250 2.0.0']);
  assert.deepEqual(d.send(`NOOP BDAT ${'9'.repeat(600)}\r\nNOOP\r\n`), ['500 5.5.2', '250 2.0.0']);
  assert.equal(d.closed, false);
});

test('a session refused at connection reads and discards a BDAT chunk too (RFC 3030 §2)', () => {
  const session = new SmtpSession(sessionDefaults);
  session.start(reply(554, '5.7.1', 'refused'));
  const replied = (effects: Effect[]) =>
    effects.flatMap((e) => (e.type === 'reply' ? [String(e.reply.code)] : e.type === 'close' ? ['close'] : []));
  assert.deepEqual(replied(session.receive(Buffer.from('BDAT 12 LAST\r\nQUIT\r\nQUIT\r\n'))), ['503']);
  assert.deepEqual(replied(session.receive(Buffer.from('NOOP\r\n'))), ['503'], 'in step after the chunk');
  assert.deepEqual(replied(session.receive(Buffer.from('BDAT x\r\nQUIT\r\n'))), ['501', '421', 'close']);
});

test('content octets: counted from 354 or the first BDAT chunk to the end, one count per DATA or transaction', () => {
  const d = inTransaction();
  const { session } = d;
  assert.equal(session.contentOctets, undefined, 'no content before DATA');
  const before = session.contentCount;
  d.send('DATA\r\n');
  assert.equal(session.contentOctets, 0);
  d.send('Subject: x\r\n\r\n..a\r\n');
  assert.equal(session.contentOctets, 19, 'the octets as sent, dot-stuffing included');
  d.send('.\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nab');
  assert.equal(session.contentCount, before + 2, 'a pipelined second DATA is another');
  assert.equal(session.contentOctets, 2);
  d.send('\r\n.\r\n');
  assert.equal(session.contentOctets, undefined, 'the content ended');
  d.send('MAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nBDAT 3\r\nabc');
  assert.equal(session.contentOctets, 3);
  d.send('BDAT 4\r\ndefg');
  assert.equal(session.contentOctets, 7, 'between chunks the transaction goes on');
  assert.equal(session.contentCount, before + 3, 'its chunks are one');
  d.send('RSET\r\n');
  assert.equal(session.contentOctets, undefined, 'RSET ends it');
  d.send('BDAT 5\r\nab');
  assert.equal(session.contentOctets, 2, 'a refused chunk is timed while it is read');
  d.send('cde');
  assert.equal(session.contentOctets, undefined);
  assert.equal(session.contentCount, before + 4);
});

test('a 421 from a check or for a message closes the session (RFC 5321 §3.8), e.g. a milter reply code', () => {
  const closing = replies.localErrorClosing('mx.example.com');
  const afterData = new Driver({}, (effect) =>
    effect.type === 'message' ? { action: 'reply', reply: closing } : acceptAll(effect),
  );
  afterData.send('EHLO client.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n');
  assert.deepEqual(afterData.send('Subject: x\r\n\r\nbody\r\n.\r\nNOOP\r\n'), ['421 4.3.0']);
  assert.equal(afterData.closed, true, 'nothing after the 421: the NOOP is not answered');

  const atRcpt = new Driver({}, (effect) =>
    effect.type === 'check' && effect.stage === 'rcpt' ? { action: 'reject', reply: closing } : acceptAll(effect),
  );
  assert.deepEqual(
    atRcpt.send('EHLO client.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\n').at(-1),
    '421 4.3.0',
  );
  assert.equal(atRcpt.closed, true);

  const refused = new Driver({}, (effect) =>
    effect.type === 'message' ? { action: 'reply', reply: replies.localError() } : acceptAll(effect),
  );
  refused.send('EHLO client.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n');
  assert.deepEqual(refused.send('Subject: x\r\n\r\nbody\r\n.\r\nNOOP\r\n'), ['451 4.3.0', '250 2.0.0']);
  assert.equal(refused.closed, false, 'a 451 leaves the session open');
});

test('the decoder finds every line end whatever the line length and where chunks split it', () => {
  // Lines of 0 to 20 octets around the decoder's short scan, each ending CRLF, a bare LF or a bare CR,
  // some dot-stuffed; fed whole and in chunks of 1 to 7 octets: the same content and the same verdict.
  const lines: string[] = [];
  for (let length = 0; length <= 20; length++) {
    lines.push(`${'a'.repeat(length)}\r\n`, `..${'b'.repeat(length)}\r\n`);
  }
  const clean = `${lines.join('')}.\r\n`;
  const expected = lines.map((l) => (l.startsWith('..') ? l.slice(1) : l)).join('');
  for (const mode of ['reject', 'normalize'] as const) {
    for (const size of [clean.length, 1, 2, 3, 5, 7]) {
      const decoder = new ContentDecoder({ maxSize: 100_000, bareLineEndings: mode, dotStuffed: true });
      const input = Buffer.from(clean);
      let end = -1;
      for (let i = 0; i < input.length && end < 0; i += size) {
        const at = decoder.push(input.subarray(i, i + size));
        if (at >= 0) end = i + at;
      }
      assert.equal(end, input.length, `${mode}, chunks of ${size}: the end mark found at the end`);
      const result = decoder.result();
      assert.ok(result.ok);
      assert.equal(result.content.toString(), expected, `${mode}, chunks of ${size}`);
    }
  }
  for (const bare of ['\n', '\r']) {
    for (let length = 0; length <= 20; length++) {
      const decoder = new ContentDecoder({ maxSize: 100_000, bareLineEndings: 'reject', dotStuffed: true });
      decoder.push(Buffer.from(`ok\r\n${'c'.repeat(length)}${bare}more\r\n.\r\n`));
      assert.equal(decoder.problem, 'bare-line-ending', `a bare ${JSON.stringify(bare)} after ${length} octets`);
    }
  }
});
