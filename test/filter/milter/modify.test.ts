/** applyModifications: header indexes as Sendmail counts them (libmilter smfi_insheader, smfi_chgheader). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyModifications, type Modification, modifyMessage } from '../../../src/filter/milter/index.ts';

const MESSAGE = Buffer.from('A: 1\r\nX: first\r\n second line\r\nB: 2\r\nx: last\r\n\r\nbody\r\n');
const head = (s: string) => s.slice(0, s.indexOf('\r\n\r\n'));

const cases: [name: string, mods: Modification[], want: string][] = [
  [
    'addheader goes last',
    [{ type: 'addheader', name: 'N', value: ' v' }],
    'A: 1|X: first| second line|B: 2|x: last|N: v',
  ],
  [
    'insheader 0 is the top',
    [{ type: 'insheader', index: 0, name: 'N', value: ' v' }],
    'N: v|A: 1|X: first| second line|B: 2|x: last',
  ],
  [
    'insheader 2 counts fields, not lines',
    [{ type: 'insheader', index: 2, name: 'N', value: ' v' }],
    'A: 1|X: first| second line|N: v|B: 2|x: last',
  ],
  [
    'insheader past the end appends',
    [{ type: 'insheader', index: 99, name: 'N', value: ' v' }],
    'A: 1|X: first| second line|B: 2|x: last|N: v',
  ],
  [
    'chgheader 2 is the second X, any case',
    [{ type: 'chgheader', index: 2, name: 'X', value: ' new' }],
    'A: 1|X: first| second line|B: 2|x: new',
  ],
  [
    'chgheader 1 replaces a folded field whole',
    [{ type: 'chgheader', index: 1, name: 'x', value: ' one' }],
    'A: 1|X: one|B: 2|x: last',
  ],
  [
    'chgheader with an empty value deletes',
    [{ type: 'chgheader', index: 1, name: 'X', value: '' }],
    'A: 1|B: 2|x: last',
  ],
  [
    'chgheader past the last occurrence adds',
    [{ type: 'chgheader', index: 3, name: 'X', value: ' 3' }],
    'A: 1|X: first| second line|B: 2|x: last|X: 3',
  ],
  [
    'deleting an absent field does nothing',
    [{ type: 'chgheader', index: 1, name: 'Z', value: '' }],
    'A: 1|X: first| second line|B: 2|x: last',
  ],
  [
    'in order: delete the first X, then the "first" X is the old second',
    [
      { type: 'chgheader', index: 1, name: 'X', value: '' },
      { type: 'chgheader', index: 1, name: 'X', value: ' moved' },
    ],
    'A: 1|B: 2|x: moved',
  ],
];
for (const [name, mods, want] of cases) {
  test(name, () => assert.equal(head(applyModifications(MESSAGE, mods).toString()).replaceAll('\r\n', '|'), want));
}

test('replbody replaces the body; envelope changes leave the content alone', () => {
  const out = applyModifications(MESSAGE, [
    { type: 'replbody', body: Buffer.from('new\r\n') },
    { type: 'chgfrom', from: '<x@example.com>' },
    { type: 'addrcpt', rcpt: '<y@example.com>' },
  ]);
  assert.equal(out.toString(), 'A: 1\r\nX: first\r\n second line\r\nB: 2\r\nx: last\r\n\r\nnew\r\n');
});

test('no changes: the message comes back byte for byte', () => {
  assert.deepEqual(applyModifications(MESSAGE, []), MESSAGE);
});

test('a message of header fields only, without its final line end: its last field is closed first', () => {
  const added = [{ type: 'addheader', name: 'X-Milter', value: ' checked' }] as const;
  // As tagSubject does: the added field had been glued onto the last one's value.
  for (const [message, stored] of [
    ['A: 1\r\nSubject: no body', 'A: 1\r\nSubject: no body\r\nX-Milter: checked\r\n\r\n'],
    ['A: 1\r\nSubject: no body\r', 'A: 1\r\nSubject: no body\r\nX-Milter: checked\r\n\r\n'],
    ['A: 1\r\nSubject: folded\r\n value', 'A: 1\r\nSubject: folded\r\n value\r\nX-Milter: checked\r\n\r\n'],
    ['A: 1\r\nSubject: ended\r\n', 'A: 1\r\nSubject: ended\r\nX-Milter: checked\r\n\r\n'],
  ] as const) {
    const { content, problems } = modifyMessage(Buffer.from(message), added);
    assert.deepEqual(problems, []);
    assert.equal(content.toString(), stored, JSON.stringify(message));
  }
  // No line of 998 octets and more: the long last field stays a line of its own.
  const long = Buffer.from(`A: 1\r\nX-Long: ${'x'.repeat(990 - 'X-Long: '.length)}`);
  const lines = modifyMessage(long, added).content.toString().split('\r\n');
  assert.ok(Math.max(...lines.map((line) => line.length)) <= 998);
  // A new body goes after the blank line, not into the header.
  const body = applyModifications(Buffer.from('A: 1\r\nSubject: s'), [
    { type: 'replbody', body: Buffer.from('new\r\n') },
  ]);
  assert.equal(body.toString(), 'A: 1\r\nSubject: s\r\n\r\nnew\r\n');
});

test('modifyMessage: folding kept, a trailing line break dropped, 998 octets a line allowed, UTF-8 kept', () => {
  // Values hold one char per octet, as the client reads them from the milter: here UTF-8 octets.
  const { content, problems } = modifyMessage(MESSAGE, [
    { type: 'addheader', name: 'X-Folded', value: ' one\r\n\ttwo' },
    { type: 'addheader', name: 'X-Trailing', value: ' v\r\n' },
    { type: 'addheader', name: 'X-Long', value: ` ${'x'.repeat(998 - 'X-Long: '.length)}` },
    { type: 'addheader', name: 'X-Utf8', value: ` ${Buffer.from('Привет').toString('latin1')}` },
  ]);
  assert.deepEqual(problems, []);
  assert.equal(
    head(content.toString()).split('\r\n').slice(5).join('|'),
    `X-Folded: one|\ttwo|X-Trailing: v|X-Long: ${'x'.repeat(990)}|X-Utf8: Привет`,
  );
});

test('modifyMessage: one octet past 998 is refused; a line without WSP is folded with a TAB (Postfix cleanup)', () => {
  const { content, problems } = modifyMessage(MESSAGE, [
    { type: 'addheader', name: 'X-Long', value: ` ${'x'.repeat(999 - 'X-Long: '.length)}` },
    { type: 'chgheader', index: 1, name: 'B', value: ' 2\r\nTo: evil@example.net\r\n second' },
  ]);
  assert.deepEqual(problems, [
    { type: 'addheader', name: 'X-Long', action: 'refused', reason: 'a line of 999 octets (998 at most)' },
    { type: 'chgheader', name: 'B', action: 'folded', reason: 'a line not starting with white space' },
  ]);
  assert.equal(
    head(content.toString()).replaceAll('\r\n', '|'),
    'A: 1|X: first| second line|B: 2|\tTo: evil@example.net| second|x: last',
  );
});

test('modifyMessage: header octets are written as they came, 8-bit ones of any charset; 998 counts octets', () => {
  const cp1251 = Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]); // "Привет" in windows-1251
  const octets = (b: Buffer) => b.toString('latin1');
  const { content, problems } = modifyMessage(MESSAGE, [
    { type: 'chgheader', index: 1, name: 'B', value: ` [SPAM] ${octets(cp1251)}` },
    // 2-octet UTF-8 chars: X-Wide's line is 997 octets, X-Wider's 999 though only 504 chars.
    { type: 'addheader', name: 'X-Wide', value: ` ${octets(Buffer.from('я'.repeat(494)))}x` },
    { type: 'addheader', name: 'X-Wider', value: ` ${octets(Buffer.from('я'.repeat(495)))}` },
    { type: 'addheader', name: 'X-Char', value: ' \u0416' }, // a char, not an octet: never guessed at
  ]);
  assert.deepEqual(problems, [
    { type: 'addheader', name: 'X-Wider', action: 'refused', reason: 'a line of 999 octets (998 at most)' },
    {
      type: 'addheader',
      name: 'X-Char',
      action: 'refused',
      reason: 'non-ASCII character U+0416 in the value, not one octet',
    },
  ]);
  const stored = content.subarray(0, content.indexOf('\r\n\r\n') + 2);
  assert.ok(
    stored.includes(Buffer.concat([Buffer.from('B: [SPAM] '), cp1251, Buffer.from('\r\n')])),
    stored.toString('latin1'),
  );
  assert.ok(stored.includes(Buffer.from(`X-Wide: ${'я'.repeat(494)}x\r\n`)));
});

const bodies: [name: string, body: string, stored: string][] = [
  ['bare LF line ends become CRLF', 'one\ntwo\n', 'one\r\ntwo\r\n'],
  ['a bare CR becomes CRLF', 'one\rtwo\r\n', 'one\r\ntwo\r\n'],
  ['a last line without a line end gets CRLF', 'one\r\nlast', 'one\r\nlast\r\n'],
  ['all three at once', 'new line 1\nnew line 2\rstill 2\nlast', 'new line 1\r\nnew line 2\r\nstill 2\r\nlast\r\n'],
  ['empty lines kept', '\n\r\n\r', '\r\n\r\n\r\n'],
  ['an empty body stays empty', '', ''],
];
for (const [name, replacement, stored] of bodies) {
  test(`replbody (RFC 5322 §2.3): ${name}`, () => {
    const out = applyModifications(MESSAGE, [{ type: 'replbody', body: Buffer.from(replacement) }]);
    assert.equal(out.toString().slice(out.indexOf('\r\n\r\n') + 4), stored);
  });
}
