/**
 * One DNS query to one server and its reply, over UDP or TCP, for the stub resolver (system-resolver.ts)
 * and the DNSSEC probe (dnssec.ts). The caller builds the query and says which replies are its own
 * (`accepts`: its ID and question, RFC 5452 §9.1); anything else that arrives is ignored. Never throws:
 * a failure is its code (ETIMEOUT, ECONNREFUSED, EBADRESP, …).
 */

import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';

export interface DnsServer {
  host: string;
  port: number;
}

export type Reply = Buffer | { code: string };

/**
 * Sockets the look-ups may hold at once, one for each query in flight (a new UDP socket a query, for its
 * random source port): within the descriptors server/open-files.ts keeps aside beside the connections
 * (RESERVED_DESCRIPTORS), so that many look-ups at once on a slow resolver cannot run the process out of
 * descriptors (EMFILE) and fail as if the servers were silent. Queries past it wait for a socket.
 */
export const MAX_DNS_SOCKETS = 100;

let socketsOpen = 0;
const waitingForSocket: (() => void)[] = [];

/** A socket's slot; the function it resolves to gives the slot back (once), to the next query waiting. */
async function socketSlot(): Promise<() => void> {
  if (socketsOpen < MAX_DNS_SOCKETS) socketsOpen++;
  else await new Promise<void>((resolve) => waitingForSocket.push(resolve));
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const next = waitingForSocket.shift();
    if (next) next();
    else socketsOpen--;
  };
}

/**
 * Over UDP (RFC 1035 §4.2.1) from a new socket: a fresh random source port for each query (RFC 5452 §9.2),
 * connected, so that datagrams from any other address or port never reach us, and the ICMP port
 * unreachable of a server not running is ECONNREFUSED.
 */
export function overUdp(
  server: DnsServer,
  query: Buffer,
  accepts: (reply: Buffer) => boolean,
  timeoutMs: number,
): Promise<Reply> {
  return exchange(timeoutMs, (finish, onClose) => {
    const socket = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    let closed = false;
    onClose(() => {
      closed = true;
      try {
        socket.close();
      } catch {
        // already closed after an error: nothing to release
      }
    });
    // Not ours (another ID, another question): a stray or a spoofing attempt, ignored (RFC 5452 §9.1).
    socket.on('message', (message) => {
      if (accepts(message)) finish(message);
    });
    socket.on('error', (err) => finish({ code: errorCode(err) }));
    socket.connect(server.port, server.host, () => {
      if (closed) return; // settled (timed out) before the socket was connected: send would throw
      socket.send(query, (err) => {
        if (err) finish({ code: errorCode(err) });
      });
    });
  });
}

/**
 * Over TCP, each message preceded by its two-octet length (RFC 7766 §8, RFC 1035 §4.2.2), so a reply is at
 * most 65,535 octets. No one else can slip a reply in here: one `accepts` refuses is a broken server.
 */
export function overTcp(
  server: DnsServer,
  query: Buffer,
  accepts: (reply: Buffer) => boolean,
  timeoutMs: number,
): Promise<Reply> {
  return exchange(timeoutMs, (finish, onClose) => {
    const socket = connect({ host: server.host, port: server.port });
    onClose(() => socket.destroy());
    let pending = Buffer.alloc(0);
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length);
      socket.write(Buffer.concat([length, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < 2 || pending.length < 2 + pending.readUInt16BE(0)) return;
      const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
      finish(accepts(message) ? message : { code: 'EBADRESP' });
    });
    socket.on('error', (err) => finish({ code: errorCode(err) }));
    socket.on('close', () => finish({ code: 'ECONNRESET' }));
  });
}

/**
 * One exchange on a socket slot: `start` opens its socket and says how to close it; the first of its
 * reply, its failure and the timeout (counted from when it has a slot) settles it, closes the socket
 * and gives the slot back. What comes after is ignored.
 */
async function exchange(
  timeoutMs: number,
  start: (finish: (result: Reply) => void, onClose: (close: () => void) => void) => void,
): Promise<Reply> {
  const release = await socketSlot();
  return new Promise<Reply>((resolve) => {
    let settled = false;
    let close = () => {};
    const finish = (result: Reply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      close();
      release();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ code: 'ETIMEOUT' }), timeoutMs);
    start(finish, (closer) => {
      close = closer;
    });
  });
}

function errorCode(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? 'ENETWORK';
}

/** Equal bytes from `start` to `end`, ASCII letters in any case (RFC 4343 §3: a question's name is case-insensitive). */
export function sameBytesIgnoringCase(a: Buffer, b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (lowerByte(a[i] as number) !== lowerByte(b[i] as number)) return false;
  }
  return true;
}

function lowerByte(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
}
