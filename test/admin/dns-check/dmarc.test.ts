import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckContext } from '../../../src/admin/dns-check/context.ts';
import { checkDmarc, parseDmarcRecord } from '../../../src/admin/dns-check/dmarc.ts';
import { parseConfig } from '../../../src/config/load.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer } from '../../../src/dns/test-server.ts';

// [record, the errors expected (empty: valid), unknown tags]
const cases: [record: string, errors: string[], unknown?: string[]][] = [
  ['v=DMARC1; p=none; rua=mailto:dmarc@example.com', []], // RFC 7489 §6.3 example shape
  ['v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@thirdparty.example.net', []],
  ['v=DMARC1; p=reject; pct=100; adkim=s; aspf=r; fo=0:d; ri=86400;', []], // trailing ";" allowed (§6.4)
  ['v=DMARC1;p=reject;rua=mailto:a@example.com!10m,mailto:b@example.net', []], // size limit (§6.2)
  ['v=DMARC1; p=reject; np=reject; t=n; psd=n', []], // RFC 9989 tags
  ['v=DMARC1; p=rejct', ['p=rejct is not valid']],
  ['v=DMARC1; rua=mailto:dmarc@example.com', ['p= is missing']],
  ['p=none; v=DMARC1', ['v=DMARC1 must come first']],
  ['v=DMARC1; p=none; p=reject', ['p= appears twice']],
  ['v=DMARC1; p=none; pct=150', ['pct=150 is not valid']],
  ['v=DMARC1; p=none; adkim=x', ['adkim=x is not valid']],
  ['v=DMARC1; p=none; rua=dmarc@example.com', ['rua=dmarc@example.com is not valid']],
  ['v=DMARC1; p=none; garbage', ['"garbage" is not tag=value']],
  ['v=DMARC1; p=none; rau=mailto:x@example.com', [], ['rau']],
];
for (const [record, errors, unknown = []] of cases) {
  test(record, () => {
    const parsed = parseDmarcRecord(record);
    assert.deepEqual(parsed.errors, errors);
    assert.deepEqual(parsed.unknown, unknown);
  });
}

test('a subdomain without a record of its own falls under the organizational domain (RFC 7489 §6.6.3)', async () => {
  const dns = await startTestDnsServer({
    records: { '_dmarc.example.com': { TXT: ['v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com'] } },
  });
  try {
    const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1, cacheTtlMs: 0 });
    const config = parseConfig({ hostname: 'mx.example.com', domains: ['sub.example.com'] }, 'test');
    const sub = await checkDmarc({ domain: 'sub.example.com', config, resolver } as CheckContext);
    assert.deepEqual(
      sub.map((c) => [c.id, c.status]),
      [
        ['dmarc.record', 'pass'],
        ['dmarc.policy', 'pass'],
      ],
    );
    assert.match(sub[0]?.summary ?? '', /the record of example\.com applies \(policy quarantine\)/);
    assert.equal(
      sub[1]?.summary,
      'sp=quarantine inherited from example.com: receivers quarantine mail that fails DMARC',
    );
    const other = await checkDmarc({ domain: 'example.net', config, resolver } as CheckContext);
    assert.deepEqual(
      other.map((c) => [c.id, c.status]),
      [['dmarc.record', 'fail']],
    );
  } finally {
    await dns.close();
  }
});

test("an inherited p=none or sp=none is judged as the domain's own p=none would be (RFC 7489 §6.6.3)", async () => {
  const dns = await startTestDnsServer({ records: {} });
  try {
    const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1, cacheTtlMs: 0 });
    const config = parseConfig({ hostname: 'mx.example.com', domains: ['sub.example.com'] }, 'test');
    for (const [record, said] of [
      ['v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com', /^sp=none inherited from example\.com: forged mail/],
      ['v=DMARC1; p=none; rua=mailto:d@example.com', /^p=none inherited from example\.com: forged mail/],
      ['v=DMARC1; p=reject; pct=20; rua=mailto:d@example.com', /^p=reject inherited from example\.com applies to part/],
    ] as const) {
      dns.setZone({ records: { '_dmarc.example.com': { TXT: [record] } } });
      const checks = await checkDmarc({ domain: 'sub.example.com', config, resolver } as CheckContext);
      const policy = checks.find((c) => c.id === 'dmarc.policy');
      assert.equal(policy?.status, 'warn', `${record}: ${JSON.stringify(checks)}`);
      assert.match(policy?.summary ?? '', said);
      assert.match(policy?.fix ?? '', /in the record of example\.com|from the record of example\.com/);
    }
  } finally {
    await dns.close();
  }
});
