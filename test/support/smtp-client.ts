/**
 * A tiny raw SMTP client for conversation tests over real TCP: it sends exactly the bytes it is
 * given and parses replies (multi-line aware, RFC 5321 §4.2.1), nothing more.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface SmtpReply {
  code: number;
  /** The RFC 3463 code at the start of the first line, when present. */
  enhanced: string | undefined;
  /** The text of each line, without the code and separator. */
  lines: string[];
  /** The whole reply as received. */
  text: string;
}

const REPLY_LINE = /^(\d{3})([ -])(.*)$/;

export class SmtpClient {
  readonly socket: net.Socket;
  private buffer = '';
  private readonly queue: SmtpReply[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  private protocolError: Error | undefined;
  private readonly closedPromise: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      this.buffer += text;
      this.parse();
      this.wake();
    });
    socket.on('error', () => {}); // a reset shows as close; tests assert on replies and closed()
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  static connect(port: number, host = '127.0.0.1', options: { allowHalfOpen?: boolean } = {}): Promise<SmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, allowHalfOpen: options.allowHalfOpen ?? false });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new SmtpClient(socket));
      });
    });
  }

  /** Implicit TLS (RFC 8314): connects, handshakes, and reads the greeting. */
  static async openTls(
    port: number,
    options: tls.ConnectionOptions = {},
  ): Promise<{ client: SmtpClient; greeting: SmtpReply }> {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({
        port,
        host: '127.0.0.1',
        rejectUnauthorized: false,
        servername: 'mx.example.com',
        ...options,
      });
      s.once('error', reject);
      s.once('secureConnect', () => {
        s.off('error', reject);
        resolve(s);
      });
    });
    const client = new SmtpClient(socket);
    return { client, greeting: await client.read() };
  }

  /** After the server's 220 to STARTTLS: the TLS handshake on this connection; use the returned client. */
  async startTls(options: tls.ConnectionOptions = {}): Promise<SmtpClient> {
    this.socket.removeAllListeners('data');
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({
        socket: this.socket,
        rejectUnauthorized: false,
        servername: 'mx.example.com',
        ...options,
      });
      s.once('error', reject);
      s.once('secureConnect', () => {
        s.off('error', reject);
        resolve(s);
      });
    });
    return new SmtpClient(socket);
  }

  get tlsSocket(): tls.TLSSocket | undefined {
    return this.socket instanceof tls.TLSSocket ? this.socket : undefined;
  }

  /** Connects and reads the greeting. */
  static async open(port: number): Promise<{ client: SmtpClient; greeting: SmtpReply }> {
    const client = await SmtpClient.connect(port);
    return { client, greeting: await client.read() };
  }

  /** The next complete reply; rejects if the connection closes first or nothing comes within timeoutMs. */
  async read(timeoutMs = 5000): Promise<SmtpReply> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.protocolError) throw this.protocolError;
      if (this.ended)
        throw new Error(`connection closed while waiting for a reply (unparsed: ${JSON.stringify(this.buffer)})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms (unparsed: ${JSON.stringify(this.buffer)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.queue.shift()!;
  }

  /** Reads n replies. */
  async readN(n: number, timeoutMs = 5000): Promise<SmtpReply[]> {
    const out: SmtpReply[] = [];
    for (let i = 0; i < n; i++) out.push(await this.read(timeoutMs));
    return out;
  }

  /** Every reply until the server closes the connection. */
  async readUntilClosed(timeoutMs = 5000): Promise<SmtpReply[]> {
    const out: SmtpReply[] = [];
    for (let i = 0; i < 10_000; i++) {
      try {
        out.push(await this.read(timeoutMs));
      } catch (err) {
        if (this.ended) return out;
        throw err;
      }
    }
    return out;
  }

  /** Writes the bytes as given: a string is sent as latin1, so any byte value can be written. */
  send(raw: string | Buffer): void {
    this.socket.write(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw);
  }

  async command(line: string, timeoutMs?: number): Promise<SmtpReply> {
    this.send(Buffer.from(`${line}\r\n`, 'utf8'));
    return this.read(timeoutMs);
  }

  get isClosed(): boolean {
    return this.ended;
  }

  closed(): Promise<void> {
    return this.closedPromise;
  }

  /** Ends the connection without QUIT and waits for the close. */
  async close(): Promise<void> {
    this.socket.destroy();
    await this.closedPromise;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private parse(): void {
    for (;;) {
      const lines: string[] = [];
      let offset = 0;
      let complete: SmtpReply | undefined;
      for (;;) {
        const eol = this.buffer.indexOf('\r\n', offset);
        if (eol < 0) break;
        const line = this.buffer.slice(offset, eol);
        offset = eol + 2;
        const m = REPLY_LINE.exec(line) ?? /^(\d{3})()()$/.exec(line);
        if (!m) {
          this.protocolError = new Error(`not an SMTP reply line: ${JSON.stringify(line)}`);
          this.buffer = '';
          return;
        }
        lines.push(m[3]!);
        if (m[2] !== '-') {
          const enhanced = /^([245]\.\d{1,3}\.\d{1,3}) /.exec(lines[0]!)?.[1];
          complete = { code: Number(m[1]), enhanced, lines, text: this.buffer.slice(0, offset) };
          break;
        }
      }
      if (!complete) return;
      this.queue.push(complete);
      this.buffer = this.buffer.slice(offset);
    }
  }
}

/** "250 2.1.0" or "220" for compact assertions. */
export function codeOf(reply: SmtpReply): string {
  return reply.enhanced ? `${reply.code} ${reply.enhanced}` : `${reply.code}`;
}
