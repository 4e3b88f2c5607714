/**
 * A loopback DNS server that answers every query with NOERROR and no records (NODATA, RFC 2308 §2.2).
 * Postern is pointed at it so that SPF, DKIM or DMARC lookups during the benchmark never leave 127.0.0.1
 * and cost the same on every run; "no record" makes every check result "none".
 */
import dgram from 'node:dgram';

/** Copies the header and question of `query` into a reply with no answers (RFC 1035 §4.1). */
function nodata(query: Buffer): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined; // one question, as resolvers send
  let at = 12;
  while (at < query.length && query[at] !== 0) at += (query[at] ?? 0) + 1; // labels, RFC 1035 §4.1.2
  const end = at + 1 + 4; // root label, QTYPE, QCLASS
  if (end > query.length) return undefined;
  const reply = Buffer.from(query.subarray(0, end));
  const rd = (query[2] ?? 0) & 0x01;
  reply[2] = 0x80 | rd; // QR=1, opcode 0, RD copied
  reply[3] = 0x80; // RA=1, RCODE=0 (NOERROR)
  reply.writeUInt16BE(0, 6); // ANCOUNT
  reply.writeUInt16BE(0, 8); // NSCOUNT
  reply.writeUInt16BE(0, 10); // ARCOUNT: the query's EDNS OPT record is dropped
  return reply;
}

export type DnsStub = { port: number; queries: () => number; close: () => Promise<void> };

export async function startDnsStub(): Promise<DnsStub> {
  const socket = dgram.createSocket('udp4');
  let queries = 0;
  socket.on('message', (msg, peer) => {
    queries++;
    const reply = nodata(msg);
    // Replies go back only to the loopback peer that asked; the socket is bound to 127.0.0.1.
    if (reply && peer.address === '127.0.0.1') socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    queries: () => queries,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
