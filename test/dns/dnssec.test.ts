// The DNSSEC status lookup (src/dns/dnssec.ts) over real UDP and TCP on loopback: against the test DNS
// server, whose `signed` names answer with AD as a validating resolver would, and against small hand-made
// responders where the wire itself is under test (what the query asks for, spoofed replies, truncation).

import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import dns from 'node:dns';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { DecodedPacket } from 'dns-packet';
import * as dnsPacket from 'dns-packet';
import { createDnssecLookup, dnssecStatus } from '../../src/dns/dnssec.ts';
import { startTestDnsServer, type TestDnsServer, type TestZone } from '../../src/dns/test-server.ts';

const zone: TestZone = {
  records: {
    'signed.example': { A: ['192.0.2.1'] },
    'mx.signed.example': { A: ['192.0.2.25'] },
    'plain.example': { A: ['192.0.2.2'] },
    'slow.example': { A: ['192.0.2.3'] },
    'broken.example': { A: ['192.0.2.4'] },
  },
  // The root too: the lookup asks it to tell "unsigned" from "this resolver does not validate".
  signed: ['.', 'signed.example', 'mx.signed.example'],
  timeout: ['slow.example'],
  servfail: ['broken.example'],
};
const TIMEOUT_MS = 300;

let server: TestDnsServer;
before(async () => {
  server = await startTestDnsServer(zone);
});
after(() => server.close());

describe('against the test DNS server', () => {
  const options = () => ({ servers: [server.server], timeoutMs: TIMEOUT_MS });

  test('a name whose answer carries AD is signed, vouched for by the resolver that answered', async () => {
    assert.deepEqual(await dnssecStatus('signed.example', options()), {
      status: 'signed',
      resolver: server.server,
      loopback: true,
    });
  });

  test('a name below the apex, and a name that does not exist, get a verdict too (SOA: NODATA, NXDOMAIN)', async () => {
    assert.equal(((await dnssecStatus('mx.signed.example.', options())) as { status: string }).status, 'signed');
    assert.equal(((await dnssecStatus('nothing.example', options())) as { status: string }).status, 'unsigned');
  });

  test('no AD from a resolver that validates the root: unsigned', async () => {
    const queriesBefore = server.queries.length;
    assert.deepEqual(await dnssecStatus('plain.example', options()), {
      status: 'unsigned',
      resolver: server.server,
      loopback: true,
    });
    assert.deepEqual(server.queries.slice(queriesBefore), [
      { name: 'plain.example', type: 'SOA' },
      { name: '.', type: 'SOA' },
    ]);
  });

  test('no AD even for the root: the resolver does not validate, which says nothing about the zone', async () => {
    const plain = await startTestDnsServer({ ...zone, signed: [] });
    try {
      const status = await dnssecStatus('signed.example', { servers: [plain.server], timeoutMs: TIMEOUT_MS });
      assert.deepEqual(status, { status: 'not-validating', resolver: plain.server, loopback: true });
    } finally {
      await plain.close();
    }
  });

  test('one lookup asks whether the resolver validates once', async () => {
    const lookup = createDnssecLookup(options());
    const queriesBefore = server.queries.length;
    await lookup('plain.example');
    await lookup('nothing.example');
    const asked = server.queries.slice(queriesBefore).map((q) => q.name);
    assert.deepEqual(asked, ['plain.example', '.', 'nothing.example']);
  });

  test('a timeout is a temporary error, not a verdict', async () => {
    const status = await dnssecStatus('slow.example', options());
    assert.ok('temperror' in status && /^ETIMEOUT looking up SOA slow.example at 127\.0\.0\.1:/.test(status.temperror));
  });

  test('SERVFAIL is a temporary error (a validator also answers it for bogus data)', async () => {
    const status = await dnssecStatus('broken.example', options());
    assert.ok('temperror' in status && /^ESERVFAIL /.test(status.temperror), JSON.stringify(status));
  });

  test('a server that does not answer is skipped for the next one', async () => {
    const silent = await listenUdp(() => undefined);
    try {
      const status = await dnssecStatus('signed.example', {
        servers: [`127.0.0.1:${port(silent)}`, server.server],
        timeoutMs: TIMEOUT_MS,
      });
      assert.deepEqual(status, { status: 'signed', resolver: server.server, loopback: true });
    } finally {
      silent.close();
    }
  });

  test("no configured server: the system's (node:dns getServers, resolv.conf)", async () => {
    const saved = dns.getServers();
    dns.setServers([server.server]);
    try {
      const status = await dnssecStatus('signed.example', { servers: [], timeoutMs: TIMEOUT_MS });
      assert.deepEqual(status, { status: 'signed', resolver: server.server, loopback: true });
    } finally {
      dns.setServers(saved);
    }
  });

  test('a server that is not an address is reported, not resolved', async () => {
    const status = await dnssecStatus('signed.example', { servers: ['dns.example:53'], timeoutMs: TIMEOUT_MS });
    assert.ok('temperror' in status && /^EBADSERVER: /.test(status.temperror), JSON.stringify(status));
  });
});

describe('on the wire', () => {
  test('the query asks for SOA with RD, AD (RFC 6840 §5.7) and EDNS0 DO=1 (RFC 3225)', async () => {
    let seen: DecodedPacket | undefined;
    const responder = await listenUdp((query, reply) => {
      seen = query;
      reply(answer(query, { ad: true }));
    });
    try {
      await dnssecStatus('Example.COM', { servers: [`127.0.0.1:${port(responder)}`], timeoutMs: TIMEOUT_MS });
    } finally {
      responder.close();
    }
    assert.ok(seen);
    assert.deepEqual(
      seen.questions?.map((q) => [q.name, q.type, q.class]),
      [['Example.COM', 'SOA', 'IN']],
    );
    const flags = seen.flags ?? 0;
    assert.ok(flags & dnsPacket.RECURSION_DESIRED, 'RD');
    assert.ok(flags & dnsPacket.AUTHENTIC_DATA, 'AD');
    const opt = seen.additionals?.find((a) => a.type === 'OPT');
    assert.ok(opt?.type === 'OPT' && opt.flag_do, 'DO');
  });

  test('replies with another ID or another question are ignored (RFC 5452 §3); the real one counts', async () => {
    const responder = await listenUdp((query, reply) => {
      if (query.questions?.[0]?.name === '.') return reply(answer(query, { ad: true })); // it validates
      reply(answer({ ...query, id: ((query.id ?? 0) + 1) & 0xffff }, { ad: true }));
      reply(answer({ ...query, questions: [{ type: 'SOA', name: 'other.example', class: 'IN' }] }, { ad: true }));
      reply(answer(query, { ad: false }));
    });
    try {
      // The stray replies say AD; the genuine one does not.
      const server = `127.0.0.1:${port(responder)}`;
      const status = await dnssecStatus('example.com', { servers: [server], timeoutMs: TIMEOUT_MS });
      assert.deepEqual(status, { status: 'unsigned', resolver: server, loopback: true });
    } finally {
      responder.close();
    }
  });

  test('a truncated UDP answer is asked again over TCP (RFC 7766 §5)', async () => {
    let tcpQueries = 0;
    const udp = await listenUdp((query, reply) => reply(answer(query, { ad: false, truncated: true })));
    // TCP on the same port number, answering with AD.
    const tcp = await new Promise<Server>((resolve, reject) => {
      const s = createServer((socket) => {
        socket.once('data', (chunk: Buffer) => {
          tcpQueries++;
          const query = dnsPacket.decode(chunk.subarray(2));
          const body = answer(query, { ad: true });
          const length = Buffer.alloc(2);
          length.writeUInt16BE(body.length);
          socket.end(Buffer.concat([length, body]));
        });
      });
      s.once('error', reject);
      s.listen(port(udp), '127.0.0.1', () => resolve(s));
    });
    try {
      const status = await dnssecStatus('example.com', { servers: [`127.0.0.1:${port(udp)}`], timeoutMs: TIMEOUT_MS });
      assert.deepEqual(status, { status: 'signed', resolver: `127.0.0.1:${port(udp)}`, loopback: true });
      assert.equal(tcpQueries, 1);
    } finally {
      udp.close();
      await new Promise((resolve) => tcp.close(resolve));
    }
  });
});

describe("the test server's `signed` names", () => {
  const ask = async (name: string, bits: { ad?: boolean; dnssecOk?: boolean }): Promise<DecodedPacket> => {
    const query = dnsPacket.encode({
      type: 'query',
      id: 7,
      flags: dnsPacket.RECURSION_DESIRED | (bits.ad ? dnsPacket.AUTHENTIC_DATA : 0),
      questions: [{ type: 'A', class: 'IN', name }],
      additionals:
        bits.dnssecOk === undefined
          ? []
          : [
              {
                type: 'OPT',
                name: '.',
                udpPayloadSize: 1232,
                extendedRcode: 0,
                ednsVersion: 0,
                flags: bits.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
                flag_do: bits.dnssecOk,
                options: [],
              },
            ],
    });
    return dnsPacket.decode(await exchange(query, server.port));
  };
  const ad = (packet: DecodedPacket) => ((packet.flags ?? 0) & dnsPacket.AUTHENTIC_DATA) !== 0;

  test('AD only when the query asked with AD or DO (RFC 6840 §5.7, RFC 4035 §3.2.3)', async () => {
    assert.equal(ad(await ask('signed.example', {})), false);
    assert.equal(ad(await ask('signed.example', { dnssecOk: false })), false);
    assert.equal(ad(await ask('signed.example', { ad: true })), true);
    assert.equal(ad(await ask('signed.example', { dnssecOk: true })), true);
  });

  test('never on a name not listed, nor on SERVFAIL', async () => {
    assert.equal(ad(await ask('plain.example', { ad: true, dnssecOk: true })), false);
    const broken = await startTestDnsServer({ ...zone, signed: ['broken.example'] });
    try {
      const query = dnsPacket.encode({
        type: 'query',
        id: 8,
        flags: dnsPacket.AUTHENTIC_DATA,
        questions: [{ type: 'A', class: 'IN', name: 'broken.example' }],
      });
      const packet = dnsPacket.decode(await exchange(query, broken.port));
      assert.equal((packet.flags ?? 0) & 0x0f, 2); // RCODE SERVFAIL (RFC 1035 §4.1.1)
      assert.equal(ad(packet), false);
    } finally {
      await broken.close();
    }
  });
});

/**
 * Sends `query` to 127.0.0.1:`port` over UDP and resolves with the first reply. Loopback drops datagrams
 * too when the machine is busy (a full backlog), and a lost one must fail the test, not hang the file (the
 * test runner bounds no wait that holds no timer): so the query is sent again every 500 ms, as a stub
 * resolver would, and given up after ten sends.
 */
function exchange(query: Buffer, port: number): Promise<Buffer> {
  const socket = createSocket('udp4');
  let timer: NodeJS.Timeout | undefined;
  return new Promise<Buffer>((resolve, reject) => {
    let sends = 0;
    const send = () => {
      if (++sends > 10) return reject(new Error(`no reply from 127.0.0.1:${port} to ${sends - 1} sends`));
      socket.send(query, port, '127.0.0.1');
      timer = setTimeout(send, 500);
    };
    socket.once('message', resolve);
    socket.once('error', reject);
    send();
  }).finally(() => {
    clearTimeout(timer);
    socket.close();
  });
}

/** A UDP responder on 127.0.0.1: `respond` gets each decoded query and a way to send raw replies. */
async function listenUdp(
  respond: (query: DecodedPacket, reply: (message: Buffer) => void) => void,
): Promise<UdpSocket> {
  const socket = createSocket('udp4');
  socket.on('message', (message, peer) => {
    respond(dnsPacket.decode(message), (reply) => socket.send(reply, peer.port, peer.address));
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

function port(socket: UdpSocket): number {
  return (socket.address() as AddressInfo).port;
}

/** A NOERROR reply to `query` with an empty answer, AD and TC as asked. */
function answer(query: DecodedPacket, bits: { ad: boolean; truncated?: boolean }): Buffer {
  let flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE;
  if (bits.ad) flags |= dnsPacket.AUTHENTIC_DATA;
  if (bits.truncated) flags |= dnsPacket.TRUNCATED_RESPONSE;
  return dnsPacket.encode({
    type: 'response',
    id: query.id ?? 0,
    flags,
    questions: query.questions ?? [],
    answers: [],
  });
}
