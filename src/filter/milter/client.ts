/**
 * The MTA side of a milter conversation (Sendmail libmilter protocol v6, include/libmilter/mfdef.h; the
 * order of steps is libmilter's, docs/api.html "xxfi_*" callbacks): SMFIC_OPTNEG, then per connection
 * connect and helo, per message mail, rcpt…, data, header…, eoh, body…, eom, and SMFIC_ABORT or QUIT.
 * The steps the milter declined in negotiation (SMFIP_NO*) are not sent; those it will not answer
 * (SMFIP_NR_*) are sent without waiting. It does not decide what a verdict means for the SMTP session.
 */
import net from 'node:net';
import { MilterProtocolError, type MilterStage, MilterTimeoutError, MilterUnavailableError } from './errors.ts';
import {
  action,
  CHUNK_SIZE,
  type Command,
  command,
  cstrings,
  encodePacket,
  MILTER_VERSION,
  OFFERED_ACTIONS,
  OFFERED_PROTOCOL,
  type Packet,
  PacketReader,
  protocol,
  reply,
  splitCStrings,
  uint32,
} from './protocol.ts';

/** A reply the milter gave at a step. SMFIR_REPLYCODE becomes reject (5xx) or tempfail (4xx) with its text. */
export type MilterVerdict =
  | { action: 'continue' | 'accept' | 'discard' }
  | { action: 'reject' | 'tempfail'; reply?: MilterReplyCode };

/** SMFIR_REPLYCODE as libmilter's smfi_setreply/smfi_setmlreply formats it: "550 5.7.1 text" (CRLF between lines). */
export interface MilterReplyCode {
  code: number;
  /** RFC 3463, of the code's class: the milter's, or x.7.1 when it gave none (parseReplyCode). */
  enhanced: string;
  /** The text of each line, without code and enhanced code. */
  lines: string[];
}

/**
 * A change asked for at eom. Header values are what follows the colon, with folding as CRLF: the client
 * adds the space after the colon itself unless SMFIP_HDR_LEADSPC was agreed (then the milter includes it).
 */
export type Modification =
  | { type: 'addheader'; name: string; value: string }
  | { type: 'insheader'; index: number; name: string; value: string }
  | { type: 'chgheader'; index: number; name: string; value: string }
  | { type: 'replbody'; body: Buffer }
  | { type: 'chgfrom'; from: string; args?: string }
  | { type: 'addrcpt'; rcpt: string; args?: string }
  | { type: 'delrcpt'; rcpt: string };

export interface EomResult {
  verdict: MilterVerdict;
  modifications: Modification[];
  /** SMFIR_QUARANTINE: hold the message, with the milter's reason. */
  quarantine?: string;
  /**
   * Changes the milter sent without having negotiated the action (SMFIF_*), left out: one line each,
   * once per message, for the caller to log.
   */
  ignored?: string[];
}

/** Macros by name as libmilter's smfi_getsymval knows them: `i`, `j`, `{auth_authen}`, `{client_addr}`… */
export type Macros = Record<string, string | undefined>;

export interface ConnectInfo {
  hostname: string;
  /** Absent for an unknown peer (family 'U'). A path for a unix socket peer (family 'L'). */
  address?: string;
  port?: number;
}

export interface MilterTimeouts {
  connectMs: number;
  /** For each reply; SMFIR_PROGRESS starts it again. */
  replyMs: number;
  /** From mail to the eom verdict. */
  messageMs: number;
}

export interface MilterClientOptions {
  /** Sendmail/Postfix socket syntax: `inet:port@host`, `inet6:port@host`, `unix:/path` or `local:/path`. */
  socket: string;
  timeouts?: Partial<MilterTimeouts>;
  /**
   * The largest replacement body (SMFIR_REPLBODY, all packets of one eom together) in octets: a larger
   * one fails the milter (MilterProtocolError), for the caller's default, as a message over the size
   * limit would be refused. The server passes smtp.maxMessageSize.
   */
  maxBodySize?: number;
}

/** Postfix's milter_connect_timeout (30 s) and milter_content_timeout (300 s) would hold SMTP clients too long. */
const DEFAULT_TIMEOUTS: MilterTimeouts = { connectMs: 10_000, replyMs: 30_000, messageMs: 120_000 };
/** The NUL that ends each string of a milter packet (libmilter mfapi). */
const NUL = Buffer.alloc(1);
/** smtp.maxMessageSize's default, for a client opened without maxBodySize. */
const DEFAULT_MAX_BODY_SIZE = 25 * 1024 * 1024;
/**
 * Replies read at eom between two turns of the event loop: a milter may send a replacement body in
 * thousands of small SMFIR_REPLBODY packets, all queued at once, and reading them in one go held
 * every other session up.
 */
const PACKETS_PER_TURN = 64;
/** Replies queued unread before the socket is paused (#queue). */
const QUEUE_PAUSE = 4096;
/**
 * Modification packets one eom may carry, SMFIR_REPLBODY aside (bounded by maxBodySize): ten times the
 * 1,000 fields a header may hold (HEADER_LIMITS). Unbounded, 100,000 SMFIR_ADDHEADER made a header of
 * 100,010 fields, and every packet is held until the verdict.
 */
export const MAX_MODIFICATIONS = 10_000;
/** What each change needs to have been negotiated, by reply code, named as mfdef.h names them. */
const NEEDS: Record<string, { reply: string; flag: string; bit: number }> = {
  [reply.addheader]: { reply: 'SMFIR_ADDHEADER', flag: 'SMFIF_ADDHDRS', bit: action.addhdrs },
  [reply.insheader]: { reply: 'SMFIR_INSHEADER', flag: 'SMFIF_ADDHDRS', bit: action.addhdrs },
  [reply.chgheader]: { reply: 'SMFIR_CHGHEADER', flag: 'SMFIF_CHGHDRS', bit: action.chghdrs },
  [reply.replbody]: { reply: 'SMFIR_REPLBODY', flag: 'SMFIF_CHGBODY', bit: action.chgbody },
  [reply.chgfrom]: { reply: 'SMFIR_CHGFROM', flag: 'SMFIF_CHGFROM', bit: action.chgfrom },
  [reply.addrcpt]: { reply: 'SMFIR_ADDRCPT', flag: 'SMFIF_ADDRCPT', bit: action.addrcpt | action.addrcptPar },
  [reply.addrcptPar]: {
    reply: 'SMFIR_ADDRCPT_PAR',
    flag: 'SMFIF_ADDRCPT_PAR',
    bit: action.addrcpt | action.addrcptPar,
  },
  [reply.delrcpt]: { reply: 'SMFIR_DELRCPT', flag: 'SMFIF_DELRCPT', bit: action.delrcpt },
  [reply.quarantine]: { reply: 'SMFIR_QUARANTINE', flag: 'SMFIF_QUARANTINE', bit: action.quarantine },
};

export interface Negotiated {
  version: number;
  actions: number;
  protocol: number;
}

type Waiter = { resolve: (p: Packet) => void; reject: (e: Error) => void };

export class MilterClient {
  readonly negotiated: Negotiated;
  /**
   * What the milter did in negotiation that we passed over (protocol flags we did not offer), once per
   * connection, for the caller to log.
   */
  readonly warnings: string[] = [];
  /** The steps not sent: those the milter declined (SMFIP_NO*) and those its version does not know. */
  #unsent = 0;
  readonly #socket: net.Socket;
  readonly #timeouts: MilterTimeouts;
  readonly #maxBodySize: number;
  /**
   * Replies read but not yet asked for, from #queueHead on: Array.shift on a long queue of small
   * SMFIR_REPLBODY packets moved all the rest each time. Past QUEUE_PAUSE of them the socket is paused
   * until half are read, so a milter cannot fill our memory faster than eom takes them.
   */
  #queue: (Packet | undefined)[] = [];
  #queueHead = 0;
  #waiter: Waiter | undefined;
  #failure: Error | undefined;
  /** A verdict for the rest of the connection (accept at connect/helo, reject or tempfail at connect). */
  #connectionSettled: MilterVerdict | undefined;
  /** A verdict for the rest of the message; undefined while the milter still wants to see it. */
  #messageSettled: MilterVerdict | undefined;
  #inMessage = false;
  #deadline = Number.POSITIVE_INFINITY;

  private constructor(socket: net.Socket, timeouts: MilterTimeouts, negotiated: Negotiated, maxBodySize: number) {
    this.#socket = socket;
    this.#timeouts = timeouts;
    this.#maxBodySize = maxBodySize;
    this.negotiated = negotiated;
    const reader = new PacketReader();
    socket.on('data', (chunk: Buffer) => {
      let packets: Packet[];
      try {
        packets = reader.push(chunk);
      } catch (err) {
        this.#onFailure(new MilterProtocolError('open', (err as Error).message));
        socket.destroy();
        return;
      }
      for (const p of packets) this.#onPacket(p);
    });
    socket.on('error', (err) => this.#onFailure(err));
    socket.on('close', () => this.#onFailure(new Error('connection closed by the milter')));
  }

  /** Connects and negotiates. Throws MilterUnavailableError (stage `open` or `negotiate`) if it cannot. */
  static async open(options: MilterClientOptions): Promise<MilterClient> {
    const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    const socket = await openSocket(options.socket, timeouts.connectMs);
    const client = new MilterClient(
      socket,
      timeouts,
      { version: 0, actions: 0, protocol: 0 },
      options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE,
    );
    try {
      // SMFIC_OPTNEG: our version, the actions we can carry out, the protocol steps we can leave out.
      client.#send(
        command.optneg,
        Buffer.concat([uint32(MILTER_VERSION), uint32(OFFERED_ACTIONS), uint32(OFFERED_PROTOCOL)]),
      );
      const packet = await client.#next('negotiate', timeouts.replyMs);
      if (packet.code !== reply.optneg || packet.data.length < 12) {
        throw new MilterProtocolError('negotiate', `expected SMFIC_OPTNEG, got '${packet.code}'`);
      }
      const version = packet.data.readUInt32BE(0);
      // Versions 2 to 6 share this framing; a milter may not ask for a later version than we offered
      // (libmilter refuses such a filter at its own end, Sendmail at ours: milter.c milter_negotiate).
      if (version < 2 || version > MILTER_VERSION) throw new MilterProtocolError('negotiate', `version ${version}`);
      const actions = packet.data.readUInt32BE(4) & OFFERED_ACTIONS;
      const asked = packet.data.readUInt32BE(8);
      // Protocol bits we did not offer (SMFIP_RCPT_REJ, the MDS_* sizes) ask us to do something we do
      // not; they ask nothing of the milter, so they are left out and the milter goes on, as Postfix
      // (milter8.c) goes on, noting them only in verbose logging. Here once per connection.
      const steps = (asked & OFFERED_PROTOCOL) >>> 0;
      if (steps !== asked) {
        client.warnings.push(
          `milter asked for protocol flags 0x${((asked & ~OFFERED_PROTOCOL) >>> 0).toString(16)} we did not offer: ignored`,
        );
      }
      // Any symbol lists after the 12 bytes (SMFIF_SETSYMLIST) are ignored: we did not offer the action.
      (client as { negotiated: Negotiated }).negotiated = { version, actions, protocol: steps };
      // Postfix milter8.c: "We must send only events that are defined for the specified protocol
      // version". SMFIC_DATA came with version 4 and SMFIC_UNKNOWN with 3; an older libmilter drops the
      // connection on a command it does not know, so those are left out as if the milter declined them.
      client.#unsent = steps | (version < 4 ? protocol.nodata : 0) | (version < 3 ? protocol.nounknown : 0);
      return client;
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  /** SMFIC_CONNECT: hostname, family ('4', '6', 'L' or 'U'), port, address. */
  async connect(info: ConnectInfo, macros: Macros = {}): Promise<MilterVerdict> {
    if (this.#connectionSettled) return this.#connectionSettled;
    const family =
      info.address === undefined ? 'U' : net.isIPv4(info.address) ? '4' : net.isIPv6(info.address) ? '6' : 'L';
    const data =
      family === 'U'
        ? Buffer.concat([cstrings(info.hostname), Buffer.from('U')])
        : Buffer.concat([
            cstrings(info.hostname),
            Buffer.from(family),
            port16(info.port ?? 0),
            cstrings(info.address ?? ''),
          ]);
    const verdict = await this.#step('connect', command.connect, data, macros, protocol.noconnect, protocol.nrConn);
    // At connect every verdict but continue is for the whole connection (libmilter docs, xxfi_connect).
    // Discard is not one of them: there is no message to drop yet, and Postfix (milter8.c) warns and
    // goes on. The caller hears it, to warn; the connection stays open to the message.
    if (verdict.action !== 'continue' && verdict.action !== 'discard') this.#connectionSettled = verdict;
    return verdict;
  }

  async helo(name: string, macros: Macros = {}): Promise<MilterVerdict> {
    if (this.#connectionSettled) return this.#connectionSettled;
    const verdict = await this.#step('helo', command.helo, cstrings(name), macros, protocol.nohelo, protocol.nrHelo);
    if (verdict.action === 'accept') this.#connectionSettled = verdict;
    return verdict;
  }

  /** SMFIC_MAIL: the reverse path in angle brackets, then its ESMTP parameters. Aborts an unfinished message. */
  async mail(from: string, args: string[] = [], macros: Macros = {}): Promise<MilterVerdict> {
    if (this.#inMessage) await this.abort();
    if (this.#connectionSettled) return this.#connectionSettled;
    this.#inMessage = true;
    this.#messageSettled = undefined;
    this.#deadline = Date.now() + this.#timeouts.messageMs;
    return this.#messageStep(
      'mail',
      command.mail,
      cstrings(bracket(from), ...args),
      macros,
      protocol.nomail,
      protocol.nrMail,
    );
  }

  /** A reject or tempfail here refuses this recipient only (xxfi_envrcpt); the message goes on. */
  async rcpt(to: string, args: string[] = [], macros: Macros = {}): Promise<MilterVerdict> {
    const settled = this.#settled();
    if (settled) return settled;
    const verdict = await this.#step(
      'rcpt',
      command.rcpt,
      cstrings(bracket(to), ...args),
      macros,
      protocol.norcpt,
      protocol.nrRcpt,
    );
    if (verdict.action === 'accept' || verdict.action === 'discard') this.#messageSettled = verdict;
    return verdict;
  }

  async data(macros: Macros = {}): Promise<MilterVerdict> {
    return this.#messageStep('data', command.data, Buffer.alloc(0), macros, protocol.nodata, protocol.nrData);
  }

  /**
   * One header field: its name and everything after the colon, as received (CRLF folding allowed),
   * one char per octet (latin1): the octets go to the milter unchanged.
   */
  async header(name: string, value: string): Promise<MilterVerdict> {
    // Sendmail and Postfix hand a milter folded values with bare LF, and without the one space after
    // the colon unless the milter asked for it (SMFIP_HDR_LEADSPC, mfdef.h): exactly one SPACE, never
    // a TAB nor a second space (Postfix milter8.c milter8_header: "eats one space (not tab)").
    let v = value.replace(/\r\n/g, '\n');
    if (!(this.negotiated.protocol & protocol.hdrLeadspc) && v.startsWith(' ')) v = v.slice(1);
    // libmilter hands the milter C strings: a NUL inside would end the value there, and the milter would
    // judge "hello" of a stored "hello\0 buy SPAM now". As a space, all the stored text is seen.
    const payload = Buffer.concat([
      Buffer.from(name.replaceAll('\0', ' '), 'latin1'),
      NUL,
      Buffer.from(v.replaceAll('\0', ' '), 'latin1'),
      NUL,
    ]);
    return this.#messageStep('header', command.header, payload, {}, protocol.nohdrs, protocol.nrHdr);
  }

  async eoh(macros: Macros = {}): Promise<MilterVerdict> {
    return this.#messageStep('eoh', command.eoh, Buffer.alloc(0), macros, protocol.noeoh, protocol.nrEoh);
  }

  /** The body (CRLF line ends, as on the wire less dot-stuffing), sent in chunks of at most 65535 bytes. */
  async body(content: Uint8Array): Promise<MilterVerdict> {
    for (let at = 0; at < content.length; at += CHUNK_SIZE) {
      const settled = this.#settled();
      if (settled) return settled;
      if (this.negotiated.protocol & protocol.nobody) break;
      const chunk = Buffer.from(content.subarray(at, at + CHUNK_SIZE));
      const verdict = await this.#messageStep('body', command.body, chunk, {}, protocol.nobody, protocol.nrBody, true);
      if (verdict.action !== 'continue') return verdict;
      if (this.#skipBody) break;
    }
    return this.#settled() ?? { action: 'continue' };
  }

  /** SMFIC_BODYEOB, then the modifications and the verdict. Ends the message. */
  async eom(macros: Macros = {}): Promise<EomResult> {
    const settled = this.#settled();
    if (settled) {
      this.#endMessage();
      return { verdict: settled, modifications: [] };
    }
    this.#sendMacros(command.bodyeob, macros);
    this.#send(command.bodyeob);
    const modifications: Modification[] = [];
    let quarantine: string | undefined;
    const allowed = this.negotiated.actions;
    // Every SMFIR_REPLBODY of this eom makes one new body (smfi_replacebody appends at each call),
    // joined once at the end: joined packet by packet, a 24 MiB body in 64 KiB packets took 43 s.
    let replacement: { at: number; chunks: Buffer[]; size: number } | undefined;
    let changes = 0;
    const ignored = new Set<string>();
    for (let read = 1; ; read++) {
      if (read % PACKETS_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const packet = await this.#reply('eom');
      const parts = () => splitCStrings(packet.data);
      // Header names and values one char per octet (protocol.ts splitCStrings): 8-bit octets kept.
      const fieldParts = (at: number) => splitCStrings(packet.data.subarray(at), 'latin1');
      const needs = NEEDS[packet.code];
      if (needs && packet.code !== reply.replbody && ++changes > MAX_MODIFICATIONS) {
        throw this.#fail(
          new MilterProtocolError('eom', `more than ${MAX_MODIFICATIONS} header, envelope or quarantine changes`),
        );
      }
      if (needs && !(allowed & needs.bit)) {
        // Not done (the milter did not ask for the right to), but said: a milter that believes it
        // quarantined or tagged a message should not be silently ignored.
        ignored.add(`${needs.reply} without ${needs.flag} negotiated: ignored`);
        continue;
      }
      switch (packet.code) {
        case reply.addheader:
          modifications.push({ type: 'addheader', ...this.#field(fieldParts(0)) });
          continue;
        case reply.insheader:
          modifications.push({ type: 'insheader', index: this.#index(packet), ...this.#field(fieldParts(4)) });
          continue;
        case reply.chgheader:
          modifications.push({ type: 'chgheader', index: this.#index(packet), ...this.#field(fieldParts(4)) });
          continue;
        case reply.replbody: {
          if (!replacement) {
            replacement = { at: modifications.length, chunks: [], size: 0 };
            modifications.push({ type: 'replbody', body: Buffer.alloc(0) }); // its place; the body comes at the end
          }
          replacement.size += packet.data.length;
          if (replacement.size > this.#maxBodySize) {
            // Larger than any message we take: a broken milter, or one made to exhaust our memory.
            throw this.#fail(
              new MilterProtocolError(
                'eom',
                `replacement body over ${this.#maxBodySize} octets (the message size limit)`,
              ),
            );
          }
          replacement.chunks.push(packet.data);
          continue;
        }
        case reply.chgfrom: {
          const [from = '', args] = parts();
          modifications.push({ type: 'chgfrom', from, ...(args ? { args } : {}) });
          continue;
        }
        case reply.addrcpt:
        case reply.addrcptPar: {
          const [rcpt = '', args] = parts();
          modifications.push({ type: 'addrcpt', rcpt, ...(args ? { args } : {}) });
          continue;
        }
        case reply.delrcpt:
          modifications.push({ type: 'delrcpt', rcpt: parts()[0] ?? '' });
          continue;
        case reply.quarantine:
          quarantine = parts()[0] ?? '';
          continue;
        default: {
          const verdict = this.#verdict('eom', packet);
          this.#endMessage();
          if (replacement) {
            modifications[replacement.at] = {
              type: 'replbody',
              body: Buffer.concat(replacement.chunks, replacement.size),
            };
          }
          return {
            verdict,
            modifications,
            ...(quarantine !== undefined ? { quarantine } : {}),
            ...(ignored.size > 0 ? { ignored: [...ignored] } : {}),
          };
        }
      }
    }
  }

  /** SMFIC_ABORT: forget the current message (RSET, or a transaction refused before eom). */
  async abort(): Promise<void> {
    if (!this.#inMessage) return;
    this.#endMessage();
    this.#send(command.abort); // libmilter does not answer an abort (engine.c: ST_ABRT)
  }

  /** SMFIC_QUIT and close. */
  async quit(): Promise<void> {
    if (!this.#failure) this.#socket.end(encodePacket(command.quit));
    this.#failure ??= new MilterUnavailableError('quit', 'closed');
    await new Promise<void>((resolve) => {
      if (this.#socket.closed) resolve();
      else this.#socket.once('close', () => resolve());
      setTimeout(() => this.#socket.destroy(), 1000).unref();
    });
  }

  /** Drops the connection without a word (after a failure). */
  destroy(): void {
    this.#failure ??= new MilterUnavailableError('quit', 'destroyed');
    this.#socket.destroy();
  }

  #skipBody = false;

  #settled(): MilterVerdict | undefined {
    return this.#connectionSettled ?? this.#messageSettled;
  }

  #endMessage(): void {
    this.#inMessage = false;
    this.#messageSettled = undefined;
    this.#skipBody = false;
    this.#deadline = Number.POSITIVE_INFINITY;
  }

  async #messageStep(
    stage: MilterStage,
    code: Command,
    data: Buffer,
    macros: Macros,
    skip: number,
    noReply: number,
    body = false,
  ): Promise<MilterVerdict> {
    const settled = this.#settled();
    if (settled) return settled;
    const verdict = await this.#step(stage, code, data, macros, skip, noReply, body);
    if (verdict.action !== 'continue') this.#messageSettled = verdict;
    return verdict;
  }

  async #step(
    stage: MilterStage,
    code: Command,
    data: Buffer,
    macros: Macros,
    skip: number,
    noReply: number,
    body = false,
  ): Promise<MilterVerdict> {
    // Macros go even for a step the milter skips: it may read them later (smfi_getsymval at eom).
    this.#sendMacros(code, macros);
    if (this.#unsent & skip) return { action: 'continue' };
    this.#send(code, data);
    if (this.negotiated.protocol & noReply) return { action: 'continue' };
    const packet = await this.#reply(stage);
    if (body && packet.code === reply.skip) {
      this.#skipBody = true; // SMFIR_SKIP: no more body chunks, go on to eom (SMFIP_SKIP, offered)
      return { action: 'continue' };
    }
    return this.#verdict(stage, packet);
  }

  #verdict(stage: MilterStage, packet: Packet): MilterVerdict {
    switch (packet.code) {
      case reply.continue:
        return { action: 'continue' };
      case reply.accept:
        return { action: 'accept' };
      case reply.discard:
        return { action: 'discard' };
      case reply.reject:
        return { action: 'reject' };
      case reply.tempfail:
        return { action: 'tempfail' };
      case reply.replycode: {
        const text = splitCStrings(packet.data)[0] ?? '';
        const parsed = parseReplyCode(text);
        // Postfix (milter8.c) takes a malformed reply as a broken milter: its default action.
        if (!parsed)
          throw this.#fail(
            new MilterProtocolError(stage, `malformed SMFIR_REPLYCODE ${JSON.stringify(text.slice(0, 100))}`),
          );
        return { action: parsed.code >= 500 ? 'reject' : 'tempfail', reply: parsed };
      }
      case reply.connFail:
        // SMFIR_CONN_FAIL: fail the connection; the nearest we have is a temporary failure.
        this.#connectionSettled = { action: 'tempfail' };
        return { action: 'tempfail' };
      case reply.shutdown:
        this.destroy();
        throw new MilterUnavailableError(stage, 'milter shut down (SMFIR_SHUTDOWN)');
      default:
        throw new MilterProtocolError(stage, `unexpected reply '${packet.code}'`);
    }
  }

  #field(parts: string[]): { name: string; value: string } {
    // More than two strings: a NUL inside the value. Kept, for modify.ts to refuse the change, as
    // Sendmail refuses such a header ("mismatched data") rather than keeping a part of it.
    const [name = '', ...rest] = parts;
    const value = rest.join('\0');
    // Back to the wire form: CRLF folding, and the space after the colon unless the milter supplies it.
    let v = value.replace(/\r?\n/g, '\r\n');
    if (!(this.negotiated.protocol & protocol.hdrLeadspc) && v !== '') v = ` ${v}`;
    return { name, value: v };
  }

  #index(packet: Packet): number {
    if (packet.data.length < 4) throw new MilterProtocolError('eom', `short '${packet.code}' reply`);
    return packet.data.readUInt32BE(0);
  }

  #sendMacros(code: Command, macros: Macros): void {
    const pairs = Object.entries(macros).flatMap(([name, value]) => (value === undefined ? [] : [name, value]));
    if (pairs.length === 0) return;
    // SMFIC_MACRO: the command it belongs to, then name/value pairs (multi-letter names in braces).
    this.#send(command.macro, Buffer.concat([Buffer.from(code), cstrings(...pairs)]), STAGE_OF[code]);
  }

  #send(code: Command, data?: Buffer, stage: MilterStage = STAGE_OF[code]): void {
    if (this.#failure) throw this.#relabel(this.#failure, stage);
    this.#socket.write(encodePacket(code, data));
  }

  /**
   * The next reply, SMFIR_PROGRESS skipped; the reply timer restarts after each progress, within the
   * message's deadline. Outside a message (connect, helo) there is no such deadline, and libmilter
   * sends progress only from xxfi_eom (docs/smfi_progress.html): there a reply is awaited for the
   * reply time at most, progress or not, so that a milter repeating it cannot hold the SMTP client forever.
   */
  async #reply(stage: MilterStage): Promise<Packet> {
    const inMessage = Number.isFinite(this.#deadline);
    const replyMs = this.#timeouts.replyMs;
    const deadline = inMessage ? this.#deadline : Date.now() + replyMs;
    // Said so when the message's time ran out, not the step's: "no reply in 194 ms" after a milter's
    // steady progress pointed the admin at the wrong setting.
    const messageTimeout = `message timeout reached (messageTimeoutMs, ${this.#timeouts.messageMs} ms from MAIL)`;
    const timeout = inMessage ? messageTimeout : `no reply in ${replyMs} ms`;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw this.#fail(new MilterTimeoutError(stage, timeout));
      // Outside a message the step's own deadline holds: a progress 1.9 s into a 2 s replyMs left
      // 0.1 s, not another 2 s.
      const byDeadline = !inMessage || left < replyMs;
      const packet = await this.#next(stage, byDeadline ? left : replyMs, byDeadline ? timeout : undefined);
      if (packet.code !== reply.progress) return packet;
    }
  }

  /** `timeoutText`: what a timeout says instead of the step's "no reply in N ms". */
  #next(stage: MilterStage, ms: number, timeoutText?: string): Promise<Packet> {
    const queued = this.#dequeue();
    if (queued) return Promise.resolve(queued);
    if (this.#failure) return Promise.reject(this.#relabel(this.#failure, stage));
    return new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(this.#fail(new MilterTimeoutError(stage, timeoutText ?? `no reply in ${ms} ms`)));
      }, ms);
      this.#waiter = {
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(this.#relabel(e, stage));
        },
      };
    });
  }

  /** A failure breaks the conversation: libmilter cannot resynchronise, so the connection goes. */
  #fail(err: MilterUnavailableError): MilterUnavailableError {
    this.#failure ??= err;
    this.#socket.destroy();
    return err;
  }

  #relabel(err: Error, stage: MilterStage): Error {
    return err instanceof MilterUnavailableError ? err : new MilterUnavailableError(stage, err.message, { cause: err });
  }

  #onPacket(packet: Packet): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter.resolve(packet);
    } else {
      this.#queue.push(packet);
      if (this.#queue.length - this.#queueHead > QUEUE_PAUSE) this.#socket.pause();
    }
  }

  #dequeue(): Packet | undefined {
    const packet = this.#queue[this.#queueHead];
    if (!packet) return undefined;
    this.#queue[this.#queueHead++] = undefined;
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else if (this.#queueHead >= QUEUE_PAUSE && this.#queueHead * 2 >= this.#queue.length) {
      // Read ones dropped now and then, each in one copy, for a queue that never quite empties.
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    if (this.#socket.isPaused() && this.#queue.length - this.#queueHead <= QUEUE_PAUSE / 2) this.#socket.resume();
    return packet;
  }

  #onFailure(err: Error): void {
    this.#failure ??= err;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(err);
  }
}

/** The stage a command belongs to, for errors raised while sending it. */
const STAGE_OF: Record<Command, MilterStage> = {
  A: 'abort',
  B: 'body',
  C: 'connect',
  D: 'open',
  E: 'eom',
  H: 'helo',
  L: 'header',
  M: 'mail',
  N: 'eoh',
  O: 'negotiate',
  Q: 'quit',
  R: 'rcpt',
  T: 'data',
};

function port16(port: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(port, 0);
  return b;
}

/** Sendmail passes addresses in angle brackets; an empty reverse path is `<>`. */
function bracket(address: string): string {
  return address.startsWith('<') ? address : `<${address}>`;
}

/** Sendmail's smfi_setmlreply takes at most 32 lines; more is not a milter's reply. */
const MAX_REPLY_LINES = 32;
/** RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets; renderReply shortens further to fit. */
const MAX_REPLY_LINE = 512;

/**
 * "550 5.7.1 text" or multi-line "550-5.7.1 a\r\n550 5.7.1 b" (smfi_setmlreply), undefined when
 * malformed, as Postfix's milter8.c has it: a code of class 4 or 5, the same on every line, and an
 * enhanced status code (RFC 3463) of the same class; one of another class ("550 4.7.1", "450 5.7.1")
 * says one thing in the code and another in the enhanced code. A reply without one gets x.7.1 of its
 * class, the code Postfix and Sendmail give a milter's refusal. `%%` is `%` (Sendmail reads the text
 * as a format, so libmilter users double it; Postfix undoes that and drops a lone `%`). At most 32
 * lines are kept, each cut to 512 octets, so a 1 MiB reply never becomes a 1 MiB SMTP reply.
 */
export function parseReplyCode(text: string): MilterReplyCode | undefined {
  const lines = text
    .replace(/%(%?)/g, '$1')
    .split(/\r?\n/)
    .filter((l) => l !== '')
    .slice(0, MAX_REPLY_LINES);
  const first = /^([45])\d\d(?:[ -]|$)/.exec(lines[0] ?? '');
  if (!first) return undefined;
  const code = (lines[0] as string).slice(0, 3);
  const replyClass = first[1] as string;
  let enhanced: string | undefined;
  const texts: string[] = [];
  for (const line of lines) {
    // `s`: the text may hold U+2028 or U+2029, which `.` would not match (the whole line then became
    // the text, its code and enhanced code repeated in it).
    const m = /^(\d{3})(?:[ -]|$)(?:(\d)\.(\d{1,3}\.\d{1,3})(?: |$))?(.*)$/s.exec(line);
    if (!m || m[1] !== code) return undefined;
    if (m[2] !== undefined) {
      if (m[2] !== replyClass) return undefined;
      enhanced ??= `${m[2]}.${m[3]}`;
    }
    // RFC 5321 §4.2.1: a reply line ends at its text; "550" alone gave "550 5.7.1 " with a trailing
    // space. A line without text says nothing and is left out.
    const said = (m[4] ?? '').slice(0, MAX_REPLY_LINE).trimEnd();
    if (said !== '') texts.push(said);
  }
  // Without any text: what Sendmail and Postfix answer for SMFIR_REJECT and SMFIR_TEMPFAIL.
  if (texts.length === 0) texts.push(replyClass === '5' ? 'Command rejected' : 'Service unavailable - try again later');
  return { code: Number(code), enhanced: enhanced ?? `${replyClass}.7.1`, lines: texts };
}

/** `inet:port@host`, `inet6:port@host`, `unix:/path`, `local:/path` (Sendmail's X option, Postfix's smtpd_milters). */
export function parseSocketSpec(spec: string): net.NetConnectOpts {
  const m = /^(inet6?|unix|local):(.+)$/.exec(spec);
  if (!m) throw new Error(`milter socket ${spec}: expected inet:port@host or unix:/path`);
  if (m[1] === 'unix' || m[1] === 'local') return { path: m[2] as string };
  const at = /^(\d+)@(.+)$/.exec(m[2] as string);
  if (!at) throw new Error(`milter socket ${spec}: expected port@host`);
  return { port: Number(at[1]), host: (at[2] as string).replace(/^\[|\]$/g, '') };
}

function openSocket(spec: string, ms: number): Promise<net.Socket> {
  const target = parseSocketSpec(spec);
  return new Promise((resolve, reject) => {
    const socket = net.connect(target);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new MilterTimeoutError('open', `no connection to ${spec} in ${ms} ms`));
    }, ms);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new MilterUnavailableError('open', `${spec}: ${err.message}`, { cause: err }));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}
