/**
 * Implicit TLS (RFC 8314 §3.3, port 465): TLS from the first byte, the SMTP greeting after the
 * handshake. Which handshakes are admitted (the listener's slots, a per-client limit), their timeout,
 * and what a failed one logs. The session begins once the handshake is done.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { socketAddress } from '../dns/ip.ts';
import type { ListenerOptions, ListenerTls } from './listener-options.ts';
import type { PreSessionLog } from './pre-session-log.ts';
import type { StressMode } from './stress.ts';

/**
 * Why a handshake failed, in OpenSSL's words (`http request`, `wrong version number`, `no shared
 * cipher`), without its error stack's hex codes and source file paths; a socket error's message otherwise.
 */
export function tlsReason(err: Error): string {
  const reason = (err as { reason?: unknown }).reason;
  return typeof reason === 'string' && reason !== '' ? reason : err.message.trim();
}

/** What the listener lends the handshakes: its state, its log, and where a secured socket goes. */
export interface HandshakeHost {
  options: Pick<ListenerOptions, 'maxConnections' | 'maxHandshakesPerClient' | 'clientOf'>;
  preSessionLog: PreSessionLog;
  stress: StressMode;
  draining(): boolean;
  /** Sessions open now (handshakes under way are counted here). */
  sessions(): number;
  /** The socket is a session's (an error on it is no handshake failure). */
  isSession(socket: net.Socket): boolean;
  /** Handshakes under way changed: stress may begin or end. */
  changed(): void;
  /** The handshake is done: the session begins. */
  accept(socket: tls.TLSSocket, sessionId: string): void;
}

export class ImplicitTlsHandshakes {
  readonly #host: HandshakeHost;
  /** Sockets whose handshake is under way (the TLS socket over each): not sessions yet, but descriptors all the same. */
  readonly #underway = new Map<net.Socket, tls.TLSSocket>();
  readonly #perClient = new Map<string, number>();

  constructor(host: HandshakeHost) {
    this.#host = host;
  }

  get size(): number {
    return this.#underway.size;
  }

  /**
   * The listener drains: every handshake under way ends now. There is no session to finish, and no
   * 421 can be said before TLS; left to its timeout (30 s), one silent connection held the shutdown.
   */
  close(): void {
    for (const secure of [...this.#underway.values()]) secure.destroy();
  }

  /**
   * RFC 8314 §3.3: TLS from the first byte; the SMTP greeting follows the handshake. Each handshake
   * takes the certificates as they are now, so a renewed certificate serves the next client.
   */
  start(raw: net.Socket, config: ListenerTls, sessionId: string): void {
    const host = this.#host;
    // The session id from the first byte, so every line about the connection carries it.
    const remote = { session: sessionId, client: socketAddress(raw.remoteAddress ?? '') };
    // Connections still in their handshake count toward maxConnections: uncounted, a flood that never
    // sends a ClientHello would hold a descriptor each for the handshake timeout, without limit, until
    // the process ran out of them on every port. No SMTP reply is possible before TLS: the socket closes.
    if (host.draining() || host.sessions() + this.#underway.size >= host.options.maxConnections) {
      host.preSessionLog.write(
        'warn',
        { ...remote, phase: 'tls-handshake' },
        'too many connections: closed before TLS',
      );
      raw.destroy();
      return;
    }
    // One client must not take the listener's every slot with handshakes it never finishes.
    const client = host.options.clientOf ? host.options.clientOf(remote.client) : remote.client;
    const max = client === undefined ? 0 : (host.options.maxHandshakesPerClient ?? 0);
    const underway = client === undefined ? 0 : (this.#perClient.get(client) ?? 0);
    if (max > 0 && underway >= max) {
      host.preSessionLog.write(
        'warn',
        { ...remote, phase: 'tls-handshake' },
        'too many TLS handshakes from this client: closed',
      );
      raw.destroy();
      return;
    }
    if (client !== undefined) this.#perClient.set(client, underway + 1);
    let counted = true;
    const done = () => {
      if (!counted) return;
      counted = false;
      this.#underway.delete(raw);
      if (client === undefined) return;
      const left = (this.#perClient.get(client) ?? 1) - 1;
      if (left > 0) this.#perClient.set(client, left);
      else this.#perClient.delete(client);
    };
    const secure = new tls.TLSSocket(raw, { ...config.options(), isServer: true });
    this.#underway.set(raw, secure);
    host.changed(); // before the timeout is chosen: this handshake may be the one that brings stress
    const timer = setTimeout(() => {
      host.preSessionLog.write('info', { ...remote, phase: 'tls-handshake' }, 'timeout');
      secure.destroy();
    }, host.stress.handshakeTimeout());
    raw.once('close', () => {
      clearTimeout(timer); // closed otherwise (the client, close()): no timeout line after the fact
      done();
      host.changed();
    });
    secure.once('secure', () => {
      clearTimeout(timer);
      done(); // a session now, counted as one (and by the policy's per-client limit)
      host.accept(secure, sessionId);
    });
    secure.once('error', (err) => {
      clearTimeout(timer);
      if (!host.isSession(secure))
        host.preSessionLog.write('info', { ...remote, reason: tlsReason(err) }, 'TLS handshake failed');
      secure.destroy();
    });
  }
}
