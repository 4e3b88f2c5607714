/**
 * Decodes message content as it streams in: DATA text (RFC 5321 §4.1.1.4) with dot-unstuffing
 * (§4.5.2) and the end-of-data mark, or BDAT chunks (RFC 3030 §2) without either.
 *
 * Smuggling guard (CVE-2023-51764 class): the end of data is only <CRLF>.<CRLF>. A bare CR or LF
 * (§2.3.8 forbids them) never ends a line that could end the data. In `reject` mode such a
 * message is read to its real end and refused; in `normalize` mode a bare CR or LF is stored
 * as CRLF, but a "." line next to one still never ends the data. Either way one DATA yields at
 * most one message.
 *
 * The decoder keeps output as slices of the input chunks, so a message is copied once, at the end.
 */

import type { ContentBudget } from './content-budget.ts';

export type ContentProblem = 'too-large' | 'bare-line-ending' | 'line-too-long' | 'no-memory';

export interface DecoderOptions {
  maxSize: number;
  /** The server's limit on content held in memory by all sessions; counted from here until release(). */
  budget?: ContentBudget;
  bareLineEndings: 'reject' | 'normalize';
  dotStuffed: boolean; // true for DATA, false for BDAT
}

const CR = 13;
const LF = 10;
const DOT = 46;
const CRLF_BYTES = Buffer.from('\r\n');
const LF_BYTES = Buffer.from('\n');
const DOT_BYTES = Buffer.from('.');
const DOT_CRLF_BYTES = Buffer.from('.\r\n');
// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including the CRLF.
const MAX_LINE = 998;
/** Bytes looked at one by one for the next line end before asking indexOf (push()). */
const SHORT_SCAN = 8;
/** Pieces shorter than this are copied into blocks of BLOCK_SIZE (add()). */
const SMALL_PIECE = 512;
const BLOCK_SIZE = 16 * 1024;

const S = { lineStart: 0, text: 1, cr: 2, dot: 3, dotCr: 4 } as const;
type State = (typeof S)[keyof typeof S];

export class ContentDecoder {
  private readonly options: DecoderOptions;
  private state: State = S.lineStart;
  /** The current line began right after a CRLF (or at the start): only such a "." line ends DATA. */
  private lineClean = true;
  private lineLength = 0;
  private parts: Buffer[] = [];
  /**
   * The block pieces are copied into (add()), how much of it holds content, and where the part not yet
   * in `parts` starts: a block is filled to its end before the next is made, views between its pieces
   * or not, so that every block held is about full.
   */
  private block: Buffer | undefined;
  private blockUsed = 0;
  private blockStart = 0;
  private size = 0;
  /** Octets counted against the budget and not yet given back. */
  private counted = 0;
  private problemFound: ContentProblem | undefined;

  constructor(options: DecoderOptions) {
    this.options = options;
  }

  get problem(): ContentProblem | undefined {
    return this.problemFound;
  }

  /** Buffers held for the content so far: about 2 × decodedSize / 512 at most, whatever the content's shape. */
  get heldBuffers(): number {
    return this.parts.length + (this.block === undefined ? 0 : 1);
  }

  /** Bytes of memory the held buffers keep alive (the whole chunk behind a view): about decodedSize. */
  get heldBytes(): number {
    const behind = new Set<ArrayBufferLike>(this.parts.map((part) => part.buffer));
    if (this.block !== undefined) behind.add(this.block.buffer);
    let bytes = 0;
    for (const buffer of behind) bytes += buffer.byteLength;
    return bytes;
  }

  /** Bytes of content decoded so far. */
  get decodedSize(): number {
    return this.size;
  }

  /**
   * Feeds a chunk. For DATA, returns the offset just past the end-of-data mark when it is in this
   * chunk (the caller handles the rest as commands), else -1. For BDAT, always -1.
   */
  push(chunk: Buffer): number {
    const dotStuffed = this.options.dotStuffed;
    const normalize = this.options.bareLineEndings === 'normalize';
    let segStart = 0;
    const n = chunk.length;
    // Where the next CR and LF are (memchr via indexOf), found once each so the scan stays linear.
    let nextCr = -2;
    let nextLf = -2;
    for (let i = 0; i < n; i++) {
      if (this.state === S.text) {
        // The first CR or LF at or after i: the next few bytes are looked at here, since a call of
        // indexOf costs more than that (ten million empty lines took 0.7 s through indexOf alone);
        // past them, indexOf (memchr), each found once so the scan stays linear.
        let stop = i;
        const near = Math.min(n, i + SHORT_SCAN);
        while (stop < near && chunk[stop] !== CR && chunk[stop] !== LF) stop++;
        if (stop === near && stop < n) {
          if (nextCr !== -1 && nextCr < i) nextCr = chunk.indexOf(CR, i);
          if (nextLf !== -1 && nextLf < i) nextLf = chunk.indexOf(LF, i);
          stop = Math.min(nextCr === -1 ? n : nextCr, nextLf === -1 ? n : nextLf);
        }
        if (stop > i) {
          // Plain text up to the next CR or LF: counted, kept in the segment, not looked at byte by byte.
          this.lineLength += stop - i;
          if (this.lineLength > MAX_LINE) this.fail('line-too-long');
          i = stop - 1;
          continue;
        }
      }
      const b = chunk[i]!;
      switch (this.state) {
        case S.lineStart:
          if (dotStuffed && b === DOT) {
            this.emit(chunk, segStart, i); // drop the dot; it is put back if the line is not stuffed
            segStart = i + 1;
            this.state = S.dot;
            // RFC 5321 §4.5.3.1.6: the dot duplicated for transparency is not counted in the line.
            this.lineLength = 0;
            break;
          }
          this.state = S.text;
          i--; // handle the byte as text
          break;
        case S.text:
          if (b === CR) {
            this.state = S.cr;
          } else if (b === LF) {
            this.bare();
            if (normalize) {
              this.emit(chunk, segStart, i);
              this.emitConst(CRLF_BYTES);
              segStart = i + 1;
              this.newLine(false);
            }
          }
          break;
        case S.cr:
          if (b === LF) {
            this.newLine(true);
          } else {
            this.bare(); // the CR before this byte was bare
            if (normalize) {
              this.emit(chunk, segStart, i);
              this.emitConst(LF_BYTES);
              segStart = i;
              this.newLine(false);
            } else {
              this.state = S.text;
            }
            i--;
          }
          break;
        case S.dot:
          if (b === CR) {
            segStart = i + 1; // hold the CR back until we know whether this is the end mark
            this.state = S.dotCr;
          } else if (b === LF) {
            this.bare();
            if (normalize) {
              this.emitConst(DOT_CRLF_BYTES);
              segStart = i + 1;
              this.newLine(false);
            } else {
              this.state = S.text;
            }
          } else {
            this.state = S.text; // a stuffed dot (§4.5.2): it stays dropped
            i--;
          }
          break;
        case S.dotCr:
          if (b === LF && this.lineClean) {
            // RFC 5321 §4.1.1.4: <CRLF>.<CRLF> ends the mail data.
            this.finishLine();
            return i + 1;
          }
          if (b === LF) {
            // "." after a bare line ending, then CRLF: data, never the end (normalize mode only).
            this.emitConst(DOT_CRLF_BYTES);
            segStart = i + 1;
            this.newLine(true);
            break;
          }
          this.bare();
          if (normalize) {
            this.emitConst(DOT_CRLF_BYTES);
            segStart = i;
            this.newLine(false);
          } else {
            this.state = S.text;
          }
          i--;
          break;
        default:
          return this.state satisfies never;
      }
    }
    this.emit(chunk, segStart, n);
    return -1;
  }

  /** Ends BDAT content (RFC 3030 §2: the LAST chunk): completes its last line. */
  finish(): void {
    if (this.state === S.text) {
      // RFC 5321 §4.1.1.4: a final line without CRLF is either refused or given one. We add it, as
      // Postfix does: the stored message must be relayable with DATA later and read by IMAP clients,
      // and DKIM's canonical body already ends in CRLF (RFC 6376 §3.4.3, §3.4.4), so no signature breaks.
      // Ours, not the client's: not counted against the size it was allowed (RFC 1870).
      this.add(CRLF_BYTES, false);
    } else if (this.state === S.cr) {
      this.bare();
      if (this.options.bareLineEndings === 'normalize') this.emitConst(LF_BYTES);
    } else if (this.state === S.dot) {
      this.emitConst(DOT_BYTES);
    } else if (this.state === S.dotCr) {
      this.emitConst(DOT_BYTES);
      this.bare();
    }
    this.finishLine();
  }

  /** The decoded message, or the problem that refused it. */
  result(): { ok: true; content: Buffer } | { ok: false; problem: ContentProblem } {
    if (this.problemFound !== undefined) return { ok: false, problem: this.problemFound };
    this.flushBlock();
    const content = Buffer.concat(this.parts, this.size);
    this.parts = [];
    return { ok: true, content };
  }

  private newLine(clean: boolean): void {
    this.state = S.lineStart;
    this.lineClean = clean;
    this.lineLength = 0;
  }

  private finishLine(): void {
    this.state = S.lineStart;
    this.lineLength = 0;
  }

  private bare(): void {
    if (this.options.bareLineEndings === 'reject') this.fail('bare-line-ending');
  }

  private fail(problem: ContentProblem): void {
    // The first problem is the one reported; content is no longer kept once the message is refused.
    this.problemFound ??= problem;
    this.parts = [];
    this.block = undefined;
    this.blockUsed = 0;
    this.blockStart = 0;
    this.release();
  }

  /**
   * Gives back what the content counted against the budget: when the transaction ends (its outcome
   * known, reset, or the connection gone). The content itself may live on in whoever holds it.
   */
  release(): void {
    if (this.counted > 0) this.options.budget?.give(this.counted);
    this.counted = 0;
  }

  private emit(chunk: Buffer, from: number, to: number): void {
    if (to > from) this.add(chunk.subarray(from, to));
  }

  private emitConst(bytes: Buffer): void {
    this.add(bytes);
  }

  /**
   * Keeps a piece of content. A large piece that is most of the chunk it came in is kept as it is (a
   * view, no copy); others are copied into a shared block. A Buffer object costs about 100 bytes of
   * heap whatever its length, so keeping each 3-octet piece of a message of `..` lines (or of 1-octet
   * BDAT chunks) on its own made 25 MB of content cost nearly 1 GB, past what maxSize promises. And a
   * view keeps its whole chunk alive (a socket read of up to 64 KiB): 512-octet BDAT chunks, each
   * padded to a read with `BDAT 0` lines, pinned 125 times what the budget counted.
   */
  private add(part: Buffer, limited = true): void {
    if (this.problemFound !== undefined) return;
    this.size += part.length;
    if (limited && this.size > this.options.maxSize) {
      this.fail('too-large');
      return;
    }
    const budget = this.options.budget;
    if (budget) {
      if (!budget.take(part.length)) {
        this.fail('no-memory');
        return;
      }
      this.counted += part.length;
    }
    if (part.length >= SMALL_PIECE && part.buffer.byteLength <= 2 * part.length) {
      this.flushBlock();
      this.parts.push(part);
      return;
    }
    if (part.length > BLOCK_SIZE) {
      // A large piece of a larger chunk: a copy of its own size (not from Node's shared pool).
      this.flushBlock();
      const copy = Buffer.allocUnsafeSlow(part.length);
      part.copy(copy);
      this.parts.push(copy);
      return;
    }
    if (this.block === undefined || this.blockUsed + part.length > this.block.length) {
      this.flushBlock();
      this.block = Buffer.allocUnsafeSlow(BLOCK_SIZE);
      this.blockUsed = 0;
      this.blockStart = 0;
    }
    part.copy(this.block, this.blockUsed);
    this.blockUsed += part.length;
  }

  /** Moves what the block holds since the last move into `parts`; the block itself goes on being filled. */
  private flushBlock(): void {
    if (this.block === undefined || this.blockUsed === this.blockStart) return;
    this.parts.push(this.block.subarray(this.blockStart, this.blockUsed));
    this.blockStart = this.blockUsed;
  }
}
