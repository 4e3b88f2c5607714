/**
 * The Sendmail milter wire protocol, version 6, MTA side: the constants of Sendmail's
 * include/libmilter/mfdef.h (8.14+) and the packet framing libmilter reads in engine.c/comm.c — a 4-byte
 * big-endian length that counts the command byte, the command byte, then its data. Strings are
 * NUL-terminated; integers are 32-bit big-endian (16-bit for the connect port). Knows no sockets.
 */

/** mfdef.h SMFIC_*: commands the MTA sends. */
export const command = {
  abort: 'A',
  body: 'B',
  connect: 'C',
  macro: 'D',
  bodyeob: 'E',
  helo: 'H',
  header: 'L',
  mail: 'M',
  eoh: 'N',
  optneg: 'O',
  quit: 'Q',
  rcpt: 'R',
  data: 'T',
} as const;
export type Command = (typeof command)[keyof typeof command];

/** mfdef.h SMFIR_*: replies the milter sends. */
export const reply = {
  addrcpt: '+',
  delrcpt: '-',
  addrcptPar: '2',
  shutdown: '4',
  accept: 'a',
  replbody: 'b',
  continue: 'c',
  discard: 'd',
  chgfrom: 'e',
  connFail: 'f',
  addheader: 'h',
  insheader: 'i',
  setsymlist: 'l',
  chgheader: 'm',
  progress: 'p',
  quarantine: 'q',
  reject: 'r',
  skip: 's',
  tempfail: 't',
  replycode: 'y',
  optneg: 'O',
} as const;

/** mfdef.h SMFIF_*: the actions a milter may take at end of message. */
export const action = {
  addhdrs: 0x01,
  chgbody: 0x02,
  addrcpt: 0x04,
  delrcpt: 0x08,
  chghdrs: 0x10,
  quarantine: 0x20,
  chgfrom: 0x40,
  addrcptPar: 0x80,
} as const;

/** The actions we are able to carry out, offered in SMFIC_OPTNEG (no SMFIF_SETSYMLIST: we send a fixed set). */
export const OFFERED_ACTIONS = Object.values(action).reduce((a, b) => a | b, 0);

/** mfdef.h SMFIP_*: steps the milter does not want (NO*) or will not answer (NR_*). */
export const protocol = {
  noconnect: 0x1,
  nohelo: 0x2,
  nomail: 0x4,
  norcpt: 0x8,
  nobody: 0x10,
  nohdrs: 0x20,
  noeoh: 0x40,
  nrHdr: 0x80,
  nounknown: 0x100,
  nodata: 0x200,
  skip: 0x400,
  rcptRej: 0x800,
  nrConn: 0x1000,
  nrHelo: 0x2000,
  nrMail: 0x4000,
  nrRcpt: 0x8000,
  nrData: 0x10000,
  nrUnkn: 0x20000,
  nrEoh: 0x40000,
  nrBody: 0x80000,
  hdrLeadspc: 0x100000,
} as const;

/**
 * Every step-skipping and no-reply bit, SKIP and HDR_LEADSPC; not RCPT_REJ (we do not send refused
 * recipients) nor the MDS_* sizes (our chunks stay at the 64 KiB default, MILTER_CHUNK_SIZE).
 */
export const OFFERED_PROTOCOL = Object.values(protocol).reduce((a, b) => a | b, 0) & ~protocol.rcptRej;

export const MILTER_VERSION = 6;
/** mfdef.h MILTER_CHUNK_SIZE: the largest SMFIC_BODY chunk without MDS_* negotiation. */
export const CHUNK_SIZE = 65535;
/** libmilter's MILTER_MAX_DATA_SIZE default with MDS_1M headroom: larger packets are a broken milter. */
export const MAX_PACKET = 1024 * 1024 + 1;

export interface Packet {
  code: string;
  data: Buffer;
}

export function encodePacket(code: Command, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(data.length + 1, 0);
  head.write(code, 4, 'latin1');
  return Buffer.concat([head, data]);
}

/** NUL-terminated strings, in order (the form of SMFIC_HELO, _MAIL, _RCPT, _HEADER, _MACRO). */
export function cstrings(...values: string[]): Buffer {
  return Buffer.concat(values.flatMap((v) => [Buffer.from(v, 'utf8'), Buffer.alloc(1)]));
}

export function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/**
 * Splits a reply's data at NULs; a missing final NUL is tolerated. `latin1` keeps one char per octet:
 * header names and values go back into the message as the octets the milter sent (as Postfix and
 * Sendmail copy them), 8-bit ones of any charset included; UTF-8 would turn those into U+FFFD.
 */
export function splitCStrings(data: Buffer, encoding: 'utf8' | 'latin1' = 'utf8'): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) {
      parts.push(data.subarray(start, i).toString(encoding));
      start = i + 1;
    }
  }
  if (start < data.length) parts.push(data.subarray(start).toString(encoding));
  return parts;
}

/** Incremental reader of framed packets from a byte stream. */
export class PacketReader {
  /** Chunks of an unfinished packet, joined once it is complete: a 1 MiB packet read 64 KiB at a time is copied once. */
  #pending: Buffer[] = [];
  #pendingLength = 0;
  /** The length the first pending packet needs (its 4-byte prefix included), once the prefix is in. */
  #needed = 0;

  push(chunk: Buffer): Packet[] {
    this.#pending.push(chunk);
    this.#pendingLength += chunk.length;
    const packets: Packet[] = [];
    for (;;) {
      if (this.#needed === 0) {
        if (this.#pendingLength < 4) break;
        const length = this.#head(4).readUInt32BE(0);
        if (length < 1 || length > MAX_PACKET) throw new Error(`milter packet length ${length}`);
        this.#needed = 4 + length;
      }
      if (this.#pendingLength < this.#needed) break;
      const whole = this.#head(this.#needed);
      packets.push({
        code: String.fromCharCode(whole[4] as number),
        data: Buffer.from(whole.subarray(5, this.#needed)),
      });
      const rest = whole.subarray(this.#needed);
      this.#pendingLength -= this.#needed;
      this.#pending = rest.length > 0 ? [rest, ...this.#pending.slice(1)] : this.#pending.slice(1);
      this.#needed = 0;
    }
    return packets;
  }

  /** The first `n` pending octets, as the first pending chunk (joined when they span several). */
  #head(n: number): Buffer {
    if (this.#pending[0]!.length < n) this.#pending = [Buffer.concat(this.#pending)];
    return this.#pending[0]!;
  }
}
