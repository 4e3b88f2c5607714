/**
 * RFC 2047 encoded-words: =?charset?B|Q?encoded-text?= in unstructured header text (Subject) and
 * phrases (display names). Decoding is lenient, as mail readers are: a word that cannot be decoded
 * (bad base64) is shown as written (§6.3), and words not set apart by whitespace are still decoded.
 * Charsets are those the body decoder knows (charsetDecoder: TextDecoder's and libmime's names).
 * The mailbox listing (summary.ts) and the filters (message.ts) both read with this decoder, so that
 * a subject or a display name the filters judged is the one the listing shows.
 */

import { charsetDecoder, decodeCharset } from './entity.ts';

// §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?="; no spaces or "?" inside.
// RFC 2231 §5 adds an optional "*language" after the charset, which we drop.
const ENCODED_WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?=/g;
/** The same with spaces inside the encoded-text, which §6.3 calls incorrectly formed (postal-mime decodes it). */
const ENCODED_WORD_WITH_SPACES = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?]*)\?=/g;
const WHITESPACE_ONLY = /^[ \t\r\n]*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
const UTF_16 = /^utf-?16$/;

export interface DecodeOptions {
  /**
   * Read as the most forgiving readers do, for the filters, which must see whatever a reader may show
   * (postal-mime, which the filters read with before, does both): a word in a charset no decoder knows
   * is decoded as an unknown charset's body is (decodeCharset: UTF-8 when valid, else windows-1252;
   * RFC 2047 §6.2 allows this "best effort"), and spaces inside an encoded-text are taken as text
   * (§6.3: incorrectly formed, which a reader "need not" display). Otherwise both are shown as written.
   */
  lenient?: boolean;
}

/** Bytes of the encoded-text, or undefined when it is not valid for its encoding. */
function decodeText(encoding: string, text: string): Uint8Array | undefined {
  if (encoding === 'B' || encoding === 'b') {
    // §4.1: the "B" encoding is base64 (RFC 2045 §6.8); missing padding is tolerated.
    const compact = text.includes(' ') || text.includes('\t') ? text.replace(/[ \t]+/g, '') : text;
    return BASE64.test(compact) ? Buffer.from(compact, 'base64') : undefined;
  }
  // §4.2: "Q" is like quoted-printable, but "_" stands for space (0x20). Raw 8-bit text in the word
  // (read as UTF-8, RFC 6532 §3.2) keeps its UTF-8 bytes.
  const bytes = Buffer.from(text, 'utf8');
  let written = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    const high = byte === 0x3d ? hexValue(bytes[i + 1]) : -1;
    const low = high < 0 ? -1 : hexValue(bytes[i + 2]);
    if (low >= 0) {
      bytes[written++] = (high << 4) | low;
      i += 2;
    } else bytes[written++] = byte === 0x5f ? 0x20 : byte;
  }
  return bytes.subarray(0, written);
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/**
 * Which words' bytes may be joined: those in one encoding, whatever the label says ("UTF-8", "utf8").
 * UTF-16 goes by its label, whose byte order RFC 2781 §4.3 reads from the mark (byteOrderLabel).
 */
function encodingOf(label: string): string {
  return UTF_16.test(label) ? 'utf-16' : (charsetDecoder(label)?.encoding ?? label);
}

interface Run {
  /** The first word's label, lower case: the one the bytes are decoded with. */
  charset: string;
  encoding: string;
  chunks: Uint8Array[];
}

/**
 * Adjacent words in one encoding are decoded together: a sender may split a multi-byte character
 * across two words (or, in ISO-2022-JP, a shift sequence from the characters it shifts), which
 * decoding each word alone would turn into replacement characters or escape codes as text.
 */
function flush(run: Run | undefined): string {
  if (!run) return '';
  const { chunks } = run;
  if (chunks.length === 1) return decodeCharset(chunks[0] as Uint8Array, run.charset);
  if (run.encoding === 'iso-2022-jp') {
    // RFC 2047 §3: each word ends back in ASCII, and the next opens with its own escape. Two escapes
    // in a row are an error to the decoder (WHATWG Encoding §12.2.1), a U+FFFD between the words:
    // the first, which the second overrides, is left out.
    for (let i = 0; i < chunks.length - 1; i++) {
      const chunk = chunks[i] as Uint8Array;
      if (chunks[i + 1]?.[0] === ESC && endsInEscape(chunk)) chunks[i] = chunk.subarray(0, chunk.length - 3);
    }
  }
  return decodeCharset(Buffer.concat(chunks), run.charset);
}

const ESC = 0x1b;

/** ESC ( B, ESC ( J, ESC $ @ or ESC $ B (RFC 1468), or ESC ( I (katakana), as the decoder knows them. */
function endsInEscape(chunk: Uint8Array): boolean {
  const at = chunk.length - 3;
  if (at < 0 || chunk[at] !== ESC) return false;
  const kind = chunk[at + 1];
  const final = chunk[at + 2];
  return kind === 0x28
    ? final === 0x42 || final === 0x4a || final === 0x49
    : kind === 0x24 && (final === 0x40 || final === 0x42);
}

export function decodeEncodedWords(text: string, options: DecodeOptions = {}): string {
  if (!text.includes('=?')) return text;
  const lenient = options.lenient === true;
  let out = '';
  let run: Run | undefined;
  let last = 0;
  for (const match of text.matchAll(lenient ? ENCODED_WORD_WITH_SPACES : ENCODED_WORD)) {
    const [word, label = '', type = '', encodedText = ''] = match;
    const gap = text.slice(last, match.index);
    last = match.index + word.length;
    const charset = label.toLowerCase();
    const known = lenient || charsetDecoder(charset) !== undefined;
    const bytes = known ? decodeText(type, encodedText) : undefined;
    if (!bytes) {
      out += flush(run) + gap + word; // §6.2, §6.3: shown as written
      run = undefined;
      continue;
    }
    const encoding = encodingOf(charset);
    // §6.2: whitespace between two adjacent encoded-words is not displayed.
    if (run && WHITESPACE_ONLY.test(gap)) {
      if (run.encoding === encoding) {
        run.chunks.push(bytes);
        continue;
      }
      out += flush(run);
    } else {
      out += flush(run) + gap;
    }
    run = { charset, encoding, chunks: [bytes] };
  }
  return out + flush(run) + text.slice(last);
}
