/**
 * Talks to the mail host the way a sender and a mail client would: port 25 (SMTP, RFC 5321) and 587
 * (submission, RFC 6409) greet, answer EHLO and upgrade with STARTTLS (RFC 3207); 465 speaks TLS from the
 * first byte (RFC 8314 §3.3). Records what it saw, the certificate chain included; judging is server.ts's
 * (and dane.ts's). The TLS handshake never fails on an untrusted certificate here: we want to see it.
 *
 * Node's chain (getPeerCertificate) is the one the server sent completed from the local trust store, so
 * it shows a root the server never sends. DANE-TA needs what the server itself sends (RFC 7672 §3.1.2), so
 * on port 25 a second handshake trusts nothing: with an empty store, Node has nothing to complete with.
 */

import net from 'node:net';
import tls from 'node:tls';

export type PortKind = 'smtp' | 'submission' | 'submissions';

export interface ProbeOptions {
  /** Where to connect; default the mail host name (config.hostname). Tests: 127.0.0.1. */
  host?: string;
  /** Default 25, 587 and 465. */
  ports?: Partial<Record<PortKind, number>>;
  /** Trust these roots instead of Node's bundled ones (tests: a test CA). */
  ca?: string[];
  /** Per port; default 10 s. */
  timeoutMs?: number;
  /** Port 25: record the chain the server sends (ServedCertificate.sent), at the cost of a second handshake. Default true. */
  sentChain?: boolean;
}

export interface ServedCertificate {
  /** DER, the server's certificate first, then the issuers as its chain was built (completed from the trust store). */
  chain: Buffer[];
  /**
   * DER, the certificates the server itself sent, its own first, in issuing order (port 25 only; undefined
   * when not asked for or the second handshake failed). RFC 7672 §3.1.2: DANE-TA matches only these.
   */
  sent?: Buffer[];
  /** Chains to a trusted root (the name is checked by server.ts). */
  authorized: boolean;
  authorizationError?: string;
}

export interface PortResult {
  kind: PortKind;
  port: number;
  /** A 220 greeting arrived (RFC 5321 §4.2: "220 <domain> Service ready"). */
  answered: boolean;
  /** Why not, or where the dialogue stopped. */
  error?: string;
  /** The machine running the check has no route to the address (e.g. no IPv6 here): not the server's fault. */
  unreachableFromHere?: boolean;
  /** smtp and submission only: STARTTLS in the EHLO reply (RFC 3207 §4), and how the upgrade went. */
  starttls?: { offered: boolean; error?: string };
  certificate?: ServedCertificate;
}

export interface ProbeResult {
  /** The name probed (the certificate must be valid for it). */
  hostname: string;
  ports: PortResult[];
}

export const DEFAULT_PORTS: Record<PortKind, number> = { smtp: 25, submission: 587, submissions: 465 };
/** An EHLO name no restriction refuses as ours (reject_helo_own_identity) and nobody owns (RFC 6761 §6.4). */
const EHLO_NAME = 'dns-check.postern.invalid';

export async function probeServer(hostname: string, kinds: PortKind[], options: ProbeOptions): Promise<ProbeResult> {
  const ports = await Promise.all(kinds.map((kind) => probePort(hostname, kind, options)));
  return { hostname, ports };
}

async function probePort(hostname: string, kind: PortKind, options: ProbeOptions): Promise<PortResult> {
  const port = options.ports?.[kind] ?? DEFAULT_PORTS[kind];
  const result: PortResult = { kind, port, answered: false };
  const host = options.host ?? hostname;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const tlsOptions = { servername: hostname, rejectUnauthorized: false, ...(options.ca ? { ca: options.ca } : {}) };
  try {
    await session(timeoutMs, async (sockets) => {
      if (kind === 'submissions') {
        const secure = tls.connect({ host, port, ...tlsOptions });
        sockets.push(secure);
        await once(secure, 'secureConnect');
        result.certificate = served(secure);
        await expectGreeting(new ReplyReader(secure), result);
        secure.end('QUIT\r\n');
        return;
      }
      const plain = net.connect({ host, port });
      sockets.push(plain);
      await once(plain, 'connect');
      const reader = new ReplyReader(plain);
      await expectGreeting(reader, result);
      plain.write(`EHLO ${EHLO_NAME}\r\n`);
      const ehlo = await reader.next();
      if (ehlo.code !== 250) throw new Error(`EHLO refused: ${ehlo.text}`);
      const offered = ehlo.lines.some((line) => /^starttls$/i.test(line.trim()));
      result.starttls = { offered };
      if (!offered) return;
      plain.write('STARTTLS\r\n');
      const ready = await reader.next();
      if (ready.code !== 220) {
        result.starttls.error = `STARTTLS refused: ${ready.text}`;
        return;
      }
      reader.detach();
      const secure = tls.connect({ socket: plain, ...tlsOptions });
      sockets.push(secure);
      try {
        await once(secure, 'secureConnect');
      } catch (err) {
        result.starttls.error = `TLS handshake failed: ${(err as Error).message}`;
        return;
      }
      result.certificate = served(secure);
      secure.end('QUIT\r\n');
    });
  } catch (err) {
    result.error = (err as Error).message;
    const code = (err as NodeJS.ErrnoException).code;
    // This machine has no way there (no IPv6 route here): nothing is known about the server.
    if (code === 'ENETUNREACH' || code === 'EHOSTUNREACH' || code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') {
      result.unreachableFromHere = true;
    }
  }
  if (kind === 'smtp' && result.certificate !== undefined && options.sentChain !== false) {
    // Apart, with its own time: a failure here leaves only `sent` unknown, not the port judged silent.
    const sent = await session(timeoutMs, (sockets) => sentChain(host, port, tlsOptions, sockets)).catch(
      () => undefined,
    );
    if (sent !== undefined) result.certificate.sent = sent;
  }
  return result;
}

/** Runs one dialogue within `timeoutMs`, then destroys the sockets it opened, whatever happened. */
async function session<T>(timeoutMs: number, dialogue: (sockets: net.Socket[]) => Promise<T>): Promise<T> {
  const sockets: net.Socket[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([timeout, dialogue(sockets)]);
  } finally {
    clearTimeout(timer);
    // The TLS socket first: destroying the TCP socket under a live client TLSSocket crashes Node 24.21
    // (SIGSEGV), and the TLS socket's destroy takes the TCP one with it anyway.
    for (const socket of sockets.reverse()) socket.destroy();
  }
}

/**
 * The certificates the server sends after STARTTLS (RFC 3207), as sent: the handshake trusts no root
 * (an empty `ca`, which Node does not fill with its bundled roots), so Node's chain building has no store
 * to add a root from and stops at the last certificate the server sent.
 */
async function sentChain(
  host: string,
  port: number,
  tlsOptions: tls.ConnectionOptions,
  sockets: net.Socket[],
): Promise<Buffer[]> {
  const plain = net.connect({ host, port });
  sockets.push(plain);
  await once(plain, 'connect');
  const reader = new ReplyReader(plain);
  for (const [command, code] of [
    [undefined, 220],
    [`EHLO ${EHLO_NAME}`, 250],
    ['STARTTLS', 220],
  ] as const) {
    if (command !== undefined) plain.write(`${command}\r\n`);
    const reply = await reader.next();
    if (reply.code !== code) throw new Error(`unexpected reply: ${reply.text}`);
  }
  reader.detach();
  const secure = tls.connect({ socket: plain, ...tlsOptions, ca: [] });
  sockets.push(secure);
  await once(secure, 'secureConnect');
  const { chain } = served(secure);
  secure.end('QUIT\r\n');
  return chain;
}

async function expectGreeting(reader: ReplyReader, result: PortResult): Promise<void> {
  const greeting = await reader.next();
  if (greeting.code !== 220) throw new Error(`greeting was not 220: ${greeting.text}`);
  result.answered = true;
}

function served(socket: tls.TLSSocket): ServedCertificate {
  const chain: Buffer[] = [];
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  // The issuer of a self-issued root is itself: stop there, and at a bound in case of a loop.
  while (cert?.raw && chain.length < 10 && !chain.some((der) => der.equals(cert!.raw))) {
    chain.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  const error = socket.authorizationError;
  return { chain, authorized: socket.authorized, ...(error ? { authorizationError: String(error) } : {}) };
}

function once(socket: net.Socket, event: 'connect' | 'secureConnect'): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once(event, () => resolve());
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('connection closed')));
  });
}

interface Reply {
  code: number;
  /** The text after the code of each line (an EHLO reply's keywords). */
  lines: string[];
  text: string;
}

/** Reads SMTP replies (RFC 5321 §4.2: "xyz-" continues a reply, "xyz " or "xyz" ends it). */
class ReplyReader {
  #buffer = '';
  #waiting: { resolve: (reply: Reply) => void; reject: (err: Error) => void } | undefined;
  readonly #socket: net.Socket;
  readonly #onData = (chunk: Buffer) => {
    this.#buffer += chunk.toString('latin1');
    this.#deliver();
  };
  readonly #onEnd = () => this.#waiting?.reject(new Error('connection closed'));

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('error', this.#onEnd);
    socket.on('close', this.#onEnd);
  }

  next(): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#deliver();
    });
  }

  /** Stops reading, so the TLS layer gets the bytes after STARTTLS's 220 (RFC 3207 §4). */
  detach(): void {
    this.#socket.off('data', this.#onData);
    this.#socket.off('error', this.#onEnd);
    this.#socket.off('close', this.#onEnd);
  }

  #deliver(): void {
    if (!this.#waiting) return;
    const lines: string[] = [];
    let offset = 0;
    for (;;) {
      const end = this.#buffer.indexOf('\n', offset);
      if (end < 0) return; // incomplete: wait for more
      const line = this.#buffer.slice(offset, end).replace(/\r$/, '');
      offset = end + 1;
      lines.push(line);
      if (!/^\d{3}-/.test(line)) break;
    }
    this.#buffer = this.#buffer.slice(offset);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    const code = Number(lines[0]?.slice(0, 3));
    waiting.resolve({
      code: Number.isInteger(code) ? code : 0,
      lines: lines.map((l) => l.slice(4)),
      text: lines.join(' '),
    });
  }
}
