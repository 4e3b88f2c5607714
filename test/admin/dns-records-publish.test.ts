// What `postern dns records` prints for publish.* values that `dns check` would then fail or warn about:
// an SPF record open to much of the Internet or over 450 octets, a report address in an IDN, and the
// MTA-STS record's words for each mode.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DnsRecord, recordsFor, spfRecordProblem } from '../../src/admin/dns-records.ts';
import { recordsToTestZone } from '../../src/admin/records-test-zone.ts';
import { zoneLines } from '../../src/admin/zone-lines.ts';
import { checkSpf } from '../../src/authentication/spf/check-spf.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { createResolver } from '../../src/dns/system-resolver.ts';
import { startTestDnsServer } from '../../src/dns/test-server.ts';

function configOf(extra: Partial<ConfigInput> = {}) {
  return parseConfig(
    {
      hostname: 'mx.example.com',
      domains: ['example.com'],
      dataDir: '/nonexistent',
      serverAddresses: ['192.0.2.1'],
      ...extra,
    },
    'test',
  );
}

const noKeys = { listDkimKeys: async () => [] };

const one = (records: DnsRecord[], name: string, type: string) => {
  const found = records.filter((r) => r.name === name && r.type === type);
  assert.equal(found.length, 1, `one ${type} at ${name}: ${JSON.stringify(found)}`);
  return found[0]!;
};

const spfOf = async (spfInclude: string[], domains = ['example.com']) => {
  const records = await recordsFor(domains[0]!, {
    config: configOf({ domains, publish: { spfInclude } }),
    store: noKeys,
  });
  return { spf: one(records, domains[0]!, 'TXT'), records };
};

test('an spfInclude term that passes a network wider than /8 or /16 makes the SPF record a TO DO, and a check warning', async (t) => {
  // Before: "v=spf1 mx ip4:0.0.0.0/0 -all" ready to publish, which passes every sender (dns check: spf.open).
  const { spf, records } = await spfOf(['ip4:0.0.0.0/0']);
  assert.equal(spf.value, 'v=spf1 mx ip4:0.0.0.0/0 -all');
  assert.match(spf.todo ?? '', /publish\.spfInclude has ip4:0\.0\.0\.0\/0, which passes a network wider than \/8/);
  assert.match(
    zoneLines('example.com', records),
    /^; example\.com\. +3600 IN TXT +"v=spf1 mx ip4:0\.0\.0\.0\/0 -all"$/m,
  );
  assert.equal(
    spfRecordProblem(configOf({ publish: { spfInclude: ['ip4:0.0.0.0/0'] } })),
    spf.todo?.replace(/; fix the config and run this again$/, ''),
    'check warns with the same words',
  );
  // Why: served as printed, the evaluator incoming mail goes through passes a stranger.
  const zone = recordsToTestZone(records.map((r) => (r === spf ? { ...r, todo: undefined } : r))).zone;
  const dns = await startTestDnsServer(zone);
  t.after(() => dns.close());
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1 });
  const stranger = await checkSpf({
    ip: '203.0.113.66',
    sender: 'a@example.com',
    helo: 'stranger.invalid',
    resolver,
    hostname: 'mx.example.com',
  });
  assert.equal(stranger.result, 'pass');

  for (const term of [
    'ip6:::/0',
    'ip4:0.0.0.0/1',
    '+ip4:128.0.0.0/7',
    'ip6:2000::/3',
    'ip6:2001::/15',
    'a:relay.example.net/0',
    'mx//0',
  ]) {
    assert.match((await spfOf([term])).spf.todo ?? '', /wider than \/8 \(IPv4\) or \/16 \(IPv6\)/, term);
  }
  // A /8 or /16 and narrower, or a term that does not pass (RFC 7208 §4.6.2), stays ready to publish.
  for (const term of [
    'ip4:10.0.0.0/8',
    'ip6:2001:db8::/16',
    'ip4:198.51.100.0/24',
    '-ip4:0.0.0.0/0',
    '~ip6:::/0',
    '?ip4:0.0.0.0/0',
    'a:relay.example.net/24',
  ]) {
    assert.equal((await spfOf([term])).spf.todo, undefined, term);
  }
});

test('an SPF record over the 450 octets RFC 7208 §3.4 advises, counted with its name as dns check counts, is a TO DO', async () => {
  const terms = (n: number) => Array.from({ length: n }, (_, i) => `ip4:198.51.100.${i + 1}`);
  // Before: 26 terms made a 473-octet record with no TO DO, which dns check then warned about.
  const { spf } = await spfOf(terms(26));
  assert.equal(Buffer.byteLength(spf.value), 473);
  assert.match(
    spf.todo ?? '',
    /SPF record of example\.com 484 octets with its name, over the 450 RFC 7208 §3\.4 advises/,
  );
  // The edge: name and record of 450 octets are within, 451 over; an unknown modifier (RFC 7208 §6) pads.
  const base = terms(23);
  const size = 'example.com'.length + `v=spf1 mx ${base.join(' ')} -all`.length;
  const padTo = (octets: number) => [...base, `x=${'a'.repeat(octets - size - ' x='.length)}`];
  for (const [octets, todo] of [
    [450, false],
    [451, true],
  ] as const) {
    const { spf: record } = await spfOf(padTo(octets));
    assert.equal('example.com'.length + Buffer.byteLength(record.value), octets);
    assert.equal(record.todo !== undefined, todo, `${octets} octets: ${record.todo}`);
  }
  // Without a domain (postern check), the longest name of domains is the one counted.
  const config = configOf({
    domains: ['example.com', 'a-much-longer-name.example.com'],
    publish: { spfInclude: padTo(440) },
  });
  assert.equal(spfRecordProblem(config, 'example.com'), undefined);
  assert.match(spfRecordProblem(config) ?? '', /SPF record of a-much-longer-name\.example\.com 459 octets/);
});

test('a report address in an IDN is published with its domain as A-labels, and so is its authorization record name', async () => {
  const config = configOf({
    publish: { dmarcRua: 'mailto:r@пример.рф, mailto:d@Bücher.example!10m', tlsRptRua: 'mailto:tls@пример.рф' },
  });
  // Before: "rua=mailto:r@пример.рф", no URI (RFC 6068 §2), and the record at "example.com._report._dmarc.пример.рф".
  assert.equal(config.publish.dmarcRua, 'mailto:r@xn--e1afmkfd.xn--p1ai, mailto:d@xn--bcher-kva.example!10m');
  const records = await recordsFor('example.com', { config, store: noKeys });
  assert.equal(
    one(records, '_dmarc.example.com', 'TXT').value,
    'v=DMARC1; p=none; rua=mailto:r@xn--e1afmkfd.xn--p1ai, mailto:d@xn--bcher-kva.example!10m',
  );
  assert.equal(one(records, 'example.com._report._dmarc.xn--e1afmkfd.xn--p1ai', 'TXT').value, 'v=DMARC1');
  assert.equal(one(records, 'example.com._report._dmarc.xn--bcher-kva.example', 'TXT').value, 'v=DMARC1');
  assert.equal(records.filter((r) => /[^\x00-\x7f]/.test(r.name + r.value)).length, 0, 'nothing printed raw');
  assert.equal(one(records, '_smtp._tls.example.com', 'TXT').value, 'v=TLSRPTv1; rua=mailto:tls@xn--e1afmkfd.xn--p1ai');
  // ASCII addresses are kept as written; a domain no IDNA conversion makes a name of is refused, naming the key.
  assert.equal(configOf({ publish: { dmarcRua: 'mailto:R@Example.NET' } }).publish.dmarcRua, 'mailto:R@Example.NET');
  assert.throws(
    () => configOf({ publish: { dmarcRua: 'mailto:r@bad/ü.example' } }),
    (err: Error) => err.message.includes('publish.dmarcRua') && err.message.includes('not a domain name'),
  );
});

test('the MTA-STS record says what each mode asks of senders: enforce must, testing reports and delivers, none withdraws', async () => {
  const purpose = async (mode: 'enforce' | 'testing' | 'none') => {
    const config = configOf({ mtaSts: { mode, listen: '0.0.0.0:443' } });
    return one(await recordsFor('example.com', { config, store: noKeys }), '_mta-sts.example.com', 'TXT').purpose;
  };
  assert.match(
    await purpose('enforce'),
    /senders must use TLS with a valid certificate to example\.com's MX \(mode enforce\)/,
  );
  // Before: "senders must use TLS to example.com's MX (mode testing)", what testing does not ask (RFC 8461 §5).
  const testing = await purpose('testing');
  assert.doesNotMatch(testing, /must/);
  assert.match(testing, /report TLS failures .* but still deliver without TLS \(mode testing, RFC 8461 §5\)/);
  const none = await purpose('none');
  assert.doesNotMatch(none, /must/);
  assert.match(none, /policy for example\.com is withdrawn.*\(mode none, RFC 8461 §8\.3\)/);
});
