/**
 * checkDmarc through a real loopback DNS server (RFC 7489 with the RFC 9989 updates), one zone for all
 * cases, then applyOverrides (RFC 7489 §7.2 PolicyOverrideType, RFC 8617 §7.2.1), including a chain sealed
 * by mailauth and validated by verifyArc. Domains under the reserved .example TLD (RFC 2606 §2).
 */

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, test } from 'node:test';
import { sealMessage } from 'mailauth/lib/arc/index.js';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import type { ArcInstance, ArcResult } from '../../../src/authentication/arc/arc-result.ts';
import { verifyArc } from '../../../src/authentication/arc/verify-arc.ts';
import type { DkimSignatureResult } from '../../../src/authentication/dkim/dkim-result.ts';
import { verifyDkim } from '../../../src/authentication/dkim/verify-dkim.ts';
import { aligned, checkDmarc, type DmarcInput, normalize } from '../../../src/authentication/dmarc/check-dmarc.ts';
import { discoverPolicy } from '../../../src/authentication/dmarc/discovery.ts';
import type { DmarcResult } from '../../../src/authentication/dmarc/dmarc-result.ts';
import { applyOverrides } from '../../../src/authentication/dmarc/overrides.ts';
import { mailauthResolver } from '../../../src/authentication/mailauth-resolver.ts';
import { decide } from '../../../src/authentication/verdict.ts';
import type { Resolver } from '../../../src/dns/resolver.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';

const sealKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const sealPublic = sealKey.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const dmarc = (record: string) => ({ TXT: [record] });
let dns: TestDnsServer;
let resolver: Resolver;

before(async () => {
  dns = await startTestDnsServer({
    records: {
      '_dmarc.reject.example': dmarc('v=DMARC1; p=reject'),
      '_dmarc.quarantine.example': dmarc('v=DMARC1; p=quarantine'),
      '_dmarc.none.example': dmarc('v=DMARC1; p=none; rua=mailto:dmarc@none.example'),
      '_dmarc.own.reject.example': dmarc('v=DMARC1; p=none'),
      '_dmarc.strict.example': dmarc('v=DMARC1; p=reject; adkim=s; aspf=s'),
      '_dmarc.relaxed.example': dmarc('v=DMARC1; p=reject'),
      '_dmarc.parent.example': dmarc('v=DMARC1; p=reject; sp=quarantine'),
      '_dmarc.np.example': dmarc('v=DMARC1; p=quarantine; sp=none; np=reject'),
      'real.np.example': { A: ['192.0.2.1'] },
      '_dmarc.pct0.example': dmarc('v=DMARC1; p=reject; pct=0'),
      '_dmarc.pct50.example': dmarc('v=DMARC1; p=reject; pct=50'),
      '_dmarc.q50.example': dmarc('v=DMARC1; p=quarantine; pct=50'),
      '_dmarc.badpct.example': dmarc('v=DMARC1; p=reject; pct=abc'),
      '_dmarc.testing.example': dmarc('v=DMARC1; p=reject; t=y'),
      '_dmarc.both.example': dmarc('v=DMARC1; p=reject; t=y; pct=0'),
      'arc._domainkey.forwarder.example': { TXT: [`v=DKIM1; k=rsa; p=${sealPublic}`] },
      '_dmarc.spbad.example': dmarc('v=DMARC1; p=reject; sp=qurantine'),
      '_dmarc.npbad.example': dmarc('v=DMARC1; p=reject; np=rejec'),
      '_dmarc.undecided.example': dmarc('v=DMARC1; p=reject; sp=quarantine; np=reject'),
      '_dmarc.undecidedty.example': dmarc('v=DMARC1; p=reject; sp=none; np=quarantine; t=y'),
    },
    timeout: ['_dmarc.slow.example', 'ghost.undecided.example', 'ghost.undecidedty.example'],
    servfail: ['_dmarc.broken.example'],
  });
  resolver = createResolver({ servers: [dns.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
});
after(() => dns.close());

const pass = (domain: string, extra: Partial<DkimSignatureResult> = {}): DkimSignatureResult => ({
  result: 'pass',
  domain,
  selector: 's',
  algorithm: 'rsa-sha256',
  reason: 'signature verified',
  ...extra,
});

interface Ask {
  spf?: string;
  dkim?: DkimSignatureResult[];
  random?: () => number;
  fields?: number;
}
function check(from: string | string[], ask: Ask = {}): Promise<DmarcResult> {
  const input: DmarcInput = {
    headerFrom: Array.isArray(from) ? from : [from],
    fromFields: ask.fields ?? 1,
    spf: ask.spf ? { result: 'pass', domain: ask.spf } : { result: 'none', domain: 'other.example' },
    dkim: ask.dkim ?? [],
    resolver,
    random: ask.random ?? (() => assert.fail('random() is only for pct between 1 and 99')),
  };
  return checkDmarc(input);
}

type Want = [DmarcResult['result'], DmarcResult['disposition'], DmarcResult['alignedBy']?];
const cases: [name: string, from: string, ask: Ask, want: Want][] = [
  // RFC 7489 §6.6.2: pass on one aligned identifier; otherwise the published p= (§6.3)
  [
    'p=reject, SPF aligned (relaxed) → pass',
    'a@reject.example',
    { spf: 'bounce.reject.example' },
    ['pass', 'none', 'spf'],
  ],
  ['p=reject, DKIM aligned → pass', 'a@reject.example', { dkim: [pass('reject.example')] }, ['pass', 'none', 'dkim']],
  [
    'p=reject, neither aligned → reject',
    'a@reject.example',
    { spf: 'other.example', dkim: [pass('other.example')] },
    ['fail', 'reject'],
  ],
  ['p=quarantine, SPF aligned → pass', 'a@quarantine.example', { spf: 'quarantine.example' }, ['pass', 'none', 'spf']],
  [
    'p=quarantine, DKIM aligned → pass',
    'a@quarantine.example',
    { dkim: [pass('mail.quarantine.example')] },
    ['pass', 'none', 'dkim'],
  ],
  [
    'p=quarantine, neither aligned → quarantine',
    'a@quarantine.example',
    { spf: 'other.example' },
    ['fail', 'quarantine'],
  ],
  ['p=none, SPF aligned → pass', 'a@none.example', { spf: 'none.example' }, ['pass', 'none', 'spf']],
  ['p=none, DKIM aligned → pass', 'a@none.example', { dkim: [pass('none.example')] }, ['pass', 'none', 'dkim']],
  [
    'p=none, neither aligned → fail, nothing to do',
    'a@none.example',
    { dkim: [pass('other.example')] },
    ['fail', 'none'],
  ],
  // RFC 7489 §3.1.1, §3.1.2: strict is identity, relaxed compares organizational domains (§3.2 PSL)
  [
    'adkim=s: d= a subdomain of the author → fail',
    'a@strict.example',
    { dkim: [pass('mail.strict.example')] },
    ['fail', 'reject'],
  ],
  [
    'adkim=s: d= the author itself → pass',
    'a@strict.example',
    { dkim: [pass('strict.example')] },
    ['pass', 'none', 'dkim'],
  ],
  ['aspf=s: SPF for a subdomain → fail', 'a@strict.example', { spf: 'bounce.strict.example' }, ['fail', 'reject']],
  ['aspf=s: SPF for the author itself → pass', 'a@strict.example', { spf: 'strict.example' }, ['pass', 'none', 'spf']],
  [
    'adkim=s: subdomain author, d= its parent → fail',
    'a@news.strict.example',
    { dkim: [pass('strict.example')] },
    ['fail', 'reject'],
  ],
  [
    'adkim=r: subdomain author, d= its parent → pass',
    'a@news.relaxed.example',
    { dkim: [pass('relaxed.example')] },
    ['pass', 'none', 'dkim'],
  ],
  // RFC 9989 §4.10.1 (RFC 7489 §6.6.3): a subdomain without a record takes its organizational domain's
  ['sp=quarantine for a subdomain author', 'a@sub.parent.example', {}, ['fail', 'quarantine']],
  ['p=reject for the organizational domain itself', 'a@parent.example', {}, ['fail', 'reject']],
  ['no sp=: a subdomain takes p=', 'a@deep.sub.reject.example', {}, ['fail', 'reject']],
  ["a subdomain's own record wins", 'a@own.reject.example', {}, ['fail', 'none']],
  ['np=reject for a subdomain that does not exist (RFC 9989 §4.7)', 'a@ghost.np.example', {}, ['fail', 'reject']],
  ['sp=none for a subdomain that exists', 'a@real.np.example', {}, ['fail', 'none']],
  // RFC 9989 §4.8: an invalid sp= or np= is taken as absent, never a reason to drop p=reject
  ['sp=qurantine: the domain itself keeps p=reject', 'a@spbad.example', {}, ['fail', 'reject']],
  ['sp=qurantine: a subdomain falls back to p=reject', 'a@x.spbad.example', {}, ['fail', 'reject']],
  ['np=rejec: the domain itself keeps p=reject', 'a@npbad.example', {}, ['fail', 'reject']],
  ['np=rejec: a missing subdomain falls back to p=reject', 'a@ghost.npbad.example', {}, ['fail', 'reject']],
  // RFC 7489 §6.6.4: a fail not sampled is handled one level weaker
  ['pct=0: reject → quarantine', 'a@pct0.example', {}, ['fail', 'quarantine']],
  ['pct=50, sampled in (0.2) → reject', 'a@pct50.example', { random: () => 0.2 }, ['fail', 'reject']],
  ['pct=50, sampled out (0.7) → quarantine', 'a@pct50.example', { random: () => 0.7 }, ['fail', 'quarantine']],
  ['pct=50 quarantine, sampled out → none', 'a@q50.example', { random: () => 0.7 }, ['fail', 'none']],
  ['pct=abc is a syntax error → default 100 (§6.3)', 'a@badpct.example', {}, ['fail', 'reject']],
  ['t=y: reject applied as quarantine (RFC 9989 §4.7)', 'a@testing.example', {}, ['fail', 'quarantine']],
  ['t=y with pct=0: weakened once, not twice', 'a@both.example', {}, ['fail', 'quarantine']],
  // RFC 7489 §6.6.3: no record → none; a DNS failure → temperror, never none or fail
  ['no record → none', 'a@norecord.example', { spf: 'norecord.example' }, ['none', 'none']],
  ['record lookup times out → temperror', 'a@slow.example', {}, ['temperror', 'none']],
  ['record lookup SERVFAIL → temperror', 'a@broken.example', {}, ['temperror', 'none']],
  // RFC 6376 §8.2 (l=) and §3.6.1 (t=y key): such a DKIM pass does not count
  [
    'DKIM pass with l= short of the body → fail',
    'a@reject.example',
    { dkim: [pass('reject.example', { unsignedBodyBytes: 40 })] },
    ['fail', 'reject'],
  ],
  [
    'DKIM pass from a testing key → fail',
    'a@reject.example',
    { dkim: [pass('reject.example', { testing: true })] },
    ['fail', 'reject'],
  ],
  [
    'DKIM fail is no identifier',
    'a@reject.example',
    { dkim: [{ ...pass('reject.example'), result: 'fail' }] },
    ['fail', 'reject'],
  ],
];
for (const [name, from, ask, [result, disposition, alignedBy]] of cases) {
  test(name, async () => {
    const r = await check(from, ask);
    assert.deepEqual([r.result, r.disposition, r.alignedBy], [result, disposition, alignedBy], r.reason);
  });
}

test('the result names the policy, where it came from and the alignment modes', async () => {
  const r = await check('a@sub.parent.example');
  assert.equal(r.fromDomain, 'sub.parent.example');
  assert.equal(r.policyDomain, 'parent.example');
  assert.deepEqual(
    [r.policy, r.p, r.sp, r.adkim, r.aspf, r.pct],
    ['quarantine', 'reject', 'quarantine', 'r', 'r', 100],
  );
});

test('sampling is reported: sampledOut and the published policy (RFC 7489 §6.6.4)', async () => {
  const r = await check('a@pct50.example', { random: () => 0.99 });
  assert.deepEqual([r.policy, r.disposition, r.sampledOut, r.pct], ['reject', 'quarantine', true, 50]);
  const t = await check('a@testing.example');
  assert.deepEqual([t.policy, t.disposition, t.sampledOut, t.testing], ['reject', 'quarantine', true, true]);
});

test('an l= signature is named in the reason', async () => {
  const r = await check('a@reject.example', { dkim: [pass('reject.example', { unsignedBodyBytes: 40 })] });
  assert.match(r.reason, /40 body octets unsigned \(l=, RFC 6376 §8\.2\)/);
});

test('several From fields never pass, and a failing domain still gets its policy (RFC 7489 §6.6.1)', async () => {
  const passing = await check(['a@reject.example', 'b@reject.example'], { fields: 2, dkim: [pass('reject.example')] });
  assert.equal(passing.result, 'permerror');
  assert.match(passing.reason, /several From fields/);
  const failing = await check(['a@none.example', 'b@reject.example'], { fields: 2, dkim: [pass('none.example')] });
  assert.deepEqual([failing.result, failing.fromDomain, failing.disposition], ['fail', 'reject.example', 'reject']);
  assert.deepEqual(failing.authorDomains, ['none.example', 'reject.example']);
});

test('one From field with two domains: the strictest failing policy applies (RFC 7489 §6.6.1)', async () => {
  const r = await check(['a@quarantine.example', 'b@reject.example', 'c@none.example']);
  assert.deepEqual([r.result, r.fromDomain, r.disposition], ['fail', 'reject.example', 'reject']);
  const both = await check(['a@reject.example', 'b@quarantine.example'], {
    dkim: [pass('reject.example'), pass('quarantine.example')],
  });
  assert.equal(both.result, 'pass');
});

test('a From naming more than five domains: the first five are checked, and padding does not escape (RFC 9989 §11.5)', async () => {
  const padding = ['a@e1.example', 'a@e2.example', 'a@e3.example', 'a@e4.example', 'a@none.example'];
  // A reject among the first five applies, as with fewer domains.
  const first = await check(['ceo@reject.example', ...padding]);
  assert.deepEqual([first.result, first.fromDomain, first.disposition], ['fail', 'reject.example', 'reject']);
  assert.match(first.reason, /From names 6 domains, over the limit of 5 \(RFC 9989 §11\.5\)/);
  // The imitated domain past the limit: not checked, so not accepted either (it was permerror, accepted).
  const last = await check([...padding, 'ceo@reject.example']);
  assert.deepEqual([last.result, last.disposition], ['permerror', 'quarantine']);
  assert.equal(last.authorDomains?.length, 6);
  assert.match(last.reason, /the rest \(reject\.example\) not, and one of them may be the domain imitated/);
  const verdict = decide({ spf: undefined, dkim: [], dmarc: last, disposition: last.disposition, enforce: true });
  assert.equal(verdict.action, 'junk');
});

test('an identifier written as a URL aligns with nothing: its labels are not host-name labels', async () => {
  // An SPF pass for a HELO name (null sender) in the attacker's zone, which tldts would read as a URL
  // whose host is reject.example, when restrictions let such a HELO name through.
  for (const tail of ['/', '?', '#', '\\', 'x@']) {
    const spf = `mail.reject.example${tail}.evil.example`;
    const r = await check('ceo@reject.example', { spf });
    assert.deepEqual([r.result, r.disposition], ['fail', 'reject'], spf);
    assert.equal(aligned(spf, 'reject.example', 'r'), false, spf);
  }
  assert.equal(aligned('mail._spf.reject.example', 'reject.example', 'r'), true, '"_" is a DNS label character');
  // A From domain is converted label by label: a whole-name conversion read this as the URL host evil.example.
  assert.notEqual(normalize('evil.example/ü.reject.example'), 'evil.example');
  assert.equal(normalize('Bücher.Example.'), 'xn--bcher-kva.example');
});

test('no From domain → permerror with a reason (RFC 7489 §6.6.1)', async () => {
  // No From field at all (RFC 5322 §3.6 requires one): handled as a quarantine, as the docs say.
  const r = await check([], { fields: 0 });
  assert.deepEqual([r.result, r.fromDomain, r.disposition], ['permerror', '', 'quarantine']);
  assert.match(r.reason, /no Author Domain/);
  // A From field that yields no mailbox at all hides what a reader sees: handled as a quarantine.
  const empty = await check([]);
  assert.deepEqual([empty.result, empty.fromDomain, empty.disposition], ['permerror', '', 'quarantine']);
});

/** checkDmarc on a From field as the DKIM pass reads it (verify-dkim.ts authors(), nodemailer's parser). */
async function checkFromField(value: string, ask: Ask = {}): Promise<DmarcResult> {
  const message = Buffer.from(`From: ${value}\r\nTo: b@example.net\r\nSubject: s\r\n\r\nbody\r\n`, 'latin1');
  const { headerFrom, fromFields } = await verifyDkim(message, { resolver });
  return checkDmarc({
    headerFrom,
    fromFields,
    spf: { result: 'none', domain: 'other.example' },
    dkim: ask.dkim ?? [],
    resolver,
  });
}

test('a stray special or control character after the From address does not escape its policy (RFC 5322 §3.4.1)', async () => {
  // Read as Python's email and mail programs show them: ceo@reject.example (before: permerror or none, accepted).
  for (const tail of ['>', ')', ']', '\\', '"', '.>', '\u0000', '\u0001', '\u007f']) {
    const r = await checkFromField(`ceo@reject.example${tail}`);
    assert.deepEqual(
      [r.result, r.fromDomain, r.disposition],
      ['fail', 'reject.example', 'reject'],
      JSON.stringify(tail),
    );
    const verdict = decide({ spf: undefined, dkim: [], dmarc: r, disposition: r.disposition, enforce: true });
    assert.equal(verdict.action, 'reject', JSON.stringify(tail));
  }
  // Text after the special: the domain before it is checked all the same, and its reject applies.
  const trailing = await checkFromField('ceo@reject.example>x');
  assert.deepEqual([trailing.result, trailing.disposition], ['fail', 'reject']);
  // A malformed From cannot pass, even signed by its domain (RFC 9989 §4.4); it is not refused either.
  const signed = await checkFromField('ceo@reject.example>', { dkim: [pass('reject.example')] });
  assert.deepEqual([signed.result, signed.disposition], ['permerror', 'none']);
  assert.match(signed.reason, /stray character after its domain/);
});

test('a From whose domain cannot be read fails closed: permerror handled as a quarantine (RFC 7489 §6.6.1)', async () => {
  const unreadable = [
    'ceo@reject.example:', // nodemailer reads an empty group: no mailbox at all
    'ceo@reject..example',
    'ceo@reject.example/',
    "ceo@reject.example'",
    '=?utf-8?q?ceo=40reject=2Eexample?=',
    'ceo@none.example>x', // none.example is read, p=none; what the rest shows a reader is unknown
    `ceo@${'a'.repeat(64)}.example`,
  ];
  for (const from of unreadable) {
    const r = await checkFromField(from);
    assert.deepEqual([r.result, r.disposition], ['permerror', 'quarantine'], `${from}: ${r.reason}`);
    const verdict = decide({ spf: undefined, dkim: [], dmarc: r, disposition: r.disposition, enforce: true });
    assert.equal(verdict.action, 'junk', from);
  }
  // Beside a readable domain that passes, an unreadable mailbox still fails closed.
  const beside = await check(['ceo@reject.example>x', 'a@none.example'], { dkim: [pass('none.example')] });
  assert.deepEqual([beside.result, beside.disposition], ['fail', 'reject']);
  const hidden = await check(['ceo@reject..example', 'a@none.example'], { dkim: [pass('none.example')] });
  assert.deepEqual([hidden.result, hidden.disposition], ['permerror', 'quarantine']);
});

test('a From domain the resolver refuses (EBADNAME) is no domain without a record', async () => {
  // Not reachable from a From field any more (author-domain.ts reads no such domain), but discovery
  // itself must not read a refused name as "no record".
  for (const domain of ['none.example\u0001', 'reject.example\u0000', 'none..example']) {
    const found = await discoverPolicy(domain, resolver);
    assert.equal(found.result, 'invalid', JSON.stringify(domain));
  }
  // A parent that publishes a policy still gives it.
  const below = await discoverPolicy('x\u0001.reject.example', resolver);
  assert.deepEqual([below.result, below.result === 'found' && below.policy], ['found', 'reject']);
});

// Local overrides (overrides.ts): only a fail, and only on authenticated grounds.
const set = (instance: number, sealer: string, results: Partial<ArcInstance['results']> = {}): ArcInstance => ({
  instance,
  sealer,
  results: { authservId: sealer, dkim: [], ...results },
});
const chain = (...instances: ArcInstance[]): ArcResult => ({
  result: 'pass',
  instance: instances.length,
  sealers: instances.map((i) => i.sealer),
  instances,
  reason: 'test chain',
});
const vouched = { dmarc: { result: 'pass', headerFrom: 'reject.example' } };
const context = (arc: ArcResult, allowlist: string[] = []) => ({
  arc,
  trustedArcSealers: ['forwarder.example'],
  allowlist,
});

test('overrides: a trusted sealer that saw dmarc=pass for this From domain → none, trusted_forwarder', async () => {
  const fail = await check('a@reject.example');
  const o = applyOverrides(fail, context(chain(set(1, 'forwarder.example', vouched))));
  assert.equal(o.disposition, 'none');
  assert.equal(o.override?.type, 'trusted_forwarder');
  const viaDkim = chain(
    set(1, 'lists.forwarder.example', { dkim: [{ result: 'pass', domain: 'mail.reject.example' }] }),
  );
  assert.equal(applyOverrides(fail, context(viaDkim)).override?.type, 'trusted_forwarder');
});

test('overrides: untrusted, unrelated or unsafe chains change nothing', async () => {
  const fail = await check('a@reject.example');
  const keep = (arc: ArcResult) => assert.deepEqual(applyOverrides(fail, context(arc)), { disposition: 'reject' });
  keep(chain(set(1, 'stranger.example', vouched))); // not trusted
  keep(chain(set(1, 'forwarder.example', vouched), set(2, 'stranger.example'))); // untrusted hop after it
  keep(chain(set(1, 'forwarder.example', { dmarc: { result: 'pass', headerFrom: 'other.example' } }))); // other From
  keep(chain(set(1, 'forwarder.example', { dmarc: { result: 'pass' } }))); // for which From?
  keep(chain(set(1, 'forwarder.example', { dkim: [{ result: 'pass', domain: 'other.example' }] }))); // not aligned
  keep(chain(set(1, 'badforwarder.example', vouched))); // not a subdomain of the trusted entry
  keep({ result: 'fail', instance: 1, sealers: [], reason: 'broken seal' });
});

test('overrides: the allow-list names From domains (and their subdomains), not SPF/DKIM domains', async () => {
  const none: ArcResult = { result: 'none', instance: 0, sealers: [], reason: 'no ARC sets' };
  const fail = await check('a@reject.example', { spf: 'bounce.esp.example' });
  const o = applyOverrides(fail, context(none, ['reject.example']));
  assert.deepEqual([o.disposition, o.override?.type], ['none', 'local_policy']);
  const sub = await check('a@deep.sub.reject.example');
  assert.equal(applyOverrides(sub, context(none, ['Reject.Example.'])).override?.type, 'local_policy');
  // a listed shared sender must not vouch for every From domain it sends as
  assert.deepEqual(applyOverrides(fail, context(none, ['esp.example'])), { disposition: 'reject' });
  assert.deepEqual(applyOverrides(fail, context(none, ['eject.example'])), { disposition: 'reject' });
});

const dkimTimeout = (domain: string): DkimSignatureResult => ({
  result: 'temperror',
  domain,
  selector: 's',
  algorithm: 'rsa-sha256',
  reason: 'key lookup timed out',
});

test('an aligned DKIM key that could not be fetched is temperror, not fail (RFC 7489 §11.2, RFC 6376 §6.1.2)', async () => {
  // Before: dmarc=fail, which the phishing filter scored as a forged From even under p=none.
  const none = await check('a@none.example', { dkim: [dkimTimeout('none.example')] });
  assert.deepEqual([none.result, none.policy, none.disposition], ['temperror', 'none', 'none']);
  assert.match(none.unverified ?? '', /DKIM key of none\.example could not be fetched/);
  // The disposition is what a fail would get, for the verdict to defer on.
  const reject = await check('a@reject.example', { dkim: [dkimTimeout('mail.reject.example')] });
  assert.deepEqual([reject.result, reject.disposition], ['temperror', 'reject']);
  // An aligned pass decides; an unaligned key's failure changes nothing.
  const passed = await check('a@reject.example', { dkim: [dkimTimeout('reject.example'), pass('reject.example')] });
  assert.equal(passed.result, 'pass');
  const other = await check('a@reject.example', { dkim: [dkimTimeout('other.example')] });
  assert.equal(other.result, 'fail');
  // Strict alignment: a subdomain's key could never align.
  const strict = await check('a@strict.example', { dkim: [dkimTimeout('mail.strict.example')] });
  assert.equal(strict.result, 'fail');
});

test('several From domains: a p=reject domain whose aligned key timed out outranks a weaker fail (RFC 7489 §6.6.1)', async () => {
  // Before this ranked below every fail: p=none's fail spoke for the message and it was accepted.
  const r = await check(['a@reject.example', 'b@none.example'], { dkim: [dkimTimeout('reject.example')] });
  assert.deepEqual(
    [r.result, r.policy, r.disposition, r.fromDomain],
    ['temperror', 'reject', 'reject', 'reject.example'],
  );
  // A definite fail of the same strength speaks first.
  const both = await check(['a@reject.example', 'b@relaxed.example'], { dkim: [dkimTimeout('reject.example')] });
  assert.deepEqual([both.result, both.fromDomain], ['fail', 'relaxed.example']);
});

test('several From domains: one whose DMARC record timed out outranks any fail but a reject', async () => {
  // Before: ranked below every fail, so a second From domain of one's own with p=none got a forgery of
  // the first accepted while its record did not answer.
  const r = await check(['a@slow.example', 'b@none.example']);
  assert.deepEqual([r.result, r.fromDomain], ['temperror', 'slow.example']);
  const q = await check(['a@slow.example', 'b@quarantine.example']);
  assert.equal(q.result, 'temperror');
  const rejected = await check(['a@slow.example', 'b@reject.example']);
  assert.deepEqual([rejected.result, rejected.fromDomain], ['fail', 'reject.example']);
});

test('an aligned SPF temperror is temperror too', async () => {
  const input: DmarcInput = {
    headerFrom: ['a@none.example'],
    fromFields: 1,
    spf: { result: 'temperror', domain: 'bounce.none.example' },
    dkim: [],
    resolver,
  };
  const r = await checkDmarc(input);
  assert.deepEqual([r.result, r.disposition], ['temperror', 'none']);
  assert.match(r.unverified ?? '', /SPF of bounce\.none\.example could not be evaluated/);
});

test('overrides: a temperror that would be a fail but for DNS is overridden as a fail is', async () => {
  const none: ArcResult = { result: 'none', instance: 0, sealers: [], reason: 'no ARC sets' };
  const r = await check('a@reject.example', { dkim: [dkimTimeout('reject.example')] });
  const o = applyOverrides(r, context(none, ['reject.example']));
  assert.deepEqual([o.disposition, o.override?.type], ['none', 'local_policy']);
});

test('overrides: only a fail is overridden, and a record that timed out by the allow-list alone', async () => {
  const arc = chain(set(1, 'forwarder.example', vouched));
  const none = await check('a@norecord.example');
  assert.deepEqual(applyOverrides(none, context(arc, [none.fromDomain])), { disposition: 'none' });
  // A From that cannot be read, or none at all, is no fail to override: its quarantine stands.
  for (const unreadable of [await check([]), await check([], { fields: 0 })]) {
    assert.deepEqual(applyOverrides(unreadable, context(arc, ['x.example'])), { disposition: 'quarantine' });
  }
  // The record unknown: the worst it could bring is a fail the allow-list would not act on. A trusted
  // sealer cannot vouch without the record's alignment modes.
  const slow = await check('a@slow.example');
  assert.equal(slow.result, 'temperror');
  assert.equal(applyOverrides(slow, context(arc, ['slow.example'])).override?.type, 'local_policy');
  assert.deepEqual(applyOverrides(slow, context(arc)), { disposition: 'none' });
});

test('overrides end to end: a chain sealed by a trusted forwarder, validated by verifyArc', async () => {
  const message = Buffer.from(
    'From: Ann <a@reject.example>\r\nTo: b@example.net\r\nSubject: list post\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n[list footer]\r\n',
  );
  const seal = await sealMessage(message, {
    signingDomain: 'forwarder.example',
    selector: 'arc',
    privateKey: sealKey.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    authResults: 'forwarder.example; dkim=pass header.d=reject.example; dmarc=pass header.from=reject.example',
  });
  const sealed = Buffer.concat([seal, message]);
  const verified = await dkimVerify(sealed, { resolver: mailauthResolver(resolver) } as Parameters<
    typeof dkimVerify
  >[1]);
  const arc = await verifyArc(verified.arc, { resolver });
  assert.equal(arc.result, 'pass', arc.reason);
  const fail = await check(verified.headerFrom);
  assert.equal(fail.result, 'fail');
  assert.equal(applyOverrides(fail, context(arc)).override?.type, 'trusted_forwarder');
  const untrusted = applyOverrides(fail, { arc, trustedArcSealers: ['other.example'], allowlist: [] });
  assert.deepEqual(untrusted, { disposition: 'reject' });
});

test('sp or np undecided (the existence query timed out): a fail under the stronger, deferred only if acted on', async () => {
  // Before: dmarc=temperror and 451, even where both policies act on nothing or an override would apply.
  const none: ArcResult = { result: 'none', instance: 0, sealers: [], reason: 'no ARC sets' };
  const verdict = (r: DmarcResult, arc: ArcResult = none, allowlist: string[] = []) => {
    const o = applyOverrides(r, context(arc, allowlist));
    const v = decide({
      spf: undefined,
      dkim: [],
      dmarc: r,
      disposition: o.disposition,
      enforce: true,
      ...(o.override ? { override: o.override.type } : {}),
    });
    return [v.action, o.override?.type];
  };
  // t=y: sp=none and np=quarantine both act as none, so no answer changes what is done.
  const testing = await check('a@ghost.undecidedty.example');
  assert.deepEqual([testing.result, testing.disposition, testing.policyInDoubt], ['fail', 'none', undefined]);
  assert.deepEqual(verdict(testing), ['accept', undefined]);
  // sp=quarantine or np=reject: handled as a reject fail.
  const r = await check('a@ghost.undecided.example');
  assert.deepEqual([r.result, r.policy, r.disposition], ['fail', 'reject', 'reject']);
  assert.match(r.policyInDoubt ?? '', /sp=quarantine or np=reject/);
  assert.deepEqual(verdict(r), ['tempfail', undefined]);
  // A trusted sealer that saw an aligned DKIM pass, or the allow-list, lifts either policy.
  const arc = chain(set(1, 'forwarder.example', { dkim: [{ result: 'pass', domain: 'undecided.example' }] }));
  assert.deepEqual(verdict(r, arc), ['accept', 'trusted_forwarder']);
  assert.deepEqual(verdict(r, none, ['undecided.example']), ['accept', 'local_policy']);
  // A pass needs neither policy.
  const passed = await check('a@ghost.undecided.example', { dkim: [pass('undecided.example')] });
  assert.equal(passed.result, 'pass');
  // Beside another From domain, a definite reject speaks before it.
  const both = await check(['a@ghost.undecided.example', 'b@reject.example']);
  assert.deepEqual([both.result, both.fromDomain, both.policyInDoubt], ['fail', 'reject.example', undefined]);
});
