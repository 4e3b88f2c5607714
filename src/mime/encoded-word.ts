/**
 * RFC 2047 encoded-words: =?charset?B|Q?encoded-text?= in unstructured header text (Subject) and
 * phrases (display names). Decoding is lenient, as mail readers are: a word that cannot be decoded
 * (unknown charset, bad base64) is shown as written (§6.2), and words not set apart by whitespace
 * are still decoded. Charsets are those TextDecoder knows (UTF-8, ISO-8859-*, windows-*, …).
 */

import { TextDecoder } from 'node:util';
import { DecoderCache } from './decoder-cache.ts';
import { byteOrderLabel } from './entity.ts';

// §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?="; no spaces or "?" inside.
// RFC 2231 §5 adds an optional "*language" after the charset, which we drop.
const ENCODED_WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?=/g;
const WHITESPACE_ONLY = /^[ \t\r\n]*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

export const encodedWordDecoders = new DecoderCache();

function decoderFor(charset: string): TextDecoder | null {
  return (
    encodedWordDecoders.get(charset.toLowerCase(), (label) => {
      try {
        return new TextDecoder(label, { fatal: false });
      } catch {
        return undefined; // a charset TextDecoder does not know
      }
    }) ?? null
  );
}

/** Bytes of the encoded-text, or undefined when it is not valid for its encoding. */
function decodeText(encoding: string, text: string): Uint8Array | undefined {
  if (encoding === 'B' || encoding === 'b') {
    // §4.1: the "B" encoding is base64 (RFC 2045 §6.8); missing padding is tolerated.
    return BASE64.test(text) ? Uint8Array.from(Buffer.from(text, 'base64')) : undefined;
  }
  // §4.2: "Q" is like quoted-printable, but "_" stands for space (0x20).
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const char = text[i] ?? '';
    const hex = char === '=' ? text.slice(i + 1, i + 3) : '';
    if (char === '_') bytes.push(0x20);
    else if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(char, 'utf8'));
  }
  return Uint8Array.from(bytes);
}

interface Run {
  decoder: TextDecoder;
  charset: string;
  chunks: Uint8Array[];
}

/**
 * Adjacent words in one charset are decoded together: a sender may split a multi-byte character
 * across two words, which decoding each word alone would turn into replacement characters.
 */
function flush(run: Run | undefined): string {
  if (!run) return '';
  const bytes = Buffer.concat(run.chunks);
  const ordered = byteOrderLabel(run.charset, bytes);
  const decoder = ordered === run.charset ? run.decoder : (decoderFor(ordered ?? run.charset) ?? run.decoder);
  return decoder.decode(bytes);
}

export function decodeEncodedWords(text: string): string {
  if (!text.includes('=?')) return text;
  let out = '';
  let run: Run | undefined;
  let last = 0;
  for (const match of text.matchAll(ENCODED_WORD)) {
    const [word, charset = '', encoding = '', encodedText = ''] = match;
    const gap = text.slice(last, match.index);
    last = match.index + word.length;
    const decoder = decoderFor(charset);
    const bytes = decoder ? decodeText(encoding, encodedText) : undefined;
    if (!decoder || !bytes) {
      out += flush(run) + gap + word; // §6.2: shown as written
      run = undefined;
      continue;
    }
    // §6.2: whitespace between two adjacent encoded-words is not displayed.
    if (run && WHITESPACE_ONLY.test(gap)) {
      if (run.charset === charset.toLowerCase()) {
        run.chunks.push(bytes);
        continue;
      }
      out += flush(run);
    } else {
      out += flush(run) + gap;
    }
    run = { decoder, charset: charset.toLowerCase(), chunks: [bytes] };
  }
  return out + flush(run) + text.slice(last);
}
