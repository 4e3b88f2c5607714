/**
 * `dns check` end to end on loopback: a domain set up right passes everything; then one defect at a time
 * (issue 7's list and more), each found by exactly its own checks, with the exit code following.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Check } from '../../../src/admin/dns-check/report.ts';
import { exitCode, renderTable } from '../../../src/admin/dns-check/report.ts';
import type { TestRecords, TestZone } from '../../../src/dns/test-server.ts';
import { createTestCa } from '../../support/test-ca.ts';
import { type Defect, DOMAIN, dkimKey, type Fixture, GOOD_POLICY, HOST, nonPass, startFixture } from './fixture.ts';

let fx: Fixture;
before(async () => {
  fx = await startFixture();
});
after(async () => {
  await fx?.close();
});

const records = (zone: TestZone, name: string) => {
  zone.records[name] ??= {};
  return zone.records[name];
};
/** Zone edits: set one RRset, remove a name, leave a name unanswered. */
const rr =
  <T extends keyof TestRecords>(name: string, type: T, value: TestRecords[T]) =>
  (zone: TestZone) => {
    records(zone, name)[type] = value;
  };
const txt = (name: string, ...values: string[]) => rr(name, 'TXT', values);
const drop = (name: string) => (zone: TestZone) => {
  delete zone.records[name];
};
const unanswered = (kind: 'timeout' | 'servfail', name: string) => (zone: TestZone) => {
  zone[kind] = [name];
};

test('a domain set up right passes every check (exit 0)', async () => {
  const checks = await fx.run();
  const table = renderTable(DOMAIN, checks, { colour: false });
  assert.deepEqual(nonPass(checks), [], table);
  assert.equal(exitCode(checks), 0);
  // every area reported something
  const areas = new Set(checks.map((c) => c.area));
  for (const area of ['names', 'mx', 'spf', 'dkim', 'dmarc', 'tls-rpt', 'mta-sts', 'bimi', 'dane', 'caa', 'server']) {
    assert.ok(areas.has(area as Check['area']), `no ${area} check`);
  }
});

const includes = Array.from({ length: 10 }, (_, i) => `include:spf${i}.example.com`).join(' ');
const svgWith = (body: string, profile = 'tiny-ps') =>
  `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.2" baseProfile="${profile}" viewBox="0 0 10 10"><title>x</title>${body}</svg>`;
const DAY_MS = 86_400_000;

/** RFC 7208 §6.1: the redirect target's record holds the all; here DNS never answers for it. */
const spfRedirectTimeout: Defect = {
  zone: (z) => {
    txt(DOMAIN, 'v=spf1 redirect=_spf.example.com', 'site-verification=abc123')(z);
    txt('_spf.example.com', 'v=spf1 mx -all')(z);
    unanswered('timeout', '_spf.example.com')(z);
  },
};

// [defect, its setup, the ids of the checks that must not pass, exit code]
const defects: [string, Defect | (() => Defect | Promise<Defect>), string[], 1 | 2][] = [
  // names
  [
    'PTR names another host (EHLO mismatch)',
    {
      zone: (z) => {
        records(z, '192.0.2.1').PTR = ['other.example.net'];
        records(z, 'other.example.net').A = ['192.0.2.1'];
      },
    },
    ['names.ehlo'],
    2,
  ],
  ['no PTR', { zone: drop('192.0.2.1') }, ['names.ptr'], 2],
  [
    'PTR not forward-confirmed',
    { zone: rr('2001:db8::25', 'PTR', ['ghost.example.com']) },
    ['names.ehlo', 'names.ptr'],
    2,
  ],
  [
    'serverAddresses not in the A records',
    {
      config: { serverAddresses: ['192.0.2.1', '2001:db8::25', '192.0.2.99'] },
      zone: rr('192.0.2.99', 'PTR', ['mx.example.com']),
    },
    ['names.address', 'names.ptr', 'spf.authorizes', 'spf.helo'],
    2,
  ],
  // RFC 6890: addresses the internet cannot reach; a warning, since an internal-only setup may mean them.
  [
    'mail host at a private and a unique local address',
    {
      config: { serverAddresses: [] },
      zone: (z) => {
        z.records[HOST] = { A: ['10.0.0.25'], AAAA: ['fd00::25'], TXT: ['v=spf1 a -all'] };
        records(z, '10.0.0.25').PTR = [HOST];
        records(z, 'fd00::25').PTR = [HOST];
      },
    },
    ['mx.target', 'names.address'],
    1,
  ],
  [
    'a backup MX at a loopback address',
    {
      zone: (z) => {
        records(z, DOMAIN).MX = [
          { priority: 10, exchange: 'mx.example.com' },
          { priority: 20, exchange: 'backup.example.com' },
        ];
        records(z, 'backup.example.com').A = ['127.0.0.2'];
      },
    },
    ['mx.target'],
    1,
  ],
  // MX
  [
    'MX to a CNAME',
    {
      zone: (z) => {
        records(z, DOMAIN).MX = [
          { priority: 10, exchange: 'mx.example.com' },
          { priority: 20, exchange: 'alias.example.com' },
        ];
        z.records['alias.example.com'] = { CNAME: 'mx.example.com' };
      },
    },
    ['mx.target'],
    2,
  ],
  [
    'MX to an IP address',
    {
      zone: rr(DOMAIN, 'MX', [
        { priority: 10, exchange: 'mx.example.com' },
        { priority: 20, exchange: '192.0.2.1' },
      ]),
    },
    ['mx.target'],
    2,
  ],
  [
    'MX target without address',
    {
      zone: rr(DOMAIN, 'MX', [
        { priority: 10, exchange: 'mx.example.com' },
        { priority: 20, exchange: 'gone.example.com' },
      ]),
    },
    ['mx.target'],
    2,
  ],
  ['no MX', { zone: rr(DOMAIN, 'MX', undefined) }, ['mx.present', 'spf.authorizes'], 2],
  // A null MX also leaves `v=spf1 mx` authorising no host: two true findings.
  [
    'null MX on a domain we receive for',
    { zone: rr(DOMAIN, 'MX', [{ priority: 0, exchange: '.' }]) },
    ['mx.null', 'spf.authorizes'],
    2,
  ],
  [
    'a backup MX preferred over us',
    {
      zone: (z) => {
        records(z, DOMAIN).MX = [
          { priority: 10, exchange: 'backup.example.com' },
          { priority: 20, exchange: 'mx.example.com' },
        ];
        records(z, 'backup.example.com').A = ['192.0.2.2'];
      },
    },
    ['mx.priorities'],
    1,
  ],
  // SPF
  ['two SPF records', { zone: txt(DOMAIN, 'v=spf1 mx -all', 'v=spf1 ip4:192.0.2.1 -all') }, ['spf.record'], 2],
  ['no SPF record', { zone: txt(DOMAIN, 'site-verification=abc123') }, ['spf.record'], 2],
  ['SPF syntax error', { zone: txt(DOMAIN, 'v=spf1 mx ip4:192.0.2.300 -all') }, ['spf.syntax'], 2],
  [
    'SPF over 10 lookups',
    {
      zone: (z) => {
        txt(DOMAIN, `v=spf1 mx ${includes} -all`)(z);
        for (let i = 0; i < 10; i++) txt(`spf${i}.example.com`, `v=spf1 ip4:198.51.100.${i} -all`)(z);
      },
    },
    ['spf.lookups'],
    2,
  ],
  [
    'SPF over 2 void lookups',
    { zone: txt(DOMAIN, 'v=spf1 mx a:void1.example.com a:void2.example.com mx:void3.example.com -all') },
    ['spf.lookups'],
    2,
  ],
  [
    'SPF include without a record',
    { zone: txt(DOMAIN, 'v=spf1 mx include:nothing.example.net -all') },
    ['spf.syntax'],
    2,
  ],
  ['SPF ending in ?all', { zone: txt(DOMAIN, 'v=spf1 mx ?all') }, ['spf.all'], 1],
  ['SPF not authorising this server', { zone: txt(DOMAIN, 'v=spf1 ip4:198.51.100.1 -all') }, ['spf.authorizes'], 2],
  // RFC 7208 §2.3: the HELO name's record, which bounces depend on.
  ['no SPF record for the HELO name', { zone: rr(HOST, 'TXT', undefined) }, ['spf.helo'], 1],
  ['SPF of the HELO name refusing this server', { zone: txt(HOST, 'v=spf1 ip4:198.51.100.1 -all') }, ['spf.helo'], 1],
  // DKIM
  [
    'weak DKIM key',
    () => {
      const weak = { ...dkimKey('s1', 1024) };
      return {
        keys: () => [weak],
        zone: txt('s1._domainkey.example.com', `v=DKIM1; k=rsa; p=${weak.publicKey}`),
      };
    },
    ['dkim.strength'],
    1,
  ],
  [
    'DKIM record with another key',
    () => ({ zone: txt('s1._domainkey.example.com', `v=DKIM1; k=rsa; p=${dkimKey('s1', 2048).publicKey}`) }),
    ['dkim.record'],
    2,
  ],
  ['DKIM record missing', { zone: drop('s1._domainkey.example.com') }, ['dkim.record'], 2],
  ['no DKIM key at all', { keys: () => [] }, ['dkim.keys'], 2],
  [
    'DKIM record revoked (empty p=)',
    { zone: txt('s1._domainkey.example.com', 'v=DKIM1; k=rsa; p=') },
    ['dkim.record'],
    2,
  ],
  // DMARC
  [
    'DMARC syntax error',
    { zone: txt('_dmarc.example.com', 'v=DMARC1; p=rejct; rua=mailto:dmarc@example.com') },
    ['bimi.dmarc', 'dmarc.syntax'],
    2,
  ],
  [
    // RFC 3986 §2.1: `%` must start two hex digits. It threw, and one vague warning hid the DMARC area.
    'DMARC rua with a malformed percent-escape, and a syntax error beside it',
    { zone: txt('_dmarc.example.com', 'v=DMARC1; p=rejct; rua=mailto:dmarc@example.com, mailto:a%zz@example.com') },
    ['bimi.dmarc', 'dmarc.reports', 'dmarc.syntax'],
    2,
  ],
  [
    'DMARC rua escaping an octet that is not UTF-8 (read as written)',
    { zone: txt('_dmarc.example.com', 'v=DMARC1; p=reject; rua=mailto:dmarc%FF@other.example') },
    ['dmarc.reports'],
    2,
  ],
  [
    'two DMARC records',
    { zone: txt('_dmarc.example.com', 'v=DMARC1; p=none', 'v=DMARC1; p=reject') },
    ['bimi.dmarc', 'dmarc.record'],
    2,
  ],
  // The BIMI record of the fixture is then ignored by receivers: a true second finding.
  ['no DMARC record', { zone: drop('_dmarc.example.com') }, ['bimi.dmarc', 'dmarc.record'], 2],
  [
    'DMARC record without v=DMARC1',
    { zone: txt('_dmarc.example.com', 'p=reject; rua=mailto:dmarc@example.com') },
    ['bimi.dmarc', 'dmarc.record'],
    2,
  ],
  [
    // RFC 7489 §6.6.3: no p= but a valid rua= reads as p=none: a warning, not a fail (it failed before).
    'DMARC without p= but with a valid rua=',
    { zone: txt('_dmarc.example.com', 'v=DMARC1; rua=mailto:dmarc@example.com') },
    ['bimi.dmarc', 'dmarc.syntax'],
    1,
  ],
  [
    'DMARC p=none',
    { zone: txt('_dmarc.example.com', 'v=DMARC1; p=none; rua=mailto:dmarc@example.com') },
    ['bimi.dmarc', 'dmarc.policy'],
    1,
  ],
  // RFC 7489 §6.2: receivers must support mailto: only, and send aggregate reports by mail.
  [
    'DMARC rua with https: URIs only',
    { zone: txt('_dmarc.example.com', 'v=DMARC1; p=reject; rua=https://reports.example.com/dmarc') },
    ['dmarc.reports'],
    1,
  ],
  [
    'DMARC reports to an unauthorised domain',
    { zone: drop('example.com._report._dmarc.reports.example.net') },
    ['dmarc.reports'],
    2,
  ],
  // TLS-RPT
  ['no TLS-RPT record', { zone: drop('_smtp._tls.example.com') }, ['tls-rpt.record'], 1],
  [
    'TLS-RPT without rua',
    { zone: txt('_smtp._tls.example.com', 'v=TLSRPTv1; ruf=mailto:x@example.com') },
    ['tls-rpt.record'],
    2,
  ],
  // MTA-STS
  ['MTA-STS id without policy (HTTP 404)', { policy: { status: 404 } }, ['mta-sts.policy'], 2],
  ['MTA-STS id without a policy host', { zone: drop('mta-sts.example.com') }, ['mta-sts.policy'], 2],
  ['MTA-STS policy not text/plain', { policy: { contentType: 'text/html' } }, ['mta-sts.policy'], 2],
  [
    'MTA-STS policy not matching the MX',
    { policy: { body: GOOD_POLICY.replace('*.example.com', 'mail.example.org') } },
    ['mta-sts.mx'],
    2,
  ],
  [
    'MTA-STS wildcard covering one label only (RFC 8461 §4.1)',
    {
      zone: (z) => {
        records(z, DOMAIN).MX = [
          { priority: 10, exchange: 'mx.example.com' },
          { priority: 20, exchange: 'a.b.example.com' },
        ];
        records(z, 'a.b.example.com').A = ['192.0.2.3'];
      },
    },
    ['mta-sts.mx'],
    2,
  ],
  ['MTA-STS in testing mode', { policy: { body: GOOD_POLICY.replace('enforce', 'testing') } }, ['mta-sts.mode'], 1],
  ['MTA-STS max_age of an hour', { policy: { body: GOOD_POLICY.replace('604800', '3600') } }, ['mta-sts.max-age'], 1],
  ['MTA-STS TXT without id', { zone: txt('_mta-sts.example.com', 'v=STSv1;') }, ['mta-sts.record'], 2],
  // BIMI
  ['BIMI logo not Tiny PS', { logo: svgWith('<rect width="5" height="5"/>', 'full') }, ['bimi.logo'], 2],
  ['BIMI logo with a script', { logo: svgWith('<script>alert(1)</script>') }, ['bimi.logo'], 2],
  [
    'BIMI logo URL not https',
    { zone: txt('default._bimi.example.com', 'v=BIMI1; l=http://bimi.example.com/logo.svg') },
    ['bimi.record'],
    2,
  ],
  // DANE
  [
    'TLSA not matching the served certificate',
    {
      zone: rr('_25._tcp.mx.example.com', 'TLSA', [{ usage: 3, selector: 1, matchingType: 1, data: '00'.repeat(32) }]),
    },
    ['dane.tlsa'],
    2,
  ],
  ['no way to verify DNSSEC', { dnssec: null }, ['dane.dnssec'], 1],
  ['zone not DNSSEC-signed', { dnssec: async () => 'unsigned' }, ['dane.dnssec'], 2],
  // CAA
  [
    'CAA forbidding the CA in use',
    { caa: { [DOMAIN]: [{ critical: false, tag: 'issue', value: 'other-ca.example' }] } },
    ['caa.issuers'],
    2,
  ],
  ['no CAA', { caa: {} }, ['caa.issuers'], 1],
  // server
  // The test CA's certificates last 30 days: 20 days on, 10 are left.
  ['certificate near expiry', () => ({ now: new Date(Date.now() + 20 * DAY_MS) }), ['server.certificate'], 1],
  [
    'certificate from an untrusted CA',
    async () => ({ probe: { ca: [(await createTestCa('Other CA')).ca] } }),
    ['server.certificate'],
    2,
  ],
  // DNS trouble: never a pass or a fail
  ['DNS timeout on DMARC', { zone: unanswered('timeout', '_dmarc.example.com') }, ['bimi.dmarc', 'dmarc.record'], 1],
  ['SERVFAIL on the SPF record', { zone: unanswered('servfail', 'example.com/TXT') }, ['spf.record'], 1],
  ['DNS timeout on a PTR', { zone: unanswered('timeout', '2001:db8::25') }, ['names.ptr'], 1],
  [
    'DNS timeout on the SPF redirect target',
    spfRedirectTimeout,
    ['spf.all', 'spf.authorizes', 'spf.lookups', 'spf.open', 'spf.syntax'],
    1,
  ],
];

for (const [name, setup, expected, exit] of defects) {
  test(`defect: ${name}`, async () => {
    const defect = typeof setup === 'function' ? await setup() : setup;
    const checks = await fx.run(defect);
    const table = renderTable(DOMAIN, checks, { colour: false });
    assert.deepEqual(nonPass(checks), [...expected].sort(), table);
    assert.equal(exitCode(checks), exit, table);
    for (const c of checks.filter((c) => c.status !== 'pass')) assert.ok(c.fix, `${c.id} has no fix`);
  });
}

test('an SPF redirect target that times out is neither passed nor blamed: every SPF finding is could-not-check (RFC 7208 §4.4)', async () => {
  const checks = await fx.run(spfRedirectTimeout);
  const spf = checks.filter((c) => c.area === 'spf' && c.status !== 'pass');
  assert.ok(spf.length > 0);
  for (const c of spf) assert.match(c.summary, /^could not check: DNS timeout looking up /, JSON.stringify(c));
  assert.match(spf.find((c) => c.id === 'spf.all')?.summary ?? '', /TXT _spf\.example\.com/);
  assert.match(spf.find((c) => c.id === 'spf.syntax')?.summary ?? '', /TXT _spf\.example\.com/);
  // Only the record itself was read: that is all that passes.
  assert.deepEqual(
    checks.filter((c) => c.area === 'spf' && c.status === 'pass').map((c) => c.id),
    ['spf.record', 'spf.helo', 'spf.helo'],
  );
});

test('a mail host at addresses the internet cannot reach is named for that, with what the addresses are', async () => {
  const checks = await fx.run({
    config: { serverAddresses: [] },
    zone: (z) => {
      z.records[HOST] = { A: ['192.168.1.25', '100.64.0.25'], AAAA: ['fe80::25'], TXT: ['v=spf1 a -all'] };
      for (const ip of ['192.168.1.25', '100.64.0.25', 'fe80::25']) records(z, ip).PTR = [HOST];
    },
  });
  const address = checks.find((c) => c.id === 'names.address');
  assert.equal(address?.status, 'warn', JSON.stringify(nonPass(checks)));
  assert.match(
    address?.summary ?? '',
    /has address 100\.64\.0\.25 \(a carrier-grade NAT address \(RFC 6598\)\), 192\.168\.1\.25 \(a private address \(RFC 1918\)\), fe80::25 \(a link-local address/,
  );
  const target = checks.find((c) => c.id === 'mx.target');
  assert.equal(target?.status, 'warn');
  assert.match(target?.summary ?? '', /senders on the internet cannot reach/);
  // The documentation ranges of the good setup stand for public addresses: no warning.
  const good = await fx.run();
  assert.equal(good.find((c) => c.id === 'names.address')?.status, 'pass');
});

test('BIMI on a subdomain without a DMARC record of its own judges the policy of the organizational domain (RFC 7489 §6.6.3)', async () => {
  const sub = 'sub.example.com';
  const bimi = `default._bimi.${sub}`;
  const run = (dmarc: string) =>
    fx.run({
      domain: sub,
      zone: (z) => {
        txt(bimi, 'v=BIMI1; l=https://bimi.example.com/logo.svg')(z);
        txt('_dmarc.example.com', dmarc)(z);
      },
    });
  const checks = await run('v=DMARC1; p=reject; rua=mailto:dmarc@example.com');
  const status = (list: Check[], id: string) => list.find((c) => c.id === id);
  assert.equal(status(checks, 'dmarc.record')?.status, 'pass', JSON.stringify(status(checks, 'dmarc.record')));
  assert.equal(status(checks, 'bimi.record')?.status, 'pass', JSON.stringify(status(checks, 'bimi.record')));
  const enforced = status(checks, 'bimi.dmarc');
  assert.equal(enforced?.status, 'pass', JSON.stringify(enforced));
  assert.match(enforced?.summary ?? '', /DMARC of example\.com p=reject/);
  // sp= is what a subdomain gets: p=reject with sp=none leaves its logo unshown.
  const spNone = status(await run('v=DMARC1; p=reject; sp=none; rua=mailto:dmarc@example.com'), 'bimi.dmarc');
  assert.equal(spNone?.status, 'warn', JSON.stringify(spNone));
  assert.match(spNone?.summary ?? '', /DMARC of example\.com is sp=none/);
});

test('BIMI applies the DMARC rules receivers apply (mailauth): sp=none, t=y and a lax organizational record leave no logo', async () => {
  const bimiDmarc = async (zone: (z: TestZone) => void, domain?: string) => {
    const checks = await fx.run({ zone, ...(domain ? { domain } : {}) });
    return checks.find((c) => c.id === 'bimi.dmarc');
  };
  // The domain's own record: sp=none is "too lax DMARC subdomain policy", t=y "too lax DMARC policy".
  const spNone = await bimiDmarc(
    txt('_dmarc.example.com', 'v=DMARC1; p=reject; sp=none; rua=mailto:dmarc@example.com'),
  );
  assert.equal(spNone?.status, 'warn', JSON.stringify(spNone));
  assert.match(spNone?.summary ?? '', /DMARC of example\.com is sp=none: receivers show a BIMI logo only/);
  const testing = await bimiDmarc(txt('_dmarc.example.com', 'v=DMARC1; p=reject; t=y; rua=mailto:dmarc@example.com'));
  assert.equal(testing?.status, 'warn', JSON.stringify(testing));
  assert.match(testing?.summary ?? '', /DMARC is in testing mode \(t=y\)/);
  // A subdomain's own p=reject under an organizational domain at p=none: receivers check both records.
  const sub = 'sub.example.com';
  const lax = await bimiDmarc((z) => {
    txt(`default._bimi.${sub}`, 'v=BIMI1; l=https://bimi.example.com/logo.svg')(z);
    txt(`_dmarc.${sub}`, 'v=DMARC1; p=reject; rua=mailto:dmarc@example.com')(z);
    txt('_dmarc.example.com', 'v=DMARC1; p=none; rua=mailto:dmarc@example.com')(z);
  }, sub);
  assert.equal(lax?.status, 'warn', JSON.stringify(lax));
  assert.match(lax?.summary ?? '', /DMARC of example\.com \(the organizational domain\) is p=none/);
  // p=reject at pct=50 is enforced for mailauth: the logo may show.
  const partial = await bimiDmarc(
    txt('_dmarc.example.com', 'v=DMARC1; p=reject; pct=50; rua=mailto:dmarc@example.com'),
  );
  assert.equal(partial?.status, 'pass', JSON.stringify(partial));
});

test('an Ed25519 key published as a SubjectPublicKeyInfo is named as such (RFC 8463 §4.2: p= is the bare key)', async () => {
  const { publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ed = {
    ...dkimKey('e1', 2048),
    selector: 'e1',
    algorithm: 'ed25519' as const,
    bits: 256,
    publicKey: spki.subarray(-32).toString('base64'),
  };
  const checks = await fx.run({
    keys: (good) => [good, ed],
    zone: txt('e1._domainkey.example.com', `v=DKIM1; k=ed25519; p=${spki.toString('base64')}`),
  });
  const record = checks.find((c) => c.id === 'dkim.record' && c.status === 'fail');
  assert.ok(record, JSON.stringify(nonPass(checks)));
  assert.match(
    record.summary,
    /publishes the stored key as a SubjectPublicKeyInfo; an Ed25519 p= is the bare 32-byte key/,
  );
});

test('records a small slip breaks are named for the slip, not for something else', async () => {
  const failing = async (zone: Parameters<typeof fx.run>[0], id: string) => {
    const checks = await fx.run(zone);
    const found = checks.find((c) => c.id === id && c.status !== 'pass');
    assert.ok(found, `${id}: ${JSON.stringify(nonPass(checks))}`);
    return found.summary;
  };
  // An Ed25519 key record without k=: before, "says k=rsa".
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
  const ed = { ...dkimKey('e1', 2048), selector: 'e1', algorithm: 'ed25519' as const, bits: 256, publicKey: raw };
  assert.match(
    await failing(
      { keys: (good) => [good, ed], zone: txt('e1._domainkey.example.com', `v=DKIM1; p=${raw}`) },
      'dkim.record',
    ),
    /has no k=, which means k=rsa \(RFC 6376 §3\.6\.1\), but the stored key e1 is ed25519/,
  );
  // Upper-case tag names: before, "has no p=".
  assert.match(
    await failing(
      { zone: txt('s1._domainkey.example.com', `v=DKIM1; k=rsa; P=${fx.dkimKey.publicKey}`) },
      'dkim.record',
    ),
    /has no p= but P=: tag names are case-sensitive/,
  );
  // TLS-RPT "RUA=": before, "no rua=".
  assert.match(
    await failing({ zone: txt('_smtp._tls.example.com', 'v=TLSRPTv1; RUA=mailto:tls@example.com') }, 'tls-rpt.record'),
    /"RUA=mailto:tls@example\.com" is not read as rua=/,
  );
  // MTA-STS "v=stsv1": before, "has no MTA-STS record".
  assert.match(
    await failing({ zone: txt('_mta-sts.example.com', 'v=stsv1; id=20261129') }, 'mta-sts.record'),
    /has "v=stsv1; id=20261129", which senders discard: it must start exactly "v=STSv1;"/,
  );
});

test('near-miss DMARC and TLS-RPT records are named for the slip, not as no record', async () => {
  // RFC 7489 §6.4: "v=DMARC1" and the next tag are separated by ";".
  const dmarc = await fx.run({ zone: txt('_dmarc.example.com', 'v=DMARC1 p=reject') });
  const record = dmarc.find((c) => c.id === 'dmarc.record');
  assert.equal(record?.status, 'fail');
  assert.match(
    record?.summary ?? '',
    /has "v=DMARC1 p=reject", whose v=DMARC1 is not followed by ";" \(RFC 7489 §6\.4\)/,
  );
  assert.match(record?.fix ?? '', /^Separate the tags with ";"/);
  // RFC 8460 §3: records not starting exactly "v=TLSRPTv1;" are discarded.
  for (const near of ['v=TLSRPTv1 rua=mailto:tls@example.com', 'v=tlsrptv1; rua=mailto:tls@example.com']) {
    const checks = await fx.run({ zone: txt('_smtp._tls.example.com', near) });
    const tls = checks.find((c) => c.id === 'tls-rpt.record');
    assert.equal(tls?.status, 'warn', near);
    assert.equal(
      tls?.summary,
      `_smtp._tls.example.com has "${near}", which senders discard: it must start exactly "v=TLSRPTv1;" (RFC 8460 §3)`,
    );
  }
});

test('an MTA-STS policy served with a bad field is told to correct that field, not to serve the policy (RFC 8461 §3.2)', async () => {
  for (const [body, field] of [
    [GOOD_POLICY.replace('enforce', 'enforcing'), /"mode:" must be "enforce", "testing" or "none"/],
    [GOOD_POLICY.replace('604800', '1w'), /"max_age:" must be a number of seconds/],
    [GOOD_POLICY.replace('STSv1', 'STSv2'), /"version:" must be "STSv1"/],
    [GOOD_POLICY.replace('mx: *.example.com\r\n', ''), /each "mx:" line must be an MX host name/],
  ] as const) {
    const checks = await fx.run({ policy: { body } });
    const policy = checks.find((c) => c.id === 'mta-sts.policy');
    assert.equal(policy?.status, 'fail', body);
    assert.match(policy?.summary ?? '', /not a valid policy/);
    assert.match(policy?.fix ?? '', field, body);
    assert.doesNotMatch(policy?.fix ?? '', /certificate|point mta-sts/i, body);
  }
});

test("what SVG Tiny PS forbids beyond mailauth's validator fails the logo, with the reason", async () => {
  const cases: [string, string, RegExp][] = [
    ['over 32 KB', svgWith(`<desc>${'x'.repeat(33 * 1024)}</desc>`), /it is \d+ bytes, over the 32 KB \(32768 bytes\)/],
    [
      'an https href',
      svgWith('<use href="https://evil.example/a.svg#x"/>'),
      /<use> refers to https:\/\/evil\.example\/a\.svg#x \(href\): external references are not allowed/,
    ],
    [
      'an event attribute',
      svgWith('<rect width="5" height="5" onclick="alert(1)"/>'),
      /<rect> has the event attribute onclick, a script/,
    ],
    [
      'a foreignObject',
      svgWith('<foreignObject width="5" height="5"><p>x</p></foreignObject>'),
      /it holds a <foreignObject>/,
    ],
    [
      'version 1.1',
      svgWith('<rect width="5" height="5"/>').replace('version="1.2"', 'version="1.1"'),
      /version="1\.1", not "1\.2"/,
    ],
  ];
  for (const [name, logo, reason] of cases) {
    const checks = await fx.run({ logo });
    assert.deepEqual(nonPass(checks), ['bimi.logo'], name);
    const found = checks.find((c) => c.id === 'bimi.logo');
    assert.equal(found?.status, 'fail', name);
    assert.match(found?.summary ?? '', reason, name);
  }
  // A fragment reference stays inside the document.
  const internal = await fx.run({ logo: svgWith('<defs><circle id="c" r="2"/></defs><use href="#c"/>') });
  assert.equal(internal.find((c) => c.id === 'bimi.logo')?.status, 'pass');
});

test('a DMARC record without v=DMARC1 is named for what it is, not as no record', async () => {
  const checks = await fx.run({ zone: txt('_dmarc.example.com', 'p=reject; rua=mailto:dmarc@example.com') });
  const record = checks.find((c) => c.id === 'dmarc.record');
  assert.match(
    record?.summary ?? '',
    /has "p=reject; rua=mailto:dmarc@example\.com", which does not start with v=DMARC1/,
  );
});

test('v=dmarc1 in lower case is discarded by receivers (RFC 7489 §6.4): a fail, not a pass for its policy', async () => {
  // Before: PASS dmarc.record and PASS dmarc.policy p=reject, beside a FAIL dmarc.syntax.
  const checks = await fx.run({ zone: txt('_dmarc.example.com', 'v=dmarc1; p=reject; rua=mailto:dmarc@example.com') });
  const record = checks.find((c) => c.id === 'dmarc.record');
  assert.equal(record?.status, 'fail');
  assert.match(record?.summary ?? '', /which does not start with v=DMARC1 \(in capitals, RFC 7489 §6\.4\)/);
  assert.equal(
    checks.find((c) => c.id === 'dmarc.policy'),
    undefined,
  );
});

test('a retired DKIM key whose record still publishes it is a warning; removed or revoked (empty p=) passes', async () => {
  const old = { ...dkimKey('r0', 2048), state: 'retired' as const };
  const name = 'r0._domainkey.example.com';
  const retired = async (zone?: (zone: TestZone) => void) => {
    const checks = await fx.run({ keys: (good) => [good, old], ...(zone ? { zone } : {}) });
    const found = checks.filter((c) => c.id === 'dkim.retired');
    assert.equal(found.length, 1, renderTable(DOMAIN, checks, { colour: false }));
    assert.equal(found[0]?.subject, 'r0');
    // Only this check changes: the retired key is judged neither as a record to keep nor for its strength.
    assert.deepEqual(
      nonPass(checks).filter((id) => id !== 'dkim.retired'),
      [],
      JSON.stringify(nonPass(checks)),
    );
    return found[0] as Check;
  };
  for (const record of [`v=DKIM1; k=rsa; p=${old.publicKey}`, `v=DKIM1; k=rsa; P=${old.publicKey}`]) {
    const published = await retired(txt(name, record));
    assert.equal(published.status, 'warn', record);
    assert.match(published.summary, /^r0\._domainkey\.example\.com still publishes the retired key r0: mail signed/);
    assert.equal(
      published.fix,
      'Remove the TXT record r0._domainkey.example.com, or revoke the key by publishing "v=DKIM1; p=" there (RFC 6376 §3.6.1).',
    );
  }
  const revoked = await retired(txt(name, 'v=DKIM1; k=rsa; p='));
  assert.equal(revoked.status, 'pass');
  assert.match(revoked.summary, /revokes the retired key r0 \(empty p=/);
  const gone = await retired();
  assert.equal(gone.status, 'pass');
  assert.match(gone.summary, /is no longer published/);
  // Another key at the selector is not the retired one: not Postern's to judge.
  const other = await retired(txt(name, `v=DKIM1; k=rsa; p=${fx.dkimKey.publicKey}`));
  assert.equal(other.status, 'pass');
  assert.match(other.summary, /no longer publishes the retired key r0/);
  const slow = await retired(unanswered('timeout', name));
  assert.equal(slow.status, 'warn');
  assert.match(slow.summary, /^could not check: DNS timeout looking up TXT r0\._domainkey\.example\.com/);
});

test('a DKIM p= that verifiers refuse fails, whatever Node would decode of it; an upper-case k= passes', async () => {
  const p = fx.dkimKey.publicKey;
  const name = `${fx.dkimKey.selector}._domainkey.example.com`;
  // The zone-file form's strings pasted into a provider's web form: `" "` lands inside p=.
  const pasted = `v=DKIM1; k=rsa; p=${p.slice(0, 200)}" "${p.slice(200)}`;
  for (const record of [pasted, `v=DKIM1; k=rsa; p=${p.slice(0, 100)}!!${p.slice(100)}`]) {
    const checks = await fx.run({ zone: txt(name, record) });
    const failed = checks.find((c) => c.id === 'dkim.record');
    assert.equal(failed?.status, 'fail', record);
    assert.match(failed?.summary ?? '', /p= holds characters that are not base64 \(RFC 6376 §3\.6\.1\)/);
  }
  // RFC 5234 §2.3: k=RSA is k=rsa.
  const upper = await fx.run({ zone: txt(name, `v=DKIM1; k=RSA; p=${p}`) });
  assert.equal(upper.find((c) => c.id === 'dkim.record')?.status, 'pass', JSON.stringify(nonPass(upper)));
});

test('DKIM s=, h= and t= values are read in any case, as the verifier reads them (RFC 5234 §2.3)', async () => {
  const p = fx.dkimKey.publicKey;
  const name = `${fx.dkimKey.selector}._domainkey.example.com`;
  const record = async (text: string) =>
    (await fx.run({ zone: txt(name, text) })).find((c) => c.id === 'dkim.record' && c.subject === 's1');
  for (const tags of ['h=SHA256', 's=Email', 'h=Sha1:SHA256; s=EMAIL']) {
    const found = await record(`v=DKIM1; k=rsa; ${tags}; p=${p}`);
    assert.equal(found?.status, 'pass', `${tags}: ${JSON.stringify(found)}`);
  }
  const testing = await record(`v=DKIM1; k=rsa; t=Y; p=${p}`);
  assert.equal(testing?.status, 'warn', JSON.stringify(testing));
  assert.match(testing?.summary ?? '', /is in testing mode \(t=y\)/);
  // What the verifier refuses still fails.
  assert.equal((await record(`v=DKIM1; k=rsa; h=SHA1; p=${p}`))?.status, 'fail');
});

test('every address of the mail host is probed on port 25: an AAAA where nothing listens fails (RFC 5321 §5.1)', async () => {
  // The mail host on loopback twice: 127.0.0.1, where the test server listens, and ::1, where it does not.
  const checks = await fx.run({
    zone: (zone) => {
      zone.records[HOST] = { ...zone.records[HOST], A: ['127.0.0.1'], AAAA: ['::1'] };
    },
    probe: { host: undefined },
  });
  const port = checks.find((c) => c.id === 'server.port' && c.subject === '25/smtp');
  assert.equal(port?.status, 'pass', JSON.stringify(port));
  const other = checks.find((c) => c.id === 'server.address');
  assert.equal(other?.status, 'fail', JSON.stringify(nonPass(checks)));
  assert.equal(other?.subject, '::1');
  assert.match(other?.summary ?? '', /^port \d+ \(smtp\) on mx\.example\.com at ::1 does not answer/);
  assert.match(other?.fix ?? '', /listen\.smtp: "\[::\]:25"/);
});

test("a subdomain's own record without v=DMARC1 fails even where the parent's record would apply instead", async () => {
  const checks = await fx.run({
    domain: 'sub.example.com',
    zone: txt('_dmarc.sub.example.com', 'p=reject; rua=mailto:dmarc@example.com'),
  });
  const record = checks.find((c) => c.id === 'dmarc.record');
  assert.equal(record?.status, 'fail', JSON.stringify(record));
  assert.match(
    record?.summary ?? '',
    /_dmarc\.sub\.example\.com has "p=reject; .*", which does not start with v=DMARC1/,
  );
});
