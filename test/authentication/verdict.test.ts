import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DkimSignatureResult, DmarcResult, SpfResult } from '../../src/authentication/results.ts';
import { decide, type VerdictInput } from '../../src/authentication/verdict.ts';

const spfPass: SpfResult = { result: 'pass', domain: 'bank.example', reason: 'pass' };
const fail = (policy: 'none' | 'quarantine' | 'reject', extra: Partial<DmarcResult> = {}): DmarcResult => ({
  result: 'fail',
  fromDomain: 'bank.example',
  policyDomain: 'bank.example',
  policy,
  disposition: policy,
  reason: 'neither SPF nor DKIM aligned',
  ...extra,
});
/** A DKIM signature of bank.example whose key lookup timed out. */
const dkimTemp: DkimSignatureResult = {
  result: 'temperror',
  domain: 'bank.example',
  selector: 's',
  algorithm: 'rsa-sha256',
  reason: 'key lookup timed out',
};
const input = (dmarc: DmarcResult, more: Partial<VerdictInput> = {}): VerdictInput => ({
  spf: spfPass,
  dkim: [],
  dmarc,
  disposition: dmarc.disposition,
  enforce: true,
  ...more,
});

test('p=reject on a fail: 550 5.7.1 naming the policy domain', () => {
  const verdict = decide(input(fail('reject')));
  assert.equal(verdict.action, 'reject');
  assert.equal(verdict.reply?.code, 550);
  assert.equal(verdict.reply?.enhanced, '5.7.1');
  assert.match(verdict.reply?.lines[0] ?? '', /DMARC policy of bank\.example says reject/);
});

test('p=quarantine: Junk; p=none: accept; pass: accept', () => {
  assert.equal(decide(input(fail('quarantine'))).action, 'junk');
  assert.equal(decide(input(fail('none'))).action, 'accept');
  assert.equal(decide(input({ ...fail('reject'), result: 'pass', disposition: 'none' })).action, 'accept');
  assert.equal(
    decide(input({ result: 'none', fromDomain: 'x.example', disposition: 'none', reason: 'no record' })).action,
    'accept',
  );
});

test('an override or pct sampling lowers the disposition; enforce: false only records', () => {
  assert.equal(decide(input(fail('reject'), { disposition: 'none' })).action, 'accept');
  assert.equal(decide(input(fail('reject'), { disposition: 'quarantine' })).action, 'junk');
  assert.equal(decide(input(fail('reject'), { enforce: false })).action, 'accept');
});

test('DMARC record temperror: 451 4.7.0, unless not enforced', () => {
  const temp: DmarcResult = { result: 'temperror', fromDomain: 'bank.example', disposition: 'none', reason: 'timeout' };
  // SPF passes for a subdomain: it aligns only if the record, unknown, is relaxed.
  const verdict = decide(input(temp, { spf: { result: 'pass', domain: 'bounce.bank.example', reason: 'pass' } }));
  assert.equal(verdict.action, 'tempfail');
  assert.equal(verdict.reply?.code, 451);
  assert.equal(verdict.reply?.enhanced, '4.7.0');
  assert.equal(decide(input(temp, { enforce: false })).action, 'accept');
});

test('a fail that an aligned identifier’s DNS error may have caused defers instead of rejecting', () => {
  const spfTemp: SpfResult = { result: 'temperror', domain: 'mail.bank.example', reason: 'timeout' };
  const spfVerdict = decide(input(fail('reject'), { spf: spfTemp }));
  assert.equal(spfVerdict.action, 'tempfail');
  assert.equal(spfVerdict.reply?.enhanced, '4.7.24'); // RFC 7372 §3.2
  assert.equal(decide(input(fail('quarantine'), { dkim: [dkimTemp] })).action, 'tempfail');
  // An unaligned domain's DNS error cannot change the outcome: the policy applies.
  const other: SpfResult = { result: 'temperror', domain: 'elsewhere.example', reason: 'timeout' };
  assert.equal(decide(input(fail('reject'), { spf: other })).action, 'reject');
  // With p=none nothing depends on it.
  assert.equal(decide(input(fail('none'), { spf: spfTemp })).action, 'accept');
});

test('a DNS error that cannot change the outcome does not defer: a disposition lowered to none, strict alignment', () => {
  const spfTemp: SpfResult = { result: 'temperror', domain: 'bounce.bank.example', reason: 'timeout' };
  // An allow-listed author domain, or pct=0: the fail is acted on in no case.
  assert.equal(decide(input(fail('reject'), { spf: spfTemp, disposition: 'none' })).action, 'accept');
  assert.equal(
    decide(input(fail('quarantine', { disposition: 'none', sampledOut: true }), { spf: spfTemp })).action,
    'accept',
  );
  // aspf=s: bounce.bank.example could never align with bank.example, whatever SPF said: the policy applies.
  assert.equal(decide(input(fail('reject', { aspf: 's' }), { spf: spfTemp })).action, 'reject');
  assert.equal(decide(input(fail('reject', { aspf: 'r' }), { spf: spfTemp })).action, 'tempfail');
  const dkimTemp: DkimSignatureResult = {
    result: 'temperror',
    domain: 'mail.bank.example',
    selector: 's',
    algorithm: 'rsa-sha256',
    reason: 'key lookup timed out',
  };
  assert.equal(decide(input(fail('reject', { adkim: 's' }), { dkim: [dkimTemp] })).action, 'reject');
  assert.equal(
    decide(input(fail('reject', { adkim: 's' }), { dkim: [{ ...dkimTemp, domain: 'Bank.Example.' }] })).action,
    'tempfail',
  );
});

test('dmarc=temperror for an aligned identifier DNS could not check: deferred when the policy would act, else accepted', () => {
  const unverified = (policy: 'none' | 'quarantine' | 'reject', disposition = policy): DmarcResult => ({
    ...fail(policy),
    result: 'temperror',
    disposition,
    unverified: 'the DKIM key of bank.example could not be fetched (a temporary DNS failure)',
  });
  const rejected = decide(input(unverified('reject'), { dkim: [dkimTemp] }));
  assert.deepEqual([rejected.action, rejected.reply?.code, rejected.reply?.enhanced], ['tempfail', 451, '4.7.0']);
  assert.equal(decide(input(unverified('quarantine'), { dkim: [dkimTemp] })).action, 'tempfail');
  // p=none, or a disposition an override or sampling lowered to none: nothing to wait for.
  assert.equal(decide(input(unverified('none'), { dkim: [dkimTemp] })).action, 'accept');
  assert.equal(decide(input(unverified('reject'), { dkim: [dkimTemp], disposition: 'none' })).action, 'accept');
  // The record itself not found for a DNS failure: the policy is unknown, deferred whatever.
  const record: DmarcResult = {
    result: 'temperror',
    fromDomain: 'bank.example',
    disposition: 'none',
    reason: 'timeout',
  };
  assert.equal(
    decide(input(record, { spf: { result: 'none', domain: 'x.example', reason: 'none' } })).action,
    'tempfail',
  );
});

test('a DMARC record that times out defers, unless a pass for the From domain itself decides under any record', () => {
  const record: DmarcResult = {
    result: 'temperror',
    fromDomain: 'bank.example',
    disposition: 'none',
    reason: 'timeout',
  };
  const own: DkimSignatureResult = {
    result: 'pass',
    domain: 'Bank.Example',
    selector: 's',
    algorithm: 'rsa-sha256',
    reason: 'signature verified',
  };
  const none: SpfResult = { result: 'none', domain: 'other.example', reason: 'none' };
  assert.equal(decide(input(record, { spf: none, dkim: [own] })).action, 'accept');
  assert.equal(decide(input(record, { spf: spfPass })).action, 'accept', 'SPF pass for bank.example itself');
  // A subdomain aligns only in relaxed mode, which the record might not have: deferred.
  assert.equal(
    decide(input(record, { spf: none, dkim: [{ ...own, domain: 'mail.bank.example' }] })).action,
    'tempfail',
  );
  // Signatures DMARC does not count: t=y, or a body left partly unsigned (l=).
  assert.equal(decide(input(record, { spf: none, dkim: [{ ...own, testing: true }] })).action, 'tempfail');
  assert.equal(decide(input(record, { spf: none, dkim: [{ ...own, unsignedBodyBytes: 10 }] })).action, 'tempfail');
  // Several author domains: each would need its own pass.
  const several = { ...record, authorDomains: ['bank.example', 'other.example'] };
  assert.equal(decide(input(several, { spf: none, dkim: [own] })).action, 'tempfail');
});

test('a fail whose sp/np choice is undecided: deferred, unless its disposition was lowered to none', () => {
  const doubt = fail('reject', { policyInDoubt: 'whether x.bank.example exists is unknown (timeout)' });
  const deferred = decide(input(doubt));
  assert.deepEqual([deferred.action, deferred.reply?.code, deferred.reply?.enhanced], ['tempfail', 451, '4.7.0']);
  assert.match(deferred.reason, /undecided/);
  assert.equal(decide(input(doubt, { disposition: 'none', override: 'trusted_forwarder' })).action, 'accept');
  assert.equal(decide(input(doubt, { enforce: false })).action, 'accept');
});
