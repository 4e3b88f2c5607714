/** Shared pieces of the TLS tests: a loopback TLS server, a client handshake, a logger whose lines we read. */
import net from 'node:net';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { createLogger, type Logger } from '../../src/log/logger.ts';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: createLogger('debug', sink), lines };
}

export interface TestTlsServer {
  port: number;
  close(): Promise<void>;
}

/** A TLS server on 127.0.0.1, port 0, that echoes what it reads; `onSecure` sees each server-side socket. */
export async function startTlsServer(
  options: tls.TlsOptions,
  onSecure: (socket: tls.TLSSocket) => void = () => {},
): Promise<TestTlsServer> {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer(options, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    onSecure(socket);
    socket.pipe(socket);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A server the way Postern's listeners make TLS sockets: a plain TCP server whose sockets are wrapped
 * with `new tls.TLSSocket(raw, { isServer: true, ...options() })`, then echo.
 */
export async function startTlsSocketServer(options: () => tls.TLSSocketOptions): Promise<TestTlsServer> {
  const raws = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    raws.add(raw);
    raw.on('close', () => raws.delete(raw));
    raw.on('error', () => raw.destroy());
    const socket = new tls.TLSSocket(raw, { ...options(), isServer: true });
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const raw of raws) raw.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface HandshakeResult {
  protocol: string | null;
  cipher: string;
  alpn: string | false | null;
  certificate: tls.PeerCertificate;
}

/** Connects, completes a handshake and hangs up; rejects on a handshake error or after `timeoutMs`. */
export function handshake(
  port: number,
  options: tls.ConnectionOptions = {},
  timeoutMs = 5000,
): Promise<HandshakeResult> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const result = {
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().name,
        alpn: socket.alpnProtocol,
        certificate: socket.getPeerCertificate(),
      };
      socket.destroy();
      resolve(result);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}
