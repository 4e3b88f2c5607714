/**
 * Drives a sans-I/O SmtpSession the way the listener does, without sockets: feeds bytes, answers
 * every check and message effect with an outcome, and records what came out. Shared by the
 * session, smuggling and fuzz tests.
 */
import { renderReply, replies } from '../../src/smtp/replies.ts';
import {
  type AuthOutcome,
  type CheckOutcome,
  type Effect,
  type MessageOutcome,
  type SessionOptions,
  SmtpSession,
} from '../../src/smtp/session.ts';

export const sessionDefaults: SessionOptions = {
  sessionId: 'test',
  hostname: 'mx.example.com',
  maxMessageSize: 10_000,
  maxRecipients: 5,
  maxCommandsBeforeMail: 50,
  maxErrors: 20,
  bareLineEndings: 'reject',
  vrfy: 'off',
};

export type Decider = (
  effect: Exclude<Effect, { type: 'reply' | 'close' | 'starttls' }>,
) => CheckOutcome | MessageOutcome | AuthOutcome;

/**
 * Accepts every check (recipients at example.com, else 554 5.7.1), stores every message, and logs
 * in any AUTH whose (initial) response is "secret" as "user"; other responses get 535.
 */
export const acceptAll: Decider = (effect) => {
  if (effect.type === 'message') return { action: 'reply', reply: replies.queued(effect.envelope.id) };
  if (effect.type === 'auth') {
    if (effect.response === undefined) return { action: 'challenge', data: Buffer.alloc(0) };
    return effect.response.toString() === 'secret'
      ? { action: 'success', username: 'user' }
      : { action: 'reject', reply: replies.authFailed() };
  }
  if (effect.stage === 'rcpt' && effect.recipient.domain !== 'example.com' && effect.recipient.domain !== '') {
    return { action: 'reject', reply: replies.relayDenied(effect.recipient.address) };
  }
  return effect.stage === 'rcpt'
    ? { action: 'continue', route: { kind: 'local', accountId: 1 } }
    : { action: 'continue' };
};

export interface Transcript {
  session: SmtpSession;
  /** Every reply as rendered on the wire, in order, the greeting first. */
  replies: string[];
  /** "code enhanced" per reply, e.g. "250 2.1.0" or "220". */
  codes: string[];
  messages: Buffer[];
  closed: boolean;
}

export class Driver implements Transcript {
  readonly session: SmtpSession;
  readonly replies: string[] = [];
  readonly codes: string[] = [];
  readonly messages: Buffer[] = [];
  closed = false;
  private readonly decide: Decider;

  constructor(options: Partial<SessionOptions> = {}, decide: Decider = acceptAll) {
    this.session = new SmtpSession({ ...sessionDefaults, ...options });
    this.decide = decide;
    this.apply(this.session.start());
  }

  /** Feeds bytes (a string as UTF-8) and returns the codes of the replies it caused. */
  send(input: string | Buffer): string[] {
    const before = this.codes.length;
    this.apply(this.session.receive(typeof input === 'string' ? Buffer.from(input, 'utf8') : input));
    return this.codes.slice(before);
  }

  shutdown(): string[] {
    const before = this.codes.length;
    this.apply(this.session.shutdown());
    return this.codes.slice(before);
  }

  private apply(effects: Effect[]): void {
    // Bounded: each resolved() consumes buffered input, so the chain ends when the input does.
    let queue = effects;
    for (let rounds = 0; queue.length > 0; rounds++) {
      if (rounds > 100_000) throw new Error('session did not settle');
      let next: Effect[] = [];
      for (const effect of queue) {
        if (effect.type === 'reply') {
          this.replies.push(renderReply(effect.reply));
          this.codes.push(
            effect.reply.enhanced ? `${effect.reply.code} ${effect.reply.enhanced}` : `${effect.reply.code}`,
          );
        } else if (effect.type === 'close') {
          if (this.closed) throw new Error('close effect twice');
          this.closed = true;
        } else if (effect.type === 'starttls') {
          next = this.session.tlsStarted(); // a sans-I/O session: "TLS" starts at once
        } else {
          if (effect.type === 'message') this.messages.push(Buffer.from(effect.content));
          next = this.session.resolved(this.decide(effect));
        }
      }
      queue = next;
    }
  }
}

/** A session past EHLO with one recipient, ready for DATA or BDAT. */
export function inTransaction(options: Partial<SessionOptions> = {}, decide: Decider = acceptAll): Driver {
  const d = new Driver(options, decide);
  d.send('EHLO client.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\n');
  return d;
}
