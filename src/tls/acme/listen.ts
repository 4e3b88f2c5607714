/** Binding the challenge servers to a configured `host:port` (the form of the config's listen keys). */
import type { AddressInfo, Server, Socket } from 'node:net';

export interface ChallengeServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

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
 * Listens (or takes over the port bound for it) and returns the bound address; `close` also ends
 * open connections so it never waits on a client.
 */
export async function listenOn(server: Server, listen: string, takeOver?: TakeOver): Promise<ChallengeServer> {
  const { host, port } = parseHostPort(listen);
  // Tracked from the start: a take-over hands its waiting clients over as it listens.
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
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
