/**
 * A minimal SMTP client connection for the load generator: writes raw commands and hands out replies in
 * order, multi-line replies joined (RFC 5321 §4.2.1: "250-" continues, "250 " ends). No per-reply timers,
 * which would cost more than the server under test at 10k msgs/s; the caller bounds the run by
 * destroying sockets at its deadline, which rejects every pending wait.
 */
import net from 'node:net';

export type Reply = { code: number; text: string };

type Waiter = { resolve: (r: Reply) => void; reject: (e: Error) => void };

export class SmtpConnection {
  readonly socket: net.Socket;
  #pending = '';
  #text: string[] = [];
  #ready: Reply[] = [];
  #waiters: Waiter[] = [];
  #closed: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    // latin1 maps bytes 1:1 to chars, the cheapest decoding; replies are ASCII anyway.
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('connection closed by peer')));
  }

  /** Connects to 127.0.0.1 (or ::1); the benchmark never talks to any other address. */
  static connect(port: number, host: '127.0.0.1' | '::1' = '127.0.0.1'): Promise<SmtpConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new SmtpConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  write(data: string | Buffer): void {
    if (typeof data === 'string') this.socket.write(data, 'latin1');
    else this.socket.write(data);
  }

  /** The next reply in order; rejects once the connection is gone and nothing is buffered. */
  reply(): Promise<Reply> {
    const ready = this.#ready.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** `count` replies, for a pipelined group (RFC 2920 §3.1: replies come back in command order). */
  async replies(count: number): Promise<Reply[]> {
    const out: Reply[] = [];
    for (let i = 0; i < count; i++) out.push(await this.reply());
    return out;
  }

  /** Ends politely; destroys after a grace period so a silent server cannot keep a socket open. */
  close(): void {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: string): void {
    this.#pending += chunk;
    let at = this.#pending.indexOf('\r\n');
    while (at >= 0) {
      const line = this.#pending.slice(0, at);
      this.#pending = this.#pending.slice(at + 2);
      this.#text.push(line);
      if (line.charAt(3) !== '-') this.#deliver({ code: Number(line.slice(0, 3)) || 0, text: this.#text.join('\n') });
      at = this.#pending.indexOf('\r\n');
    }
  }

  #deliver(reply: Reply): void {
    this.#text = [];
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(reply);
    else this.#ready.push(reply);
  }

  #fail(err: Error): void {
    this.#closed ??= err;
    for (const w of this.#waiters.splice(0)) w.reject(this.#closed);
  }
}
