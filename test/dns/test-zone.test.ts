import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { reverseName } from '../../src/dns/reverse-name.ts';
import {
  compileZone,
  loadZoneFile,
  matchesCondition,
  rcodeFor,
  soaFor,
  type TestZone,
  ttlFor,
} from '../../src/dns/test-zone.ts';

const fixture = new URL('./fixtures/example.zone.yaml', import.meta.url).pathname;

describe('the example fixture', () => {
  const zone = compileZone(loadZoneFile(fixture));
  const cases: [name: string, field: string, want: unknown][] = [
    ['example.com', 'A', ['192.0.2.1']],
    ['mail.example.com', 'AAAA', ['2001:db8::25']],
    ['www.example.com', 'CNAME', 'example.com'],
    [reverseName('192.0.2.25'), 'PTR', ['mail.example.com']], // keyed by address in the file
    ['1.2.0.192.in-addr.arpa', 'PTR', ['example.com']], // keyed by reverse name
    [reverseName('2001:db8::25'), 'PTR', ['mail.example.com']],
  ];
  for (const [name, field, want] of cases) {
    test(`${name} ${field}`, () => assert.deepEqual(zone.records.get(name)?.[field as 'A'], want));
  }
  test('conditions', () => {
    assert.equal(matchesCondition(zone.timeout, 'slow.example.net', 'A'), true);
    assert.equal(matchesCondition(zone.timeout, 'example.net', 'mx'), true);
    assert.equal(matchesCondition(zone.timeout, 'example.net', 'A'), false);
    assert.equal(matchesCondition(zone.servfail, 'broken.example.net', 'TXT'), true);
  });
});

test('rcode: by name, or by name/TYPE, which wins', () => {
  const zone = compileZone({ records: {}, rcode: { 'Example.COM.': 9, 'example.com/txt': 5, '192.0.2.1/ptr': 3 } });
  assert.equal(rcodeFor(zone, 'example.com', 'TXT'), 5);
  assert.equal(rcodeFor(zone, 'example.com', 'a'), 9);
  assert.equal(rcodeFor(zone, reverseName('192.0.2.1'), 'PTR'), 3, 'an address key means its reverse name');
  assert.equal(rcodeFor(zone, 'other.example', 'A'), undefined);
});

test('ttl and soa: by name, or by name/TYPE, which wins; a null SOA is kept as none', () => {
  const zone = compileZone({
    records: {},
    ttl: { 'Example.COM.': 30, 'example.com/txt': 0 },
    soa: { 'example.com': { minimum: 5 }, 'example.com/MX': null },
  });
  assert.equal(ttlFor(zone, 'example.com', 'TXT'), 0);
  assert.equal(ttlFor(zone, 'example.com', 'A'), 30);
  assert.equal(ttlFor(zone, 'other.example', 'A'), undefined);
  assert.equal(soaFor(zone, 'example.com', 'MX'), null);
  assert.deepEqual(soaFor(zone, 'example.com', 'A'), { minimum: 5 });
  assert.equal(soaFor(zone, 'other.example', 'A'), undefined);
});

describe('validation', () => {
  const invalid: [label: string, zone: unknown, message: RegExp][] = [
    [
      'CNAME beside other data (RFC 1034 §3.6.2)',
      { records: { 'a.example': { CNAME: 'b.example', A: ['192.0.2.1'] } } },
      /RFC 1034/,
    ],
    ['a misspelled type', { records: { 'a.example': { Mx: [] } } }, /Unrecognized key: "Mx"/],
    ['a bad IPv4 address', { records: { 'a.example': { A: ['192.0.2.300'] } } }, /at records\["a\.example"\]\.A\[0\]/],
    [
      'odd-length TLSA hex',
      { records: { 'a.example': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: 'abc' }] } } },
      /hex/,
    ],
    ['one name twice', { records: { 'a.example': {}, 'A.EXAMPLE.': {} } }, /twice/],
    ['no records key', {}, /records/],
    ['an RCODE past 12 bits (RFC 6891 §6.1.3)', { records: {}, rcode: { 'a.example': 4096 } }, /rcode/],
    ['an RCODE that is no integer', { records: {}, rcode: { 'a.example': 'REFUSED' } }, /rcode/],
    ['one rcode key twice', { records: {}, rcode: { 'a.example/txt': 5, 'A.EXAMPLE./TXT': 2 } }, /twice/],
    ['a TTL past 32 bits (RFC 1035 §3.2.1)', { records: {}, ttl: { 'a.example': 2 ** 32 } }, /ttl/],
    ['one ttl key twice', { records: {}, ttl: { 'a.example': 5, 'A.EXAMPLE.': 6 } }, /ttl lists A\.EXAMPLE\. twice/],
    ['an SOA field misspelled', { records: {}, soa: { 'a.example': { minimun: 5 } } }, /minimun/],
  ];
  for (const [label, zone, message] of invalid) {
    test(label, () => assert.throws(() => compileZone(zone as TestZone), message));
  }

  const dir = mkdtempSync(join(tmpdir(), 'postern-zone-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  test('a bad YAML fixture names its file', () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(
      path,
      'records:\n  example.com:\n    TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: 0123 }]\n',
    );
    assert.throws(
      () => loadZoneFile(path),
      (err: Error) => err.message.startsWith(path) && /data/.test(err.message),
    );
  });
});
