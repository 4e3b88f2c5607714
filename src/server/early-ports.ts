/**
 * The ports a server started as root binds before it gives root up (cli/commands/serve.ts): ports
 * below 1024 need root, and nothing after them does. Each is held, listening, until the server part
 * it is configured for takes it over (`takeOver`, passed down by the composition root); a client that
 * connects in between is accepted, left unread, and handed over with the port, so it sees a slow
 * greeting rather than a refused connection. Postfix's master does the same: it opens the ports as
 * root and its daemons, as `mail_owner`, inherit them.
 */
import net from 'node:net';
import { listenProblem } from '../config/listen-problem.ts';
import { ConfigError, splitHostPort } from '../config/load.ts';
import type { TakeOver } from '../tls/acme/listen.ts';
import { CHALLENGE_PORT_IN_USE } from '../tls/acme/setup-error.ts';

/** Clients held unread while the server starts; later ones are closed (a flood at start-up holds no more). */
const MAX_WAITING = 1000;

/** Listeners that stay off without a TLS certificate, until one is loaded (server.ts). */
const MAY_STAY_OFF = new Set(['listen.submission', 'listen.submissions']);

interface Held {
  server: net.Server;
  /** Each waiting client and what removes this module's listeners from it. */
  waiting: Map<net.Socket, () => void>;
  taken: boolean;
  /** Its listener starts later (defer): closeUnused leaves the port, and clients are closed at once. */
  deferred: boolean;
}

export class EarlyPorts {
  readonly #held = new Map<string, Held>();
  /** Submission ports that could not be had: their listener, if it starts, fails with this. */
  readonly #failed = new Map<string, unknown>();

  private constructor() {}

  /**
   * Binds every configured address (config key → address, as listenAddresses gives them). One that
   * cannot be bound closes those already bound and stops the start with the key and what to do, but
   * for the submission listeners: they stay off without a certificate (known only later), and a port
   * of theirs that another program holds stopped no start before. Such a listener, when it does
   * start, fails then with the same words (binding it itself, as the owner, would say EACCES instead).
   */
  static async bind(
    addresses: ReadonlyMap<string, string>,
    options: { maxWaiting?: number } = {},
  ): Promise<EarlyPorts> {
    const maxWaiting = options.maxWaiting ?? MAX_WAITING;
    const ports = new EarlyPorts();
    try {
      // Two keys with one address fail here as the second listener would: "in use".
      for (const [key, address] of addresses) {
        const held = await hold(key, address, maxWaiting).catch((error: unknown) => {
          if (!MAY_STAY_OFF.has(key)) throw error;
          ports.#failed.set(key, error);
          return undefined;
        });
        if (held) ports.#held.set(key, held);
      }
    } catch (error) {
      await ports.closeUnused();
      throw error;
    }
    return ports;
  }

  /** How the listener of config key `key` (listen.smtp …) takes its port; undefined when none was bound for it. */
  takeOver(key: string): TakeOver | undefined {
    if (this.#failed.has(key)) {
      const error = this.#failed.get(key);
      return async () => {
        throw error;
      };
    }
    const held = this.#held.get(key);
    if (!held) return undefined;
    return async (target) => {
      if (held.taken) throw new Error(`${key}: its port was taken over already`);
      held.taken = true;
      await new Promise<void>((resolve, reject) => {
        target.once('error', reject);
        // net.Server#listen(handle): the target takes the bound socket itself; the held server is left
        // without a port and is never closed (closing it would close the target's socket).
        target.listen(held.server, () => {
          target.off('error', reject);
          resolve();
        });
      }).catch((error: unknown) => {
        held.taken = false; // still ours: closeUnused closes it and its waiting clients
        throw error;
      });
      held.server.removeAllListeners('connection');
      for (const [socket, forget] of held.waiting) {
        forget();
        if (socket.destroyed) continue;
        socket.setNoDelay(true);
        target.emit('connection', socket);
        // Paused at accept (pauseOnConnect): read now that the target's handler is on it (its own
        // listener, HTTP's parser or a TLS wrap), what the client sent while waiting first.
        if (!socket.destroyed) socket.resume();
      }
      held.waiting.clear();
    };
  }

  /**
   * The listener of `key` starts later (a submission listener waiting for its TLS certificate,
   * server.ts): its port stays bound through closeUnused(), for takeOver() then, since binding it
   * again would need the root given up. Clients that connect meanwhile are closed at once, not held:
   * the wait may last as long as ACME takes. The function returned closes the port if no listener has
   * taken it (the server stops first).
   */
  defer(key: string): () => Promise<void> {
    const held = this.#held.get(key);
    if (!held || held.taken) return async () => {};
    held.deferred = true;
    for (const socket of held.waiting.keys()) socket.destroy();
    held.waiting.clear();
    return async () => {
      if (held.taken) return;
      held.taken = true;
      await closeHeld(held);
    };
  }

  /** Closes the ports no listener took (one left off, or a start that failed), and their waiting clients; not deferred ones. */
  async closeUnused(): Promise<void> {
    const unused = [...this.#held.values()].filter((held) => !held.taken && !held.deferred);
    for (const held of unused) held.taken = true;
    await Promise.all(unused.map(closeHeld));
  }
}

function closeHeld(held: Held): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const socket of held.waiting.keys()) socket.destroy();
    held.waiting.clear();
    held.server.close(() => resolve());
  });
}

async function hold(key: string, address: string, maxWaiting: number): Promise<Held> {
  const { host, port } = splitHostPort(address);
  const waiting = new Map<net.Socket, () => void>();
  const server = net.createServer({ pauseOnConnect: true });
  const held: Held = { server, waiting, taken: false, deferred: false };
  server.on('connection', (socket) => {
    if (held.deferred || waiting.size >= maxWaiting) {
      socket.destroy();
      return;
    }
    const ignore = () => {}; // a client that gives up while waiting
    const gone = () => waiting.delete(socket);
    socket.on('error', ignore).once('close', gone);
    waiting.set(socket, () => socket.off('error', ignore).off('close', gone));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: unknown) => {
    const problem = listenProblem(key, address, error, CHALLENGE_PORT_IN_USE[key] ?? 'is another server running?');
    throw problem === undefined ? error : new ConfigError(problem, { cause: error });
  });
  // A failed accept while waiting (out of descriptors): the client retries; the listener logs its own later.
  server.on('error', () => {});
  return held;
}
