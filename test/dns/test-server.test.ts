// The loopback test DNS server, queried by node:dns (c-ares) as production code will query real servers,
// and by raw sockets where the wire format itself is under test.

import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { DecodedPacket, RecordType } from 'dns-packet';
import * as dnsPacket from 'dns-packet';
import { reverseName, startTestDnsServer, type TestDnsServer, type TestZone } from '../../src/dns/test-server.ts';

const longTxt = 'v=DKIM1; k=rsa; p=' + 'A'.repeat(600); // 618 bytes: three chunks (RFC 1035 §3.3.14)
const zone: TestZone = {
  records: {
    'example.com': {
      A: ['192.0.2.1', '192.0.2.2'],
      AAAA: ['2001:db8::1'],
      MX: [{ priority: 10, exchange: 'mail.example.com' }],
      TXT: ['v=spf1 -all', ['explicit ', 'chunks']],
    },
    'Mail.Example.COM.': { A: ['192.0.2.25'] }, // keys are case-insensitive, trailing dot optional
    'long.example.com': { TXT: [longTxt] },
    'www.example.com': { CNAME: 'alias.example.com' },
    'alias.example.com': { CNAME: 'example.com' },
    'dangling.example.com': { CNAME: 'missing.example.com' },
    '_25._tcp.mail.example.com': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: '00ff10' }] },
    '25.2.0.192.in-addr.arpa': { PTR: ['mail.example.com'] },
    [reverseName('2001:db8::25')]: { PTR: ['mail6.example.com'] },
    '192.0.2.26': { PTR: ['by-address.example.com'] }, // an address key means its reverse name
    // Enough data that the answer cannot fit any UDP payload, so c-ares must retry over TCP.
    'big.example.net': { TXT: Array.from({ length: 12 }, (_, i) => `${i}`.padEnd(250, 'x')) },
  },
  timeout: ['slow.example.net', 'example.com/NS'],
  servfail: ['broken.example.net'],
};

let server: TestDnsServer;
let resolver: Resolver;
before(async () => {
  server = await startTestDnsServer(zone);
  resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([server.server]);
});
after(() => server.close());

describe('answers through node:dns', () => {
  const cases: [label: string, query: () => Promise<unknown>, want: unknown][] = [
    ['A', () => resolver.resolve4('example.com'), ['192.0.2.1', '192.0.2.2']],
    ['A, name in other case', () => resolver.resolve4('MAIL.example.com'), ['192.0.2.25']],
    ['AAAA', () => resolver.resolve6('example.com'), ['2001:db8::1']],
    ['MX', () => resolver.resolveMx('example.com'), [{ exchange: 'mail.example.com', priority: 10 }]],
    ['TXT', () => resolver.resolveTxt('example.com'), [['v=spf1 -all'], ['explicit ', 'chunks']]],
    ['TXT > 255 bytes split', () => resolver.resolveTxt('long.example.com'), [chunk(longTxt)]],
    ['PTR v4', () => resolver.reverse('192.0.2.25'), ['mail.example.com']],
    ['PTR v6 (RFC 3596 §2.5)', () => resolver.reverse('2001:db8::25'), ['mail6.example.com']],
    ['PTR keyed by address', () => resolver.resolvePtr('26.2.0.192.in-addr.arpa'), ['by-address.example.com']],
    ['CNAME', () => resolver.resolveCname('www.example.com'), ['alias.example.com']],
    ['CNAME chain followed', () => resolver.resolve4('www.example.com'), ['192.0.2.1', '192.0.2.2']],
    ['TXT too big for UDP, over TCP', async () => (await resolver.resolveTxt('big.example.net')).length, 12],
  ];
  for (const [label, query, want] of cases) {
    test(label, async () => assert.deepEqual(strip(await query()), want));
  }

  test('TLSA (RFC 6698 §2.1)', async () => {
    const [record, ...rest] = await resolver.resolveTlsa('_25._tcp.mail.example.com');
    assert.equal(rest.length, 0);
    assert.deepEqual(
      { ...record, data: [...new Uint8Array(record!.data)] },
      {
        certUsage: 3,
        selector: 1,
        match: 1,
        data: [0x00, 0xff, 0x10],
      },
    );
  });
});

describe('failures through node:dns', () => {
  const cases: [label: string, query: () => Promise<unknown>, code: string][] = [
    ['NXDOMAIN (RFC 2308 §2.1)', () => resolver.resolve4('nope.example.com'), 'ENOTFOUND'],
    ['NXDOMAIN at the end of a CNAME (RFC 6604 §3)', () => resolver.resolve4('dangling.example.com'), 'ENOTFOUND'],
    ['NODATA (RFC 2308 §2.2)', () => resolver.resolveMx('mail.example.com'), 'ENODATA'],
    ['NODATA for PTR', () => resolver.resolveTxt('25.2.0.192.in-addr.arpa'), 'ENODATA'],
    ['SERVFAIL', () => resolver.resolve4('broken.example.net'), 'ESERVFAIL'],
    ['no answer: timeout', () => resolver.resolve4('slow.example.net'), 'ETIMEOUT'],
    ['no answer for one type only', () => resolver.resolveNs('example.com'), 'ETIMEOUT'],
  ];
  for (const [label, query, code] of cases) {
    test(label, () => assert.rejects(query(), { code }));
  }
  test('the other types of a name/TYPE timeout still answer', async () => {
    assert.deepEqual(await resolver.resolve6('example.com'), ['2001:db8::1']);
  });

  // Why src/dns/system-resolver.ts does not use node:dns: c-ares reads RCODEs 6-11 as NOERROR, taking the
  // records that come with them and reading their absence as ENODATA, with no RCODE to look at.
  test('node:dns reads RCODEs 6-11 (YXDOMAIN … DSOTYPENI) as NOERROR: records, or ENODATA', async (t) => {
    const own = await startTestDnsServer({ records: { 'example.org': { A: ['192.0.2.7'] } } });
    t.after(() => own.close());
    const r = new Resolver({ timeout: 200, tries: 1 });
    r.setServers([own.server]);
    for (let rcode = 6; rcode <= 11; rcode++) {
      own.setZone({ records: { 'example.org': { A: ['192.0.2.7'] } }, rcode: { 'example.org': rcode } });
      assert.deepEqual(await r.resolve4('example.org'), ['192.0.2.7'], `RCODE ${rcode}`);
      await assert.rejects(r.resolveTxt('example.org'), { code: 'ENODATA' }, `RCODE ${rcode}`);
    }
  });
});

describe('wire format', () => {
  test('TCP: 2-byte length framing, pipelined queries (RFC 1035 §4.2.2, RFC 7766 §6.2.1)', async () => {
    const replies = await queryTcp(server.port, [
      { id: 1, name: 'example.com', type: 'A' },
      { id: 2, name: 'nope.example.com', type: 'A' },
    ]);
    assert.equal(replies.length, 2);
    const [ok, nx] = replies as [DecodedPacket & { rcode: string }, DecodedPacket & { rcode: string }];
    assert.equal(ok.id, 1);
    assert.equal(ok.flag_aa, true);
    assert.equal(ok.flag_rd, true, 'RD is copied from the query (RFC 1035 §4.1.1)');
    assert.deepEqual(ok.questions, [{ name: 'example.com', type: 'A', class: 'IN' }]);
    assert.deepEqual(
      ok.answers?.map((a) => ('data' in a ? a.data : undefined)),
      ['192.0.2.1', '192.0.2.2'],
    );
    assert.equal(nx.id, 2);
    assert.equal(nx.rcode, 'NXDOMAIN');
    // RFC 2308 §3: a negative answer carries the SOA of the zone in the authority section.
    assert.deepEqual(
      nx.authorities?.map((a) => [a.type, a.name]),
      [['SOA', 'example.com']],
    );
  });

  test('TCP: a big answer comes whole', async () => {
    const [reply] = await queryTcp(server.port, [{ id: 7, name: 'big.example.net', type: 'TXT' }]);
    assert.equal(reply?.flag_tc, false);
    assert.equal(reply?.answers?.length, 12);
  });

  test('UDP: a big answer is truncated to TC with no records, then retried over TCP (RFC 2181 §9)', async () => {
    const before = server.queries.length;
    await resolver.resolveTxt('big.example.net');
    const asked = server.queries.slice(before).filter((q) => q.name === 'big.example.net');
    assert.equal(asked.length, 2, 'once over UDP, once over TCP');
  });

  test('TCP: an answer past 65,535 octets is SERVFAIL, not a crash (RFC 1035 §4.2.2)', async () => {
    const huge = await startTestDnsServer({ records: { 'huge.example': { TXT: ['x'.repeat(70_000)] } } });
    try {
      const [reply] = (await queryTcp(huge.port, [{ id: 9, name: 'huge.example', type: 'TXT' }])) as [
        DecodedPacket & { rcode: string },
      ];
      assert.equal(reply.rcode, 'SERVFAIL');
      assert.equal(reply.answers?.length ?? 0, 0);
    } finally {
      await huge.close();
    }
  });

  test("rcode: the RCODE given, with the zone's records; past 15 the upper bits in OPT (RFC 6891 §6.1.3)", async () => {
    const own = await startTestDnsServer({
      records: { 'example.org': { A: ['192.0.2.7'] } },
      rcode: { 'example.org/A': 9, 'example.org': 16 },
    });
    try {
      const [notauth, badvers] = (await queryTcp(own.port, [
        { id: 1, name: 'example.org', type: 'A' },
        { id: 2, name: 'example.org', type: 'TXT' },
      ])) as [DecodedPacket & { rcode: string }, DecodedPacket & { rcode: string }];
      assert.equal(notauth.rcode, 'NOTAUTH');
      assert.deepEqual(
        notauth.answers?.map((a) => ('data' in a ? a.data : undefined)),
        ['192.0.2.7'],
      );
      assert.equal(badvers.rcode, 'NOERROR', 'the header holds only the low four bits of 16');
      const opt = badvers.additionals?.find((a) => a.type === 'OPT');
      assert.equal(opt?.type === 'OPT' && opt.extendedRcode, 1);
    } finally {
      await own.close();
    }
  });

  test('the queries log records name and type', async () => {
    await resolver.resolveMx('example.com');
    assert.deepEqual(server.queries.at(-1), { name: 'example.com', type: 'MX' });
  });
});

describe('setZone', () => {
  test('replaces the zone; an invalid zone is refused and the old one kept', async (t) => {
    const own = await startTestDnsServer({ records: { 'example.org': { A: ['192.0.2.7'] } } });
    t.after(() => own.close());
    const r = new Resolver({ timeout: 200, tries: 1 });
    r.setServers([own.server]);
    assert.deepEqual(await r.resolve4('example.org'), ['192.0.2.7']);
    own.setZone({ records: { 'example.org': { A: ['192.0.2.8'] } } });
    assert.deepEqual(await r.resolve4('example.org'), ['192.0.2.8']);
    assert.throws(
      () => own.setZone({ records: { 'example.org': { CNAME: 'x.example', A: ['192.0.2.9'] } } }),
      /RFC 1034/,
    );
    assert.deepEqual(await r.resolve4('example.org'), ['192.0.2.8']);
  });

  test('two servers get two ports, both on loopback', async (t) => {
    const other = await startTestDnsServer({ records: {} });
    t.after(() => other.close());
    assert.notEqual(other.port, server.port);
    assert.equal(other.server, `127.0.0.1:${other.port}`);
  });
});

/** How c-ares hands back a long TXT string: the 255-byte chunks the server sent. */
function chunk(text: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += 255) parts.push(text.slice(i, i + 255));
  return parts;
}

/** node:dns adds `type` to MX results in some versions; compare only the fields we map. */
function strip(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((v) =>
    typeof v === 'object' && v !== null && 'exchange' in v ? { exchange: v.exchange, priority: v.priority } : v,
  );
}

/** Sends queries on one TCP connection and reads as many framed replies (RFC 1035 §4.2.2). */
function queryTcp(port: number, questions: { id: number; name: string; type: RecordType }[]): Promise<DecodedPacket[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const replies: DecodedPacket[] = [];
    let pending = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('connect', () => {
      for (const q of questions) {
        const message = dnsPacket.encode({
          type: 'query',
          id: q.id,
          flags: dnsPacket.RECURSION_DESIRED,
          questions: [{ name: q.name, type: q.type }],
        });
        const length = Buffer.alloc(2);
        length.writeUInt16BE(message.length);
        socket.write(Buffer.concat([length, message]));
      }
    });
    socket.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const length = pending.readUInt16BE(0);
        replies.push(dnsPacket.decode(pending.subarray(2, 2 + length)));
        pending = pending.subarray(2 + length);
      }
      if (replies.length === questions.length) {
        socket.end();
        resolve(replies);
      }
    });
  });
}
