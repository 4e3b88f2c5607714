/** The DMARC record parser (record.ts): RFC 7489 §6.3, RFC 9989 §4.7, §4.10.1, read leniently. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDmarcRecord, parseDmarcRecord, parseTags } from '../../../src/authentication/dmarc/record.ts';

test('defaults: relaxed alignment, pct=100, no testing, no psd (RFC 7489 §6.3)', () => {
  assert.deepEqual(parseDmarcRecord('v=DMARC1; p=reject'), {
    raw: 'v=DMARC1; p=reject',
    p: 'reject',
    adkim: 'r',
    aspf: 'r',
    pct: 100,
    testing: false,
  });
});

test('every tag read; values of ABNF-literal tags fold case, rua keeps it', () => {
  const r = parseDmarcRecord(
    ' v = DMARC1 ;P=Reject; sp=QUARANTINE ; np=none; adkim=S; aspf=s; pct=20; t=Y; psd=N; rua=mailto:A@x.example ',
  );
  assert.ok(r);
  assert.equal(
    r.raw,
    'v = DMARC1 ;P=Reject; sp=QUARANTINE ; np=none; adkim=S; aspf=s; pct=20; t=Y; psd=N; rua=mailto:A@x.example',
  );
  assert.deepEqual(
    [r.p, r.sp, r.np, r.adkim, r.aspf, r.pct, r.testing, r.psd, r.rua],
    ['reject', 'quarantine', 'none', 's', 's', 20, true, 'n', 'mailto:A@x.example'],
  );
});

test('RFC 9989 §4.7 v: first, exactly DMARC1; otherwise no DMARC record', () => {
  assert.equal(isDmarcRecord('V=DMARC1; p=none'), true);
  assert.equal(isDmarcRecord('v=DMARC1'), true);
  assert.equal(parseDmarcRecord('v=dmarc1; p=reject'), undefined);
  assert.equal(parseDmarcRecord('p=reject; v=DMARC1'), undefined);
  assert.equal(parseDmarcRecord('v=DMARC10; p=reject'), undefined);
  assert.equal(parseDmarcRecord('v=spf1 -all'), undefined);
});

test('lenient: unknown tags and non-tags ignored, the last of a repeated tag wins', () => {
  const tags = parseTags('v=DMARC1; p=none; foo=bar; junk; =x; p=reject');
  assert.deepEqual(
    [...(tags?.entries() ?? [])],
    [
      ['v', 'DMARC1'],
      ['p', 'reject'],
      ['foo', 'bar'],
    ],
  );
  assert.equal(parseDmarcRecord('v=DMARC1; p=none; p=reject')?.p, 'reject');
});

test('RFC 7489 §6.3: an invalid optional value stands at its default', () => {
  const r = parseDmarcRecord('v=DMARC1; p=quarantine; adkim=bob; aspf=x; pct=500; t=maybe; psd=q; ri=z');
  assert.deepEqual(
    [r?.p, r?.adkim, r?.aspf, r?.pct, r?.testing, r?.psd],
    ['quarantine', 'r', 'r', 100, false, undefined],
  );
  for (const pct of ['abc', '-1', '101', '', '1000', '5.5']) {
    assert.equal(parseDmarcRecord(`v=DMARC1; p=reject; pct=${pct}`)?.pct, 100, pct);
  }
  assert.equal(parseDmarcRecord('v=DMARC1; p=reject; pct=0')?.pct, 0);
  assert.equal(parseDmarcRecord('v=DMARC1; p=reject; pct=050')?.pct, 50);
});

test('RFC 9989 §4.10.1: an invalid p leaves no policy, unless rua asks for reports (then p=none)', () => {
  for (const record of [
    'v=DMARC1',
    'v=DMARC1; p=n',
    'v=DMARC1; p=x; rua=dmarc@example.com', // a bare address is no URI (RFC 9989 §4.8)
  ]) {
    const r = parseDmarcRecord(record);
    assert.ok(r, record);
    assert.equal(r.p, undefined, record);
  }
  const reporting = parseDmarcRecord('v=DMARC1; p=bogus; sp=reject; rua=mailto:d@example.com!10m');
  assert.deepEqual([reporting?.p, reporting?.sp, reporting?.np], ['none', undefined, undefined]);
  assert.equal(parseDmarcRecord('v=DMARC1; rua=bare@example.com, mailto:')?.p, 'none');
});

test('RFC 9989 §4.8: an invalid sp or np is taken as absent; a valid p stands', () => {
  // Before: the record was dropped (no DMARC processing), so a typo in sp= let forgeries of a p=reject
  // domain through.
  const cases: [string, (string | undefined)[]][] = [
    ['v=DMARC1; p=reject; sp=qurantine', ['reject', undefined, undefined]],
    ['v=DMARC1; p=reject; np=rejec', ['reject', undefined, undefined]],
    ['v=DMARC1; p=reject; np=', ['reject', undefined, undefined]],
    ['v=DMARC1; p=reject; sp=bogus; np=quarantine', ['reject', undefined, 'quarantine']],
    ['v=DMARC1; p=quarantine; sp=none; np=x; rua=mailto:d@example.com', ['quarantine', 'none', undefined]],
  ];
  for (const [record, want] of cases) {
    const r = parseDmarcRecord(record);
    assert.deepEqual([r?.p, r?.sp, r?.np], want, record);
  }
});
