/**
 * A small authoritative DNS server on loopback for tests (ARCHITECTURE.md principle 6): every DNS-dependent
 * feature is tested against real DNS messages instead of a mock. UDP and TCP share one ephemeral port on
 * 127.0.0.1, so `dns.servers: [server.server]` reaches both (clients fall back to TCP on truncation,
 * RFC 1035 §4.2.1). The answers themselves are built in test-answer.ts; this file only moves bytes.
 */

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { answerMessage } from './test-answer.ts';
import {
  type CompiledZone,
  canonicalName,
  compileZone,
  matchesCondition,
  rcodeFor,
  type TestZone,
} from './test-zone.ts';

export { reverseName } from './reverse-name.ts';
export type { TestRecords, TestZone } from './test-zone.ts';
export { loadZoneFile } from './test-zone.ts';

export interface TestDnsServer {
  address: '127.0.0.1';
  port: number;
  /** `127.0.0.1:PORT`, the form `dns.servers` and node:dns `setServers` take. */
  server: string;
  /** Replaces the zone; later queries see the new one. Throws on an invalid zone, keeping the old. */
  setZone(zone: TestZone): void;
  close(): Promise<void>;
  /** Every question received, over either transport, in arrival order. */
  queries: { name: string; type: string }[];
}

const HOST = '127.0.0.1';
/** Another process may take the TCP port between our UDP bind and TCP listen; try a fresh port. */
const BIND_ATTEMPTS = 5;

export async function startTestDnsServer(zone: TestZone): Promise<TestDnsServer> {
  let compiled: CompiledZone = compileZone(zone);
  const queries: { name: string; type: string }[] = [];
  const handle = (message: Buffer, transport: 'udp' | 'tcp'): Buffer | null => {
    const outcome = answerMessage(compiled, message, transport);
    if (outcome.question) queries.push(outcome.question);
    const { question, reply } = outcome;
    if (reply && question) {
      const name = canonicalName(question.name);
      // An RCODE past 15 keeps only its low bits in the header (RFC 6891 §6.1.3): a BADVERS reads 0 there.
      const extended = (rcodeFor(compiled, name, question.type) ?? 0) > 15;
      if (!extended && matchesCondition(compiled.signed, name, question.type)) markAuthentic(message, reply);
    }
    return reply;
  };

  const { udp, tcp, port } = await bindBoth();
  const sockets = new Set<Socket>();
  udp.on('message', (message, peer) => {
    const reply = handle(message, 'udp');
    if (reply) udp.send(reply, peer.port, peer.address);
  });
  tcp.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy()); // a client hanging up mid-reply is not a test failure
    readFramed(socket, (message) => {
      const reply = handle(message, 'tcp');
      if (reply) socket.write(frame(reply));
    });
  });

  return {
    address: HOST,
    port,
    server: `${HOST}:${port}`,
    queries,
    setZone(next) {
      compiled = compileZone(next);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

/**
 * Sets AD in `reply` (in place) as a validating resolver would for a zone it validated: only when the query
 * asked for it, with AD (RFC 6840 §5.7) or EDNS0 DO (RFC 4035 §3.2.3), and only on NOERROR or NXDOMAIN, the
 * answers a validator can authenticate (a SERVFAIL or REFUSED vouches for nothing).
 */
function markAuthentic(query: Buffer, reply: Buffer): void {
  let asked: boolean;
  try {
    const decoded = dnsPacket.decode(query);
    const opt = decoded.additionals?.find((a) => a.type === 'OPT');
    asked = ((decoded.flags ?? 0) & dnsPacket.AUTHENTIC_DATA) !== 0 || (opt?.type === 'OPT' && opt.flag_do);
  } catch {
    return; // answerMessage answered it, so this does not happen; nothing to mark if it did
  }
  const rcode = reply.readUInt8(3) & 0x0f; // RFC 1035 §4.1.1: RCODE, the low four bits of the second flag octet
  if (asked && (rcode === 0 || rcode === 3)) reply.writeUInt8(reply.readUInt8(3) | dnsPacket.AUTHENTIC_DATA, 3);
}

/** RFC 1035 §4.2.2: over TCP each message is preceded by its length as a two-byte big-endian field. */
function frame(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/** Calls `onMessage` for each length-prefixed message; several may share a connection (RFC 7766 §6.2.1). */
function readFramed(socket: Socket, onMessage: (message: Buffer) => void): void {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const length = pending.readUInt16BE(0); // RFC 1035 §4.2.2
      if (pending.length < 2 + length) break;
      onMessage(pending.subarray(2, 2 + length));
      pending = pending.subarray(2 + length);
    }
  });
}

async function bindBoth(): Promise<{ udp: UdpSocket; tcp: Server; port: number }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ port: 0, address: HOST }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    const port = udp.address().port;
    const tcp = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ port, host: HOST }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return { udp, tcp, port };
    } catch (err) {
      lastError = err; // most likely EADDRINUSE: release the UDP port and draw another
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
  }
  throw new Error(`test DNS server: could not bind UDP and TCP on one port of ${HOST}`, { cause: lastError });
}
