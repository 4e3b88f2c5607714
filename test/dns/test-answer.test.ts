// The test server's answering logic without sockets: wire-level rules checked on encoded messages.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Answer, DecodedPacket, OptAnswer, Packet, RecordType } from 'dns-packet';
import * as dnsPacket from 'dns-packet';
import { answerMessage, txtChunks } from '../../src/dns/test-answer.ts';
import { compileZone } from '../../src/dns/test-zone.ts';

type Reply = DecodedPacket & { rcode: string };
const zone = compileZone({
  records: {
    'example.com': { A: ['192.0.2.1'], TXT: ['v=spf1 -all'] },
    'www.example.com': { CNAME: 'example.com' },
    'loop1.example.com': { CNAME: 'loop2.example.com' },
    'loop2.example.com': { CNAME: 'loop1.example.com' },
    'big.example.net': { TXT: Array.from({ length: 3 }, () => 'x'.repeat(250)) }, // ~800 bytes
  },
  servfail: ['broken.example.net/MX'],
  timeout: ['slow.example.net'],
});

function ask(name: string, type: RecordType, transport: 'udp' | 'tcp' = 'udp', extra: Partial<Packet> = {}): Reply {
  const query = dnsPacket.encode({ type: 'query', id: 4242, questions: [{ name, type }], ...extra });
  const { reply } = answerMessage(zone, query, transport);
  assert.ok(reply, 'a reply');
  return dnsPacket.decode(reply) as Reply;
}
const summary = (answers: Answer[] | undefined): string[] => (answers ?? []).map((a) => `${a.name} ${a.type}`);

describe('header and sections', () => {
  test('authoritative, id and question echoed, RD copied, RA clear (RFC 1035 §4.1.1)', () => {
    const reply = ask('Example.COM', 'A', 'udp', { flags: dnsPacket.RECURSION_DESIRED });
    assert.equal(reply.id, 4242);
    assert.deepEqual([reply.flag_qr, reply.flag_aa, reply.flag_rd, reply.flag_ra], [true, true, true, false]);
    assert.deepEqual(reply.questions, [{ name: 'Example.COM', type: 'A', class: 'IN' }]);
    assert.deepEqual(summary(reply.answers), ['Example.COM A'], 'owner spelled as asked');
  });

  test('CNAME then the target records (RFC 1034 §4.3.2)', () => {
    assert.deepEqual(summary(ask('www.example.com', 'A').answers), ['www.example.com CNAME', 'example.com A']);
    assert.deepEqual(summary(ask('www.example.com', 'CNAME').answers), ['www.example.com CNAME']);
  });

  const rcodes: [label: string, reply: () => Reply, rcode: string, soa: boolean][] = [
    ['NXDOMAIN with SOA (RFC 2308 §2.1, §3)', () => ask('nope.example.com', 'A'), 'NXDOMAIN', true],
    ['NODATA with SOA (RFC 2308 §2.2, §3)', () => ask('example.com', 'MX'), 'NOERROR', true],
    ['unsupported type is NODATA', () => ask('example.com', 'SRV'), 'NOERROR', true],
    ['SERVFAIL for name/TYPE', () => ask('broken.example.net', 'MX'), 'SERVFAIL', false],
    ['other types of that name are NXDOMAIN', () => ask('broken.example.net', 'A'), 'NXDOMAIN', true],
    ['CNAME loop is SERVFAIL', () => ask('loop1.example.com', 'A'), 'SERVFAIL', false],
    ['opcode other than QUERY is NOTIMP', () => ask('example.com', 'A', 'udp', { flags: 2 << 11 }), 'NOTIMP', false],
  ];
  for (const [label, reply, rcode, soa] of rcodes) {
    test(label, () => {
      const r = reply();
      assert.equal(r.rcode, rcode);
      assert.deepEqual(
        r.authorities?.map((a) => a.type),
        soa ? ['SOA'] : [],
      );
    });
  }

  test('no question is FORMERR', () => {
    const { reply } = answerMessage(zone, dnsPacket.encode({ type: 'query', id: 1, questions: [] }), 'udp');
    assert.equal((dnsPacket.decode(reply!) as Reply).rcode, 'FORMERR');
  });

  test('timeout fixtures and garbage get no reply at all', () => {
    const slow = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'slow.example.net', type: 'A' }] });
    assert.deepEqual(answerMessage(zone, slow, 'udp'), {
      question: { name: 'slow.example.net', type: 'A' },
      reply: null,
    });
    assert.deepEqual(answerMessage(zone, Buffer.from([1, 2, 3]), 'udp'), { reply: null });
  });
});

describe('TTLs and the SOA of negative answers, as the zone sets them', () => {
  const timed = compileZone({
    records: { 'example.com': { A: ['192.0.2.1'] }, 'www.example.com': { CNAME: 'example.com' } },
    ttl: { 'www.example.com/CNAME': 5, 'example.com/A': 0x80000000 },
    soa: { 'nope.example.com': { ttl: 7, minimum: 3 }, 'example.com/MX': null },
  });
  const send = (name: string, type: RecordType): Reply => {
    const query = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name, type }] });
    return dnsPacket.decode(answerMessage(timed, query, 'udp').reply!) as Reply;
  };
  const ttlOf = (a: Answer) => (a.type === 'OPT' ? undefined : a.ttl);

  test('record TTLs by name/TYPE, 60 otherwise (RFC 1035 §3.2.1)', () => {
    assert.deepEqual(
      send('www.example.com', 'A').answers?.map((a) => `${a.type} ${ttlOf(a)}`),
      ['CNAME 5', `A ${0x80000000}`],
    );
    assert.deepEqual(send('www.example.com', 'AAAA').authorities?.map(ttlOf), [60]);
  });

  test("an SOA's TTL and MINIMUM, or none at all (RFC 2308 §3, §5)", () => {
    const [soa] = send('nope.example.com', 'A').authorities ?? [];
    assert.equal(soa?.type === 'SOA' && `${soa.ttl} ${soa.data.minimum}`, '7 3');
    assert.deepEqual(send('example.com', 'MX').authorities, []);
    assert.deepEqual(
      send('example.com', 'TXT').authorities?.map((a) => a.type),
      ['SOA'],
      'the type not listed keeps its SOA',
    );
  });
});

describe('size', () => {
  test('over 512 bytes on UDP without EDNS: TC set, no records (RFC 1035 §4.2.1, RFC 2181 §9)', () => {
    const reply = ask('big.example.net', 'TXT');
    assert.equal(reply.flag_tc, true);
    assert.deepEqual(reply.answers, []);
  });

  test('EDNS raises the UDP limit and gets OPT back (RFC 6891 §6.2.5, §7)', () => {
    const opt: OptAnswer = {
      type: 'OPT',
      name: '.',
      udpPayloadSize: 1232,
      extendedRcode: 0,
      ednsVersion: 0,
      flags: 0,
      flag_do: false,
      options: [],
    };
    const reply = ask('big.example.net', 'TXT', 'udp', { additionals: [opt] });
    assert.equal(reply.flag_tc, false);
    assert.equal(reply.answers?.length, 3);
    assert.deepEqual(
      reply.additionals?.map((a) => a.type),
      ['OPT'],
    );
  });

  test('TCP is never truncated', () => {
    assert.equal(ask('big.example.net', 'TXT', 'tcp').answers?.length, 3);
  });
});

describe('TXT chunks (RFC 1035 §3.3.14)', () => {
  const lengths = (txt: string | string[]): number[] => txtChunks(txt).map((c) => c.length);
  const cases: [label: string, txt: string | string[], want: number[]][] = [
    ['short', 'v=spf1 -all', [11]],
    ['empty string is one empty chunk', '', [0]],
    ['exactly 255', 'a'.repeat(255), [255]],
    ['600 bytes', 'a'.repeat(600), [255, 255, 90]],
    ['explicit chunks kept', ['ab', 'cd'], [2, 2]],
    ['an explicit chunk over 255 is split', ['a'.repeat(300)], [255, 45]],
    ['no UTF-8 sequence split across chunks', 'a'.repeat(254) + 'é', [254, 2]],
  ];
  for (const [label, txt, want] of cases) test(label, () => assert.deepEqual(lengths(txt), want));
});
