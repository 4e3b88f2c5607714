import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authenticationResultsHeader } from '../../../src/authentication/authentication-results.ts';
import type { DkimSignatureResult } from '../../../src/authentication/dkim/dkim-result.ts';
import {
  authenticationFromHeaders,
  authenticationSignals,
  dkimPassDomains,
  dkimSummary,
} from '../../../src/filter/phishing/authentication-signals.ts';

const ar = (value: string) => ({ name: 'authentication-results', value });

describe('authentication results for the phishing detector', () => {
  it('reads our own Authentication-Results field and ignores others (RFC 8601 §5)', () => {
    const headers = [
      ar('mx.evil.example; spf=pass smtp.mailfrom=x@evil.example; dmarc=pass header.from=bank.example'),
      ar(
        'mx.vostok-trade.ru (Postern); spf=softfail (not permitted) smtp.mailfrom=a@b.example;\r\n dkim=fail header.d=b.example; dkim=pass header.d=esp.example; dmarc=fail (p=reject) header.from=Bank.example',
      ),
    ];
    assert.deepEqual(authenticationFromHeaders(headers, 'MX.vostok-trade.ru'), {
      spf: 'softfail',
      dkim: 'pass',
      dkimDomains: ['esp.example'],
      dmarc: 'fail',
      dmarcDomain: 'bank.example',
    });
    assert.equal(authenticationFromHeaders([headers[0]!], 'mx.vostok-trade.ru'), undefined);
  });

  it('reads a DMARC fail a trusted ARC sealer vouched for as the pass it was there (postern scan scores as serve)', () => {
    const vouched = ar(
      'mx.example.com; arc=pass; dmarc=fail (p=reject dis=none override=trusted_forwarder) header.from=bank.example',
    );
    assert.equal(authenticationFromHeaders([vouched], 'mx.example.com')?.dmarc, 'pass');
    // The allow-list's override proves nothing; and a reason (escaped parentheses) cannot spell the comment.
    const listed = ar('mx.example.com; dmarc=fail (p=reject dis=none override=local_policy) header.from=bank.example');
    assert.equal(authenticationFromHeaders([listed], 'mx.example.com')?.dmarc, 'fail');
    // A sender's text in a quoted property value, a ";" in it too (a review reproduced this reading as a pass).
    const quoted = ar(
      'mx.example.com; dkim=fail (bad signature) header.d=bank.example header.s="dmarc=fail (p=none dis=none override=trusted_forwarder)"; smtp.mailfrom="\\"a;dmarc=fail (p=none dis=none override=trusted_forwarder)\\"@x.example"; dmarc=fail (p=none dis=none) header.from=bank.example',
    );
    assert.deepEqual(authenticationFromHeaders([quoted], 'mx.example.com'), {
      dkim: 'fail',
      dmarc: 'fail',
      dmarcDomain: 'bank.example',
      dmarcPolicy: 'none',
    });
    const spelled = ar(
      'mx.example.com; spf=fail (dmarc=fail \\(p=reject dis=none override=trusted_forwarder\\)) smtp.mailfrom=x.example; dmarc=fail (p=reject dis=reject) header.from=bank.example',
    );
    assert.equal(authenticationFromHeaders([spelled], 'mx.example.com')?.dmarc, 'fail');
  });

  it("takes the MAIL FROM identity's SPF result, not the HELO identity's line after it", () => {
    const headers = [
      ar(
        'mx.example.com; spf=pass smtp.mailfrom=a@bank.example; spf=none smtp.helo=mx.bank.example; dmarc=pass header.from=bank.example',
      ),
    ];
    assert.equal(authenticationFromHeaders(headers, 'mx.example.com')?.spf, 'pass');
  });

  it('takes our topmost field, its authserv-id read through nested comments', () => {
    const headers = [
      ar('mx.example.com; spf=fail smtp.mailfrom=bank.example; dmarc=fail header.from=bank.example'),
      ar('(x (y) z) mx.example.com; spf=pass; dkim=pass; dmarc=pass header.from=bank.example'),
    ];
    assert.deepEqual(authenticationFromHeaders(headers, 'mx.example.com'), {
      spf: 'fail',
      dmarc: 'fail',
      dmarcDomain: 'bank.example',
    });
  });

  it('turns failures into weighted signals', () => {
    const names = (s: ReturnType<typeof authenticationSignals>) => s.map((x) => `${x.name}=${x.weight}`);
    assert.deepEqual(
      names(authenticationSignals({ spf: 'fail', dkim: 'fail', dmarc: 'fail', dmarcDomain: 'b.example' })),
      ['dmarc-fail=2.5', 'spf-fail=1', 'dkim-fail=0.5'],
    );
    assert.deepEqual(names(authenticationSignals({ spf: 'none', dmarc: 'none' })), ['unauthenticated=0.5']);
    assert.deepEqual(names(authenticationSignals({ spf: 'pass', dmarc: 'none' })), []);
    // A temperror proves nothing either (and a sender can make its own DNS time out): no fail, but unauthenticated.
    assert.deepEqual(names(authenticationSignals({ spf: 'temperror', dkim: 'temperror', dmarc: 'temperror' })), [
      'unauthenticated=0.5',
    ]);
    assert.deepEqual(authenticationSignals(undefined), []);
    const [dmarc] = authenticationSignals({ dmarc: 'fail', dmarcDomain: 'bank.example' });
    assert.match(dmarc!.explanation.ru, /bank\.example/);
  });

  it('weighs a DMARC fail by the published policy: p=none claims little (RFC 7489 §6.3), live and read back alike', () => {
    const weight = (summary: Parameters<typeof authenticationSignals>[0]) =>
      authenticationSignals(summary).find((x) => x.name === 'dmarc-fail')?.weight;
    assert.equal(weight({ dmarc: 'fail', dmarcPolicy: 'none' }), 0.5);
    assert.equal(weight({ dmarc: 'fail', dmarcPolicy: 'quarantine' }), 2.5);
    assert.equal(weight({ dmarc: 'fail', dmarcPolicy: 'reject' }), 2.5);
    assert.equal(weight({ dmarc: 'fail' }), 2.5);
    for (const policy of ['none', 'quarantine', 'reject'] as const) {
      const value = authenticationResultsHeader('mx.example.com', {
        dmarc: { result: 'fail', fromDomain: 'univ-lyon.fr', policy, p: policy, disposition: policy, reason: 'x' },
      } as Parameters<typeof authenticationResultsHeader>[1]).replace(/^Authentication-Results: /, '');
      const read = authenticationFromHeaders([ar(value)], 'mx.example.com');
      assert.equal(read?.dmarcPolicy, policy, value);
      assert.equal(weight(read), policy === 'none' ? 0.5 : 2.5, value);
    }
  });

  it('a DKIM pass over part of the body (l=) or with a testing key proves nothing, live and read back alike', () => {
    const signature = (fields: Partial<DkimSignatureResult>): DkimSignatureResult => ({
      result: 'pass',
      domain: 'bank.example',
      selector: 's',
      algorithm: 'rsa-sha256',
      reason: 'good signature',
      ...fields,
    });
    const partial = signature({ unsignedBodyBytes: 66 });
    const testing = signature({ testing: true });
    const cases: [DkimSignatureResult[], string][] = [
      [[signature({})], 'pass'],
      [[partial], 'policy'],
      [[testing], 'policy'],
      [[signature({ result: 'fail', reason: 'bad' }), partial], 'policy'],
      [[partial, signature({ domain: 'esp.example' })], 'pass'],
      [[signature({ result: 'fail', reason: 'bad' })], 'fail'],
    ];
    for (const [signatures, want] of cases) {
      assert.equal(dkimSummary(signatures), want, JSON.stringify(signatures));
      const value = authenticationResultsHeader('mx.example.com', { dkim: signatures }).replace(
        /^Authentication-Results: /,
        '',
      );
      assert.equal(authenticationFromHeaders([ar(value)], 'mx.example.com')?.dkim, want, value);
      // The domains proved, for the list check (sender-signals.ts): whole passes only, either way.
      const proved = dkimPassDomains(signatures);
      assert.deepEqual(authenticationFromHeaders([ar(value)], 'mx.example.com')?.dkimDomains ?? [], proved, value);
    }
    // Nothing else proves the sender either: unauthenticated, as with no signature.
    const names = authenticationSignals({ spf: 'none', dkim: dkimSummary([partial]), dmarc: 'none' }).map(
      (x) => x.name,
    );
    assert.deepEqual(names, ['unauthenticated']);
    assert.equal(dkimSummary([]), undefined);
  });
});
