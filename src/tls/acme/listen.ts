/**
 * Binding the challenge servers (and the MTA-STS policy host) to a configured `host:port` (the form of
 * the config's listen keys), with a cap on the connections each holds.
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import { clientKey } from '../../policy/cidr.ts';

export interface ChallengeServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Connections a small HTTP(S) or TLS server holds at once. Each is a file descriptor, and the
 * descriptors are the SMTP listeners' too: past the process's limit, every port drops new clients
 * without a reply (src/server/open-files.ts counts these caps in its estimate).
 */
export interface ConnectionCaps {
  /** In all; the one over is closed as it is accepted. */
  maxConnections: number;
  /** From one client: an IPv4 address, or an IPv6 /64 (RFC 6177 §2), as the SMTP limits count it. */
  maxPerClient: number;
}

/**
 * A challenge responder's caps. A CA validates a challenge with one request (or handshake) from each
 * of a few vantage points, one name at a time (manager.ts orders one certificate per name, in turn).
 */
export const CHALLENGE_CAPS: ConnectionCaps = { maxConnections: 64, maxPerClient: 16 };

/** `127.0.0.1:80`, `[::1]:80` or `mail.example.com:80`; port 0 asks for any free port. */
export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new TypeError(`expected host:port, e.g. 0.0.0.0:80 or [::]:80, not ${value}`);
  return { host: (match[1] ?? match[2])!, port };
}

/** Listens `server` on a port bound earlier (src/server/early-ports.ts), instead of binding one. */
export type TakeOver = (server: Server) => Promise<void>;

/**
 * Listens (or takes over the port bound for it) with `caps`, and returns the bound address; `close`
 * also ends open connections so it never waits on a client.
 */
export async function listenOn(
  server: Server,
  listen: string,
  caps: ConnectionCaps,
  takeOver?: TakeOver,
): Promise<ChallengeServer> {
  const { host, port } = parseHostPort(listen);
  server.maxConnections = caps.maxConnections;
  // Tracked from the start: a take-over hands its waiting clients over as it listens.
  const sockets = new Set<Socket>();
  const perClient = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const client = clientKey(socket.remoteAddress ?? '');
    const open = (perClient.get(client) ?? 0) + 1;
    if (open > caps.maxPerClient) {
      socket.destroy();
      return;
    }
    perClient.set(client, open);
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      const left = (perClient.get(client) ?? 1) - 1;
      if (left > 0) perClient.set(client, left);
      else perClient.delete(client);
    });
  });
  if (takeOver) await takeOver(server);
  else {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }
  const bound = server.address() as AddressInfo;
  return {
    address: bound.address,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
