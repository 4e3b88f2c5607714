/**
 * A loopback DNS server that answers every query with NOERROR and no records (NODATA, RFC 2308 §2.2).
 * Postern is pointed at it so that SPF, DKIM or DMARC lookups during the benchmark never leave 127.0.0.1
 * and cost the same on every run; "no record" makes every check result "none". Each answer carries an
 * SOA in its authority section, as every real zone's negative answer does (RFC 2308 §3): without one a
 * negative answer may not be cached (§5), nor the results derived from it, and every message would
 * ask again, which no server on the Internet makes a receiver do.
 */
import dgram from 'node:dgram';

/**
 * The root's SOA (RFC 1035 §3.3.13): owner ".", TTL 3600, MNAME and RNAME ".", then SERIAL, REFRESH,
 * RETRY, EXPIRE and MINIMUM; MINIMUM, 300 s, is the negative answers' TTL (RFC 2308 §4).
 */
const SOA_RECORD = (() => {
  const record = Buffer.alloc(1 + 10 + 1 + 1 + 20);
  let at = 1; // owner: the root label
  at = record.writeUInt16BE(6, at); // TYPE SOA
  at = record.writeUInt16BE(1, at); // CLASS IN
  at = record.writeUInt32BE(3600, at); // TTL
  at = record.writeUInt16BE(2 + 20, at); // RDLENGTH: MNAME ".", RNAME ".", five 32-bit fields
  at += 2; // MNAME and RNAME: root labels
  for (const field of [1, 3600, 600, 86_400, 300]) at = record.writeUInt32BE(field, at);
  return record;
})();

/** Copies the header and question of `query` into a reply with no answers (RFC 1035 §4.1). */
function nodata(query: Buffer): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined; // one question, as resolvers send
  let at = 12;
  while (at < query.length && query[at] !== 0) at += (query[at] ?? 0) + 1; // labels, RFC 1035 §4.1.2
  const end = at + 1 + 4; // root label, QTYPE, QCLASS
  if (end > query.length) return undefined;
  const reply = Buffer.concat([query.subarray(0, end), SOA_RECORD]);
  const rd = (query[2] ?? 0) & 0x01;
  reply[2] = 0x80 | rd; // QR=1, opcode 0, RD copied
  reply[3] = 0x80; // RA=1, RCODE=0 (NOERROR)
  reply.writeUInt16BE(0, 6); // ANCOUNT
  reply.writeUInt16BE(1, 8); // NSCOUNT: the SOA
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
