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
 * descriptors (EMFILE) and fail as if the servers were silent. Queries past it wait for a socket, that
 * wait counted in their timeout: a sender whose names never answer may fill the sockets, and every other
 * session's look-ups must still end within their own time rather than queue behind his without a bound.
 */
export const MAX_DNS_SOCKETS = 100;
/** Queries that may wait for a socket; past it a query fails at once (EBUSY), a local failure. */
export const MAX_WAITING_FOR_SOCKET = 1_000;

let socketsOpen = 0;
/** In arrival order (a Set keeps it); each hands its query a slot, or is dropped when its time runs out. */
const waitingForSocket = new Set<() => void>();

/**
 * A socket's slot within `waitMs`, as the function that gives it back (once) to the next query waiting;
 * undefined when none came free in time or too many wait already.
 */
function socketSlot(waitMs: number): Promise<(() => void) | undefined> {
  const slot = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const [next] = waitingForSocket;
      if (next) {
        waitingForSocket.delete(next);
        next(); // the slot passes on: socketsOpen stays
      } else socketsOpen--;
    };
  };
  if (socketsOpen < MAX_DNS_SOCKETS) {
    socketsOpen++;
    return Promise.resolve(slot());
  }
  if (waitingForSocket.size >= MAX_WAITING_FOR_SOCKET || !(waitMs > 0)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const handed = () => {
      clearTimeout(timer);
      resolve(slot());
    };
    const timer = setTimeout(() => {
      waitingForSocket.delete(handed);
      resolve(undefined);
    }, waitMs);
    waitingForSocket.add(handed);
  });
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
    // Node calls back with the error when the connect fails (no route, a broadcast or unscoped link-local
    // address): that server is unreachable, and send on the unconnected socket would throw past us.
    socket.connect(server.port, server.host, (err?: Error) => {
      if (closed) return; // settled (timed out) before the socket was connected: send would throw
      if (err) {
        finish({ code: errorCode(err) });
        return;
      }
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
 * reply, its failure and the timeout (counted from the call, the wait for a slot included) settles it,
 * closes the socket and gives the slot back. What comes after is ignored.
 */
async function exchange(
  timeoutMs: number,
  start: (finish: (result: Reply) => void, onClose: (close: () => void) => void) => void,
): Promise<Reply> {
  const asked = performance.now();
  const release = await socketSlot(timeoutMs);
  if (release === undefined) return { code: 'EBUSY' };
  const left = timeoutMs - (performance.now() - asked);
  if (left <= 0) {
    // A socket came free as its time ran out: no query is sent that could not be waited for.
    release();
    return { code: 'ETIMEOUT' };
  }
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
    const timer = setTimeout(() => finish({ code: 'ETIMEOUT' }), left);
    try {
      start(finish, (closer) => {
        close = closer;
      });
    } catch (err) {
      // Never a throw (see above): one would leave the slot taken and the caller's look-up unsettled.
      finish({ code: errorCode(err as Error) });
    }
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
