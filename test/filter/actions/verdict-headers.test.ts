import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stripVerdictHeaders, verdictHeaders } from '../../../src/filter/actions/verdict-headers.ts';
import { readHeaderFields } from '../../support/header-fields.ts';

const signals = [
  { name: 'lookalike-sender', weight: 4 },
  { name: 'link-text-mismatch', weight: 3 },
];

test('verdict and signals, as in issue 8', () => {
  assert.equal(
    verdictHeaders({ score: 9.5, category: 'bank', action: 'junk', signals }),
    'X-Postern-Verdict: phishing; score=9.5; category=bank; action=junk\r\nX-Postern-Signals: lookalike-sender=4, link-text-mismatch=3\r\n',
  );
});

test('"clean" below the first threshold, or for an action that delivers as is', () => {
  const low = { score: 2, category: 'generic', action: 'deliver', signals: [{ name: 'first-contact', weight: 2 }] };
  assert.equal(
    verdictHeaders({ ...low, threshold: 5 }).split('\r\n')[0],
    'X-Postern-Verdict: clean; score=2; category=generic; action=deliver',
  );
  assert.equal(
    verdictHeaders({ ...low, action: 'tag', threshold: 2 }).split('\r\n')[0],
    'X-Postern-Verdict: phishing; score=2; category=generic; action=tag',
  );
  assert.equal(
    verdictHeaders({ ...low, action: 'none' }).split('\r\n')[0],
    'X-Postern-Verdict: clean; score=2; category=generic; action=none',
  );
  assert.equal(
    verdictHeaders({ score: 0, category: 'generic', action: 'accept', signals: [] }),
    'X-Postern-Verdict: clean; score=0; category=generic; action=accept\r\n',
  );
});

test('numbers: one decimal, no "-0", nothing unbounded', () => {
  const out = verdictHeaders({
    score: 7.25,
    category: 'bank',
    action: 'junk',
    signals: [
      { name: 'a', weight: -0.01 },
      { name: 'b', weight: Number.NaN },
      { name: 'c', weight: 1e30 },
    ],
  });
  assert.equal(
    out,
    'X-Postern-Verdict: phishing; score=7.3; category=bank; action=junk\r\nX-Postern-Signals: a=0, b=0, c=1000000\r\n',
  );
});

test('many signals fold at ≤ 78 characters (RFC 5322 §2.2.3) and unfold to one list', () => {
  const many = Array.from({ length: 30 }, (_, i) => ({ name: `signal-number-${i}`, weight: i / 2 }));
  const out = verdictHeaders({ score: 99, category: 'password', action: 'quarantine', signals: many });
  assert.ok(out.endsWith('\r\n'));
  const lines = out.slice(0, -2).split('\r\n');
  assert.ok(lines.length > 5);
  for (const line of lines) assert.ok(line.length <= 78, `${line.length}: ${line}`);
  for (const line of lines.slice(2)) assert.match(line, /^ /);
  const fields = readHeaderFields(Buffer.from(`${out}\r\n`));
  assert.equal(fields[1]?.value, many.map((s) => `${s.name}=${s.weight}`).join(', '));
});

test('names cannot inject fields or separators', () => {
  const out = verdictHeaders({
    score: 6,
    category: 'bank\r\nX-Evil: 1',
    action: 'junk; score=0',
    signals: [{ name: `x\r\n\r\n${'y'.repeat(500)}`, weight: 1 }],
  });
  assert.equal(
    out,
    'X-Postern-Verdict: phishing; score=6; category=bank-X-Evil-1;\r\n action=junk-score-0\r\n' +
      `X-Postern-Signals: x-${'y'.repeat(38)}=1\r\n`,
  );
});

test('forged verdict fields are stripped: folded, any case, whitespace before the colon', () => {
  const forged = Buffer.from(
    'Received: from x\r\n' +
      'X-Postern-Verdict: clean; score=0;\r\n category=generic; action=deliver\r\n' +
      'Subject: hi\r\n' +
      'x-postern-signals: none\r\n' +
      'X-POSTERN-VERDICT : clean\r\n\tfolded with a tab\r\n' +
      'X-Postern-Verdicts: another field, kept\r\n' +
      '\r\n' +
      'X-Postern-Verdict: in the body, kept\r\n',
  );
  assert.equal(
    stripVerdictHeaders(forged).toString(),
    'Received: from x\r\nSubject: hi\r\nX-Postern-Verdicts: another field, kept\r\n\r\nX-Postern-Verdict: in the body, kept\r\n',
  );
});

test('the same Buffer when there is nothing to strip', () => {
  const clean = Buffer.from('Subject: hi\r\n\r\nX-Postern-Signals: body\r\n');
  assert.equal(stripVerdictHeaders(clean), clean);
});

test('our own fields, stripped again, leave the message as it was', () => {
  const original = Buffer.from('Subject: hi\r\n\r\nbody\r\n');
  const marked = Buffer.concat([
    Buffer.from(verdictHeaders({ score: 9.5, category: 'bank', action: 'junk', signals })),
    original,
  ]);
  assert.ok(stripVerdictHeaders(marked).equals(original));
});
