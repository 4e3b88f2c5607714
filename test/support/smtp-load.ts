/**
 * A bounded SMTP load for tests that hammer real servers: one session sends numbered messages
 * (pipelined MAIL/RCPT/DATA, RFC 2920) and records which ones got their 250.
 */
import { SmtpClient } from './smtp-client.ts';

export interface Load {
  acked: Set<number>;
  attempted: number;
}

export interface SenderOptions {
  /** Messages this session sends at most: every loop is bounded. */
  max: number;
  /** The recipients of message n. */
  recipients(n: number): string[];
  /** True when a broken connection is expected (the server is being killed): the session just ends. */
  mayBreak?: boolean;
}

export async function sender(port: number, next: () => number, load: Load, options: SenderOptions): Promise<void> {
  let c: SmtpClient;
  try {
    c = await SmtpClient.connect(port);
    await c.read();
    c.send('EHLO load.example.net\r\n');
    await c.read();
  } catch (err) {
    if (options.mayBreak) return; // the server died before this session got going
    throw err;
  }
  try {
    for (let i = 0; i < options.max; i++) {
      const n = next();
      const to = options.recipients(n);
      load.attempted++;
      c.send(`MAIL FROM:<load@example.net>\r\n${to.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`);
      const replies = await c.readN(to.length + 2);
      const data = replies.at(-1)!;
      if (replies.slice(0, -1).some((r) => r.code !== 250) || data.code !== 354) {
        throw new Error(`message ${n} refused: ${replies.map((r) => `${r.code} ${r.text}`).join(' | ')}`);
      }
      c.send(`From: load@example.net\r\nTo: ${to.join(', ')}\r\nSubject: msg-${n}\r\n\r\nmessage ${n}\r\n.\r\n`);
      const done = await c.read();
      if (done.code === 250) load.acked.add(n);
      else throw new Error(`message ${n}: ${done.code} ${done.text}`);
    }
  } catch (err) {
    if (!(options.mayBreak && c.isClosed)) throw err; // only a kill may end a session early
  } finally {
    await c.close();
  }
}

/**
 * Resolves once `minAcked` messages have their 250, plus `thenMs` more of load, or when `capMs` has
 * passed: a kill after a fixed time found nothing acknowledged yet on a machine busy with other tests.
 */
export async function loadUnderway(load: Load, minAcked: number, thenMs: number, capMs = 20_000): Promise<void> {
  const deadline = Date.now() + capMs;
  while (load.acked.size < minAcked && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, thenMs));
}
