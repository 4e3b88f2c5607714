/** applyModifications: header indexes as Sendmail counts them (libmilter smfi_insheader, smfi_chgheader). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyModifications, type Modification } from '../../../src/filter/milter/index.ts';

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
