/**
 * The SMTP server session as a sans-I/O state machine (ARCHITECTURE.md principle 1): bytes in,
 * effects out. It owns sequencing (RFC 5321 §4.1.4), limits and the transaction; it knows no
 * sockets, timers, stores or policies. Checks and storage are effects the listener carries out,
 * answering with `resolved()`; input that arrives meanwhile is buffered (RFC 2920 pipelining).
 *
 * We write our own engine rather than wrap a library because we need BDAT, a smuggling guard,
 * strict syntax, a hook per stage and group-committed storage, and the outbound client reuses it.
 */

import { asciiName } from '../dns/a-labels.ts';
import {
  AUTH_PARAMETER_ALLOWANCE,
  frameCommandLine,
  isBdatLine,
  type LineProblem,
  MAX_COMMAND_LINE,
  SIZE_PARAMETER_ALLOWANCE,
} from './command-line.ts';
import { ContentDecoder } from './data-decoder.ts';
import type { AuthOutcome, CheckOutcome, Effect, MessageOutcome, SessionOptions } from './effects.ts';
import type { Envelope } from './envelope.ts';
import { type Command, decodeBase64, parseCommand } from './parser.ts';
import type { Params, Path } from './path.ts';
import { type Reply, replies } from './replies.ts';
import { contentProblemReply } from './stages/data.ts';
import { ehloReply, heloReply } from './stages/ehlo.ts';
import { checkMailParameters } from './stages/mail.ts';

type Pending =
  | { kind: 'helo'; greeting: 'HELO' | 'EHLO'; helo: string }
  | { kind: 'mail'; envelope: Envelope }
  | { kind: 'rcpt'; recipient: Path }
  | { kind: 'data' }
  | { kind: 'bdat'; size: number; last: boolean }
  | { kind: 'vrfy' }
  | { kind: 'tls' }
  | { kind: 'auth'; mechanism: string; final: boolean }
  | { kind: 'message' };

/** Shared by every session: a zero-length Buffer has nothing to change, and allocating one per read costs. */
const NO_INPUT = Buffer.alloc(0);

/** Postfix's smtpd_recipient_overshoot_limit default: recipients over the limit that are not errors. */
const RECIPIENT_OVERSHOOT = 1000;

/**
 * Commands that do not count toward maxCommandsBeforeMail. RSET does, as in Postfix's
 * smtpd_junk_command_limit: MAIL then RSET, again and again, is no mail.
 */
const TRANSACTION_OR_QUIT = new Set(['MAIL', 'RCPT', 'DATA', 'BDAT', 'QUIT']);

/** RFC 2920 §3.1: these may only end a group of pipelined commands. */
const LAST_IN_GROUP = new Set(['EHLO', 'HELO', 'DATA', 'VRFY', 'NOOP', 'QUIT']);

type Phase =
  | { name: 'command' }
  | { name: 'data'; decoder: ContentDecoder } // to CRLF.CRLF, RFC 5321 §4.1.1.4
  | { name: 'bdat'; decoder: ContentDecoder; remaining: number; last: boolean } // RFC 3030
  | { name: 'discard'; remaining: number; reply: Reply; logged?: true } // read a refused chunk, then reply
  | { name: 'waiting'; pending: Pending }
  /** Reading SASL responses, one per line (RFC 4954 §4); `final` answers the server's last data. */
  | { name: 'sasl'; mechanism: string; final?: string }
  | { name: 'closed' };

/** RFC 4954 §4: a SASL response line may be long (12288 octets is what Postfix accepts). */
const MAX_SASL_LINE = 12_288;

const LINE_PROBLEM_REPLIES: Record<LineProblem, () => Reply> = {
  'too-long': replies.lineTooLong,
  'bare-line-ending': replies.bareLineEndingInCommand, // RFC 5321 §2.3.8
  'not-utf8': () => replies.syntax('Syntax error: command is not valid UTF-8'),
};

export type { AuthOutcome, CheckOutcome, Effect, MessageOutcome, SessionOptions } from './effects.ts';

export class SmtpSession {
  private readonly options: SessionOptions;
  private phase: Phase = { name: 'command' };
  private input: Buffer = NO_INPUT;
  private skippingLongLine = false;
  private greeting: { kind: 'HELO' | 'EHLO'; helo: string } | undefined;
  private envelope: Envelope | undefined;
  /** The transaction used BDAT; DATA may not follow (RFC 3030 §2), and BDAT content accumulates here. */
  private bdat: ContentDecoder | undefined;
  /** The transaction's content (DATA or BDAT): counted against the content budget until it ends. */
  private content: ContentDecoder | undefined;
  private errors = 0;
  /** RCPTs refused for the recipient limit in this session: not errors up to RECIPIENT_OVERSHOOT. */
  private excessRecipients = 0;
  /** Refused at connection (RFC 5321 §3.1): every command but QUIT now gets 503. */
  private refused: Reply | undefined;
  /** The client sent commands ahead of replies where RFC 2920 does not let it (reject_unauth_pipelining). */
  private unauthPipelining = false;
  /** Commands (but MAIL, RCPT, DATA, BDAT and QUIT) since the session began or last had a message accepted. */
  private commandsWithoutMail = 0;
  /** RCPTs of this transaction answered 250, a recipient given twice included: under maxRecipients. */
  private recipientsAccepted = 0;
  /** TLS is active: implicit on this listener, or after STARTTLS. */
  private secure: boolean;
  /** The SASL login name once AUTH succeeded (RFC 4954). */
  private user: string | undefined;
  private mechanisms: readonly string[];
  private transactions = 0;
  /**
   * Octets read in the DATA phase, BDAT transaction (every chunk to LAST) or refused chunk under way;
   * undefined outside one. The host's minimum data rate is measured on it (stress.ts).
   */
  private contentRead: number | undefined;
  /** DATA phases, BDAT transactions and refused chunks begun: tells the host one from the next. */
  private contentStarts = 0;
  private out: Effect[] = [];
  /** The server is shutting down: the transaction under way may finish, then the session closes. */
  private draining = false;

  constructor(options: SessionOptions) {
    this.options = options;
    this.secure = options.tls === 'implicit';
    this.mechanisms = options.authMechanisms ?? [];
  }

  /** The SASL mechanisms this connection offers, once its TLS is known (PLUS needs a channel binding). */
  offerMechanisms(mechanisms: readonly string[]): void {
    this.mechanisms = mechanisms;
  }

  /**
   * TLS is up after STARTTLS. RFC 3207 §4.2: the server forgets everything it knew from the client
   * (the EHLO, the transaction); the client starts again with EHLO.
   */
  tlsStarted(): Effect[] {
    if (this.phase.name !== 'waiting' || this.phase.pending.kind !== 'tls')
      throw new Error('tlsStarted() without STARTTLS');
    this.secure = true;
    this.greeting = undefined;
    this.resetTransaction();
    this.unauthPipelining = false;
    this.input = NO_INPUT;
    this.phase = { name: 'command' };
    return this.flush();
  }

  /**
   * The 220 greeting (RFC 5321 §4.3.1), or, for a client the connection policy refused, that 554:
   * RFC 5321 §3.1 then wants the server to wait for QUIT and answer 503 to anything else.
   */
  start(refusal?: Reply): Effect[] {
    if (!refusal) return [{ type: 'reply', reply: replies.greeting(this.options.hostname) }];
    this.refused = refusal;
    return [{ type: 'reply', reply: refusal, logged: true }]; // the connect check logged why
  }

  get phaseName(): Phase['name'] {
    return this.phase.name;
  }

  /** Input received but not yet processed (pipelined while the session waits). */
  get bufferedBytes(): number {
    return this.input.length;
  }

  /** Content octets read in the DATA phase or BDAT transaction under way; undefined outside one. */
  get contentOctets(): number | undefined {
    return this.contentRead;
  }

  /** Counts the DATA phases and BDAT transactions begun, so the host can tell one from the next. */
  get contentCount(): number {
    return this.contentStarts;
  }

  /** MAIL was accepted and the transaction is not over (RSET, a message's end): mail is under way. */
  get inTransaction(): boolean {
    return this.envelope !== undefined;
  }

  /** No transaction is open and nothing is pending: the session can be closed without loss. */
  get idle(): boolean {
    return this.phase.name === 'command' && this.envelope === undefined && this.input.length === 0;
  }

  receive(chunk: Buffer): Effect[] {
    if (this.phase.name === 'closed') return [];
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    return this.run();
  }

  resolved(outcome: CheckOutcome | MessageOutcome | AuthOutcome): Effect[] {
    if (this.phase.name !== 'waiting') throw new Error(`resolved() in phase ${this.phase.name}`);
    const pending = this.phase.pending;
    this.phase = { name: 'command' };
    // RFC 5321 §3.8: a 421 closes the channel whoever chose it: a restriction, the store, a milter's
    // SMFIR_REPLYCODE (Postfix closes after a milter's 421 too).
    const closes = (outcome.action === 'reject' || outcome.action === 'reply') && outcome.reply.code === 421;
    if (outcome.action === 'disconnect' || closes) {
      this.out.push(replyEffect(outcome.reply, 'logged' in outcome ? outcome.logged : undefined));
      this.close();
      return this.flush();
    }
    if (pending.kind === 'auth') {
      this.authStep(pending, outcome);
      return this.run();
    }
    if (outcome.action === 'challenge' || outcome.action === 'success') {
      throw new Error(`an AUTH outcome for a ${pending.kind} step`);
    }
    switch (pending.kind) {
      case 'helo':
        if (outcome.action === 'reject') this.fail(outcome.reply, outcome.logged);
        else {
          this.resetTransaction();
          this.acceptGreeting(pending.greeting, pending.helo);
        }
        break;
      case 'mail':
        if (outcome.action === 'reject') this.fail(outcome.reply, outcome.logged);
        else {
          this.envelope = pending.envelope;
          this.emitReply(replies.senderOk());
        }
        break;
      case 'rcpt':
        if (outcome.action === 'reject') this.fail(outcome.reply, outcome.logged);
        else if (outcome.action === 'continue' && outcome.route && this.envelope) {
          // A recipient given twice is one mailbox (RFC 5321 §2.4: the domain is case-insensitive, and
          // parsePath lower-cased it; the local part is not): 250 again, but no second copy and no second
          // place under maxRecipients, as Postfix's cleanup drops duplicates. `X@` and `x@` stay two.
          // The domain compared in A-labels: bücher.test, its NFD spelling and xn--bcher-kva.test are one
          // name (RFC 5890 §2.3.2.1, RFC 5891 §5.2).
          const { localPart } = pending.recipient;
          const domain = domainKey(pending.recipient.domain);
          const given = this.envelope.recipients.some(
            ({ path }) => path.localPart === localPart && domainKey(path.domain) === domain,
          );
          if (!given) this.envelope.recipients.push({ path: pending.recipient, route: outcome.route });
          // Counted all the same, as Postfix's smtpd counts every accepted RCPT toward
          // smtpd_recipient_limit: a duplicate costs a restriction check each, and without a limit one
          // session could send them without end.
          this.recipientsAccepted++;
          this.emitReply(replies.recipientOk());
        } else this.fail(replies.localError());
        break;
      case 'data':
        if (outcome.action === 'reject') this.fail(outcome.reply, outcome.logged);
        else this.startData();
        break;
      case 'bdat':
        // A restriction's refusal is logged by it, with its rule and reason: the 5xx is not logged again.
        // RFC 3030 §2: a refused BDAT fails the transaction, and chunks already pipelined behind it
        // are read and discarded (503), never taken as the start of the message.
        if (outcome.action === 'reject') {
          this.resetTransaction();
          this.refuseChunk(pending.size, outcome.reply, outcome.logged);
        } else this.startChunk(pending.size, pending.last);
        break;
      case 'vrfy':
        if (outcome.action === 'reply') this.emitReply(outcome.reply);
        else if (outcome.action === 'reject') this.fail(outcome.reply, outcome.logged);
        else this.emitReply(replies.vrfyAmbiguous());
        break;
      case 'message':
        if (outcome.action === 'reply') this.out.push(replyEffect(outcome.reply, outcome.logged));
        else this.emitReply(replies.localError());
        // Mail was taken: the session earns its command allowance anew (Postfix resets its junk
        // command count after mail is delivered), not at a MAIL that may lead nowhere.
        if (outcome.action === 'reply' && outcome.reply.code < 300) this.commandsWithoutMail = 0;
        this.resetTransaction();
        // Shutting down: commands pipelined behind the message (RFC 2920 §3.1) are not run.
        if (this.draining) return this.drained();
        break;
      case 'tls':
        throw new Error('STARTTLS is resolved with tlsStarted()');
      default:
        return pending satisfies never;
    }
    return this.run();
  }

  /**
   * The connection is gone (the client hung up, or the listener closed it): the transaction's content
   * no longer counts against the budget. Whoever still processes it keeps its own reference.
   */
  released(): void {
    this.content?.release();
    this.content = undefined;
  }

  /**
   * On shutdown: closes an idle session with 421 (RFC 5321 §3.8); a busy one is left to finish its
   * transaction, and closes with 421 when it ends (its message answered, RSET) or at its next MAIL.
   * Returns no effects for a busy session.
   */
  shutdown(): Effect[] {
    this.draining = true;
    return this.idle ? this.drained() : [];
  }

  /**
   * RFC 5321 §3.8: a server shutting down answers 421 and closes; input pipelined behind the end of
   * the transaction (RFC 2920) is never run, so no new transaction starts during the shutdown.
   */
  private drained(): Effect[] {
    this.closeDraining();
    this.input = NO_INPUT;
    return this.flush();
  }

  private closeDraining(): void {
    this.emitReply(replies.shuttingDown(this.options.hostname));
    this.close();
  }

  /**
   * Ends the session with a final reply whatever its phase: a timeout or the end of the shutdown grace.
   * `logged`: the host logged the event with this reply already (a timeout's one line).
   */
  abort(reply: Reply, logged?: true): Effect[] {
    if (this.phase.name === 'closed') return [];
    this.out.push(replyEffect(reply, logged));
    this.close();
    return this.flush();
  }

  private run(): Effect[] {
    let offset = 0;
    while (offset < this.input.length) {
      const phase = this.phase;
      if (phase.name === 'waiting') break;
      if (phase.name === 'closed') {
        offset = this.input.length;
        break;
      }
      if (phase.name === 'sasl') {
        const consumed = this.saslLine(offset, phase);
        if (consumed < 0) break;
        offset = consumed;
      } else if (phase.name === 'command') {
        const consumed = this.commandLine(offset);
        if (consumed < 0) break;
        offset = consumed;
      } else if (phase.name === 'data') {
        const end = phase.decoder.push(this.input.subarray(offset));
        if (end < 0) {
          this.contentRead = (this.contentRead ?? 0) + this.input.length - offset;
          offset = this.input.length;
          break;
        }
        this.contentRead = (this.contentRead ?? 0) + end;
        offset += end;
        this.endOfContent(phase.decoder);
      } else {
        const take = Math.min(phase.remaining, this.input.length - offset);
        if (phase.name === 'bdat') phase.decoder.push(this.input.subarray(offset, offset + take));
        this.contentRead = (this.contentRead ?? 0) + take;
        phase.remaining -= take;
        offset += take;
        if (phase.remaining === 0) this.endOfChunk(phase);
      }
    }
    this.input = offset >= this.input.length ? NO_INPUT : this.input.subarray(offset);
    // Input left over while we wait may be a slice of a large socket chunk: keep only its own bytes.
    if (this.input.length > 0 && this.phase.name === 'waiting') this.input = Buffer.from(this.input);
    return this.flush();
  }

  /** Handles one command line at `offset`; returns the offset after it, or -1 when it is incomplete. */
  private commandLine(offset: number): number {
    // Framed at the longest a MAIL line may be here; other commands are held to 512 once read.
    const longest = MAX_COMMAND_LINE + SIZE_PARAMETER_ALLOWANCE + (this.authOffered ? AUTH_PARAMETER_ALLOWANCE : 0);
    const framed = frameCommandLine(this.input, offset, this.options.bareLineEndings === 'normalize', longest);
    if (framed.kind === 'incomplete') {
      // An over-long line is refused once, then skipped up to its LF, however long it goes on.
      if (this.input.length - offset >= longest && !this.skippingLongLine) {
        if (isBdatLine(this.input, offset)) return this.lostFraming(replies.lineTooLong());
        this.skippingLongLine = true;
        this.fail(replies.lineTooLong());
      }
      return this.skippingLongLine ? this.input.length : -1;
    }
    if (this.skippingLongLine) {
      this.skippingLongLine = false;
      return framed.next;
    }
    if (framed.kind === 'problem') {
      const reply = LINE_PROBLEM_REPLIES[framed.problem]();
      if (isBdatLine(this.input, offset, framed.next)) return this.lostFraming(reply);
      this.fail(reply);
      return framed.next;
    }
    const command = parseCommand(framed.text);
    if (framed.next - offset > MAX_COMMAND_LINE && command.verb !== 'MAIL') {
      if (isBdatLine(this.input, offset, framed.next)) return this.lostFraming(replies.lineTooLong());
      this.fail(replies.lineTooLong());
      return framed.next;
    }
    // Input after this line was sent before our reply to it: allowed only after EHLO advertised
    // PIPELINING, and never after a command that must end a group (RFC 2920 §3.1).
    if (framed.next < this.input.length && (this.greeting?.kind !== 'EHLO' || LAST_IN_GROUP.has(command.verb))) {
      this.unauthPipelining = true;
    }
    this.dispatch(command);
    return framed.next;
  }

  /**
   * A BDAT line we cannot read its chunk size from (malformed, over-long, a bare line ending, not
   * UTF-8): RFC 3030 §2 has the chunk's octets follow it, and we cannot tell where they end, so
   * nothing after it may be read as a command (its client's message data would be executed). The
   * refusal, then 421 and close (RFC 5321 §3.8: the server closes only after QUIT or a 421; fail()
   * may have sent one already). Returns the offset past all input: none of it is read.
   */
  private lostFraming(reply: Reply): number {
    this.fail(reply);
    if (this.phase.name !== 'closed') {
      this.emitReply(replies.outOfStep(this.options.hostname));
      this.close();
    }
    return this.input.length;
  }

  private dispatch(command: Command): void {
    if (this.refused && command.verb !== 'QUIT') {
      // Logged once, at connection: the 503s a refused client collects are not news (maxErrors ends them).
      const reply = replies.badSequence(`refused at connection: ${this.refused.lines[0] ?? ''}`);
      // RFC 3030 §2: even here a BDAT's chunk is read and discarded, never taken as commands; and a
      // BDAT without a readable size still loses the framing.
      if (command.verb === 'BDAT') return this.refuseChunk(command.size, reply, true);
      if (command.verb === 'INVALID' && command.fatal) {
        this.lostFraming(command.reply);
        return;
      }
      return this.fail(reply, true);
    }
    // RFC 5321 §4.1.1.10: QUIT is always answered 221, never taken for one command too many.
    if (!TRANSACTION_OR_QUIT.has(command.verb)) {
      if (++this.commandsWithoutMail > this.options.maxCommandsBeforeMail) {
        this.emitReply(replies.tooManyCommands(this.options.hostname));
        this.close();
        return;
      }
    }
    switch (command.verb) {
      case 'EHLO':
      case 'HELO':
        // RFC 5321 §4.1.4: an accepted EHLO/HELO implies RSET, done when the check accepts it; a
        // refused one leaves the state as it was.
        this.wait(
          { type: 'check', stage: 'helo', helo: command.domain },
          {
            kind: 'helo',
            greeting: command.verb,
            helo: command.domain,
          },
        );
        return;
      case 'MAIL':
        return this.mail(command);
      case 'RCPT':
        return this.rcpt(command.path, command.params);
      case 'DATA':
        return this.data();
      case 'BDAT':
        if (command.refusal) {
          // RFC 3030 §2: a refused BDAT fails the transaction; its chunk is read and discarded, so a
          // client that goes on with the next chunk cannot make a message with one missing.
          this.resetTransaction();
          return this.refuseChunk(command.size, command.refusal);
        }
        return this.bdatCommand(command.size, command.last);
      case 'RSET':
        this.resetTransaction();
        this.emitReply(replies.resetOk());
        // Shutting down (RFC 5321 §3.8): the transaction is over; what is pipelined behind it is not run.
        if (this.draining) this.closeDraining();
        return;
      case 'NOOP':
        return this.emitReply(replies.ok());
      case 'HELP':
        return this.emitReply(
          replies.help([
            // RFC 3030 §2: BDAT is a service extension, refused (502) to a client that greeted with HELO.
            ...(this.greeting?.kind === 'HELO' ? [] : ['BDAT']),
            'RSET',
            'NOOP',
            'QUIT',
            'HELP',
            ...(this.options.vrfy === 'off' ? [] : ['VRFY']),
            ...(this.startTlsOffered ? ['STARTTLS'] : []),
            ...(this.authOffered ? ['AUTH'] : []),
          ]),
        );
      case 'QUIT':
        this.emitReply(replies.closing(this.options.hostname));
        return this.close();
      case 'VRFY':
        // RFC 5321 §3.5.3: 252 neither confirms nor denies; "off" is Postfix's disable_vrfy_command.
        if (this.options.vrfy === 'off') return this.fail(replies.vrfyDisabled());
        if (this.options.vrfy === 'ambiguous') return this.emitReply(replies.vrfyAmbiguous());
        return this.wait({ type: 'check', stage: 'vrfy', argument: command.argument }, { kind: 'vrfy' });
      case 'STARTTLS':
        return this.startTls();
      case 'AUTH':
        return this.auth(command.mechanism, command.initial);
      case 'NOT_IMPLEMENTED':
        return this.fail(replies.notImplemented(command.name));
      case 'INVALID':
        if (command.fatal) this.lostFraming(command.reply);
        else this.fail(command.reply);
        return;
      default:
        return command satisfies never;
    }
  }

  private mail({ path, params: mailParams }: Extract<Command, { verb: 'MAIL' }>): void {
    // Shutting down, a transaction that ended some other way (a refused message, EHLO) starts no new
    // one: 421 (RFC 5321 §3.8).
    if (this.draining) return this.closeDraining();
    if (!this.greeting) return this.fail(replies.needHelo());
    if (this.options.requireTls && !this.secure) {
      // Without a certificate the client cannot comply: our set-up problem defers the mail (4xx) rather
      // than bouncing it with 530 (RFC 3207 §4 gives 454 for TLS not available for a temporary reason).
      return this.fail(this.startTlsOffered ? replies.tlsRequired() : replies.tlsNotAvailable());
    }
    // RFC 6409 §4.3: submission accepts mail from authenticated users only.
    if (this.options.submission && !this.user) return this.fail(replies.authRequired());
    if (this.envelope) return this.fail(replies.nestedMail());
    // After HELO nothing was advertised: SMTPUTF8 would change what the addresses may hold unasked.
    const [extension] = mailParams.keys();
    if (this.greeting.kind === 'HELO' && extension !== undefined)
      return this.fail(replies.extensionNeedsEhlo(`MAIL parameter ${extension}`));
    const params = checkMailParameters(path, mailParams, this.options.maxMessageSize, this.authOffered);
    if ('code' in params) return this.fail(params);
    // RFC 1870 §6.1: a declared size the server cannot take now is a temporary refusal.
    const budget = this.options.contentBudget;
    if (budget && !budget.fits(params.declaredSize ?? 0)) return this.fail(replies.contentMemoryFull());
    this.recipientsAccepted = 0;
    const envelope: Envelope = {
      id: `${this.options.sessionId}-${++this.transactions}`,
      greeting: this.greeting.kind,
      helo: this.greeting.helo,
      mailFrom: path,
      ...params,
      recipients: [],
    };
    this.wait({ type: 'check', stage: 'mail', envelope }, { kind: 'mail', envelope });
  }

  private rcpt(path: Path, params: Params): void {
    if (!this.greeting) return this.fail(replies.needHelo());
    if (!this.envelope) return this.fail(replies.needMail());
    if (this.bdat) return this.fail(replies.badSequence('RCPT after BDAT; send RSET first'));
    // RFC 5321 §4.1.1.3: no RCPT parameters are offered (DSN's NOTIFY/ORCPT are not advertised).
    const [parameter] = params.keys();
    if (parameter !== undefined) return this.fail(replies.unknownParameter(parameter));
    if (path.utf8 && !this.envelope.smtputf8) return this.fail(replies.utf8NotDeclared());
    // RFC 5321 §4.5.3.1.10: 452 for too many recipients; the client sends the rest later.
    if (this.recipientsAccepted >= this.options.maxRecipients) {
      // RFC 5321 §4.5.3.1.10: the client sends the rest in another transaction. Like Postfix's
      // smtpd_recipient_overshoot_limit, so many are not errors: counted as such, a large list would
      // end the session at maxErrors and lose the transaction of the recipients already accepted.
      if (++this.excessRecipients > RECIPIENT_OVERSHOOT)
        return this.fail(replies.tooManyRecipients(this.options.maxRecipients));
      this.out.push({ type: 'reply', reply: replies.tooManyRecipients(this.options.maxRecipients), notAnError: true });
      return;
    }
    this.wait(
      { type: 'check', stage: 'rcpt', envelope: this.envelope, recipient: path },
      { kind: 'rcpt', recipient: path },
    );
  }

  private data(): void {
    if (!this.greeting) return this.fail(replies.needHelo());
    if (!this.envelope) return this.fail(replies.needMail());
    if (this.bdat) return this.fail(replies.mixedDataBdat());
    // RFC 2920 §3.1: with every RCPT refused, DATA gets 554 so pipelined content is not taken as commands.
    if (this.envelope.recipients.length === 0) return this.fail(replies.noValidRecipients());
    // No room for a single octet more: refused before the client sends the content (RFC 5321 §4.1.1.4: 452).
    if (this.options.contentBudget && !this.options.contentBudget.fits(1)) {
      return this.fail(replies.contentMemoryFull());
    }
    this.wait(
      { type: 'check', stage: 'data', envelope: this.envelope, unauthPipelining: this.unauthPipelining },
      { kind: 'data' },
    );
  }

  private startData(): void {
    this.emitReply(replies.startData());
    this.content = this.decoder(true);
    this.phase = { name: 'data', decoder: this.content };
    this.contentBegins();
  }

  private contentBegins(): void {
    this.contentRead = 0;
    this.contentStarts++;
  }

  private bdatCommand(size: number, last: boolean): void {
    if (!this.greeting) return this.refuseChunk(size, replies.needHelo());
    if (this.greeting.kind === 'HELO') return this.refuseChunk(size, replies.bdatNeedsEhlo());
    if (!this.envelope) return this.refuseChunk(size, replies.needMail());
    if (this.envelope.recipients.length === 0) return this.refuseChunk(size, replies.noValidRecipients());
    if (this.bdat) return this.startChunk(size, last);
    // The first chunk starts the content: the data restrictions are asked once, as for DATA.
    this.wait(
      { type: 'check', stage: 'data', envelope: this.envelope, unauthPipelining: this.unauthPipelining },
      { kind: 'bdat', size, last },
    );
  }

  /** RFC 3030 §2: a refused chunk is still read in full, so the session stays in step. */
  private refuseChunk(size: number, reply: Reply, logged?: true): void {
    // Outside a transaction with content (every refusal resets it first): the refused chunk is timed alone.
    if (this.contentRead === undefined) this.contentBegins();
    this.phase = { name: 'discard', remaining: size, reply, logged };
    if (size === 0) this.endOfChunk(this.phase);
  }

  private startChunk(size: number, last: boolean): void {
    // RFC 3030 §2: the chunks to LAST are one message's content, timed as one, as DATA's is.
    if (this.bdat === undefined) this.contentBegins();
    this.bdat ??= this.decoder(false);
    this.content = this.bdat;
    this.phase = { name: 'bdat', decoder: this.bdat, remaining: size, last };
    if (size === 0) this.endOfChunk(this.phase);
  }

  private endOfChunk(phase: Extract<Phase, { name: 'bdat' | 'discard' }>): void {
    this.phase = { name: 'command' };
    if (phase.name === 'discard') {
      if (this.bdat === undefined) this.contentRead = undefined;
      return this.fail(phase.reply, phase.logged);
    }
    if (!phase.last) {
      if (phase.decoder.problem === undefined) return this.emitReply(replies.chunkOk(phase.decoder.decodedSize));
      // RFC 3030 §2: after a refused chunk the transaction is over; later chunks get 503.
      this.resetTransaction();
      return this.fail(contentProblemReply(phase.decoder.problem, this.options.maxMessageSize));
    }
    phase.decoder.finish();
    this.endOfContent(phase.decoder);
  }

  private endOfContent(decoder: ContentDecoder): void {
    this.phase = { name: 'command' };
    this.contentRead = undefined;
    const result = decoder.result();
    if (!result.ok || !this.envelope) {
      this.resetTransaction();
      return this.fail(
        result.ok ? replies.needMail() : contentProblemReply(result.problem, this.options.maxMessageSize),
      );
    }
    this.wait({ type: 'message', envelope: this.envelope, content: result.content }, { kind: 'message' });
  }

  private decoder(dotStuffed: boolean): ContentDecoder {
    return new ContentDecoder({
      maxSize: this.options.maxMessageSize,
      ...(this.options.contentBudget ? { budget: this.options.contentBudget } : {}),
      bareLineEndings: this.options.bareLineEndings,
      dotStuffed,
    });
  }

  private acceptGreeting(kind: 'HELO' | 'EHLO', helo: string): void {
    this.greeting = { kind, helo };
    const host = this.options.hostname;
    const offers = {
      starttls: this.startTlsOffered,
      auth: this.authOffered ? this.mechanisms : [],
    };
    this.emitReply(kind === 'HELO' ? heloReply(host) : ehloReply(host, this.options.maxMessageSize, offers));
  }

  /** RFC 4954 §4 and RFC 8314: AUTH only on a submission listener, and only over TLS. */
  private get authOffered(): boolean {
    return Boolean(this.options.submission && this.secure && this.mechanisms.length > 0);
  }

  /** STARTTLS is on this listener, not yet used, and a certificate is loaded now (it may come later: ACME). */
  private get startTlsOffered(): boolean {
    return this.options.tls === 'starttls' && !this.secure && (this.options.tlsReady?.() ?? true);
  }

  /** RFC 3207 §4: 220, then TLS. What the client sent after STARTTLS is dropped (CVE-2011-0411). */
  private startTls(): void {
    if (this.secure) return this.fail(replies.tlsAlready());
    // No TLS on this listener at all: 502, which a client does not retry (Postfix too); 454 would say
    // "later" (RFC 3207 §4), which never comes.
    if (this.options.tls !== 'starttls') return this.fail(replies.tlsNotConfigured());
    // RFC 3207 §4: 454 when TLS is not available for a temporary reason (no certificate yet).
    if (!this.startTlsOffered) return this.fail(replies.tlsNotAvailable());
    if (this.envelope) return this.fail(replies.badSequence('STARTTLS during a mail transaction; send RSET first'));
    this.emitReply(replies.readyForTls());
    this.wait({ type: 'starttls' }, { kind: 'tls' });
    this.input = NO_INPUT;
  }

  private auth(mechanism: string, initial: Buffer | undefined | null): void {
    if (!this.authOffered) {
      if (!this.options.submission || this.secure) return this.fail(replies.authNotAvailable());
      // RFC 3207 §4: 454 while STARTTLS cannot be offered (no certificate yet); "issue STARTTLS first"
      // would send the client to a command it is refused.
      const noTlsYet = this.options.tls === 'starttls' && !this.startTlsOffered;
      return this.fail(noTlsYet ? replies.tlsNotAvailable() : replies.tlsRequired());
    }
    if (!this.greeting) return this.fail(replies.needHelo());
    if (this.user) return this.fail(replies.authAlready());
    if (this.envelope) return this.fail(replies.authInTransaction());
    // RFC 4954 §4: a mechanism the server does not support is 504, whatever its initial response.
    if (!this.mechanisms.includes(mechanism)) return this.fail(replies.authUnknownMechanism(mechanism));
    if (initial === null) return this.fail(replies.authBadBase64());
    this.wait({ type: 'auth', mechanism, response: initial, first: true }, { kind: 'auth', mechanism, final: false });
  }

  /** One SASL response line: base64, or "*" to cancel (RFC 4954 §4). */
  private saslLine(offset: number, phase: Extract<Phase, { name: 'sasl' }>): number {
    const framed = frameCommandLine(this.input, offset, false, MAX_SASL_LINE);
    if (framed.kind === 'incomplete') {
      if (this.input.length - offset < MAX_SASL_LINE) return -1;
      this.phase = { name: 'command' };
      this.fail(replies.authLineTooLong());
      // The rest of the response, however long, is skipped up to its LF: none of it is a command.
      this.skippingLongLine = true;
      return this.input.length;
    }
    this.phase = { name: 'command' };
    if (framed.kind === 'problem') {
      // RFC 4954 §4: a response line over the limit gets 500 5.5.6, whether or not its end came with it.
      this.fail(framed.problem === 'too-long' ? replies.authLineTooLong() : LINE_PROBLEM_REPLIES[framed.problem]());
      return framed.next;
    }
    const text = framed.text.trim();
    if (text === '*') {
      this.fail(replies.authAborted());
      return framed.next;
    }
    const response = decodeBase64(text);
    if (!response) {
      this.fail(replies.authBadBase64());
      return framed.next;
    }
    if (phase.final !== undefined) {
      // The client acknowledged our last data with an empty response: now the 235 (RFC 4954 §4).
      if (response.length > 0) this.fail(replies.authFailed());
      else this.loggedIn(phase.final);
      return framed.next;
    }
    this.wait(
      { type: 'auth', mechanism: phase.mechanism, response, first: false },
      { kind: 'auth', mechanism: phase.mechanism, final: false },
    );
    return framed.next;
  }

  private authStep(
    pending: Extract<Pending, { kind: 'auth' }>,
    outcome: CheckOutcome | MessageOutcome | AuthOutcome,
  ): void {
    switch (outcome.action) {
      case 'challenge':
        this.emitReply(replies.authChallenge(outcome.data));
        this.phase = { name: 'sasl', mechanism: pending.mechanism };
        return;
      case 'success':
        if (outcome.data && outcome.data.length > 0) {
          this.emitReply(replies.authChallenge(outcome.data));
          this.phase = { name: 'sasl', mechanism: pending.mechanism, final: outcome.username };
          return;
        }
        return this.loggedIn(outcome.username);
      case 'reject':
      case 'disconnect':
        return this.fail(outcome.reply, outcome.logged);
      default:
        return this.fail(replies.localError());
    }
  }

  private loggedIn(username: string): void {
    this.user = username;
    this.emitReply(replies.authOk());
  }

  private resetTransaction(): void {
    this.envelope = undefined;
    this.bdat = undefined;
    this.contentRead = undefined;
    this.content?.release();
    this.content = undefined;
  }

  private wait(effect: Effect, pending: Pending): void {
    this.out.push(effect);
    this.phase = { name: 'waiting', pending };
  }

  private emitReply(reply: Reply): void {
    this.out.push({ type: 'reply', reply });
  }

  /**
   * A reply to the client's error; too many of them end the session (Postfix smtpd_hard_error_limit).
   * `logged`: its reason is in the log already (effects.ts).
   */
  private fail(reply: Reply, logged?: true): void {
    this.out.push(replyEffect(reply, logged));
    if (++this.errors >= this.options.maxErrors && this.phase.name !== 'closed') {
      this.emitReply(replies.tooManyErrors(this.options.hostname));
      this.close();
    }
  }

  private close(): void {
    this.released();
    this.contentRead = undefined;
    this.phase = { name: 'closed' };
    this.out.push({ type: 'close' });
  }

  private flush(): Effect[] {
    const out = this.out;
    this.out = [];
    return out;
  }
}

/**
 * A recipient domain as it names a host: NFC (RFC 5891 §5.2), then A-labels (RFC 5890 §2.3.2.1), so
 * that a U-label, its NFD spelling and its A-label compare equal. parsePath lower-cased the text; a
 * name that does not convert is compared as it is.
 */
function domainKey(domain: string): string {
  return asciiName(domain.normalize('NFC')) ?? domain;
}

function replyEffect(reply: Reply, logged: true | undefined): Effect {
  return logged ? { type: 'reply', reply, logged } : { type: 'reply', reply };
}
