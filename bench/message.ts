/**
 * Benchmark messages: realistic RFC 5322 headers and a body padded to a target size. Lines stay far under
 * the 998-octet limit of RFC 5322 §2.1.1 and never start with ".", so no dot-stuffing is needed
 * (RFC 5321 §4.5.2) and the server parses what a normal client would send.
 */

// No "." anywhere, so no line can start with one whatever the slicing.
const LINE = 'The quick brown fox jumps over the lazy dog while the mail server keeps every word and ';

/** Body lines of 76 characters + CRLF: the width RFC 2045 §6.7 uses, typical of real mail. */
function padding(octets: number): string {
  const text = LINE.repeat(Math.ceil(octets / LINE.length) + 2);
  let out = '';
  for (let at = 0; out.length + 3 <= octets; at += 76) {
    out += text.slice(at, at + Math.min(76, octets - out.length - 2)) + '\r\n';
  }
  return out;
}

/** Builds messages of about `size` octets (headers + body, before the "." terminator). */
export class MessageFactory {
  readonly #from: string;
  readonly #to: string;
  readonly #size: number;
  #body: Buffer | undefined;

  constructor(from: string, to: string, size: number) {
    this.#from = from;
    this.#to = to;
    this.#size = size;
  }

  /** Message `n` with its own Message-ID and Date; the body is shared, built once for speed. */
  message(n: number): Buffer {
    const header =
      `From: Bench Sender <${this.#from}>\r\n` +
      `To: Bench Recipient <${this.#to}>\r\n` +
      `Subject: Benchmark message ${n}\r\n` +
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}\r\n` +
      `Message-ID: <bench.${process.pid}.${n}@client.example>\r\n` +
      'MIME-Version: 1.0\r\n' +
      'Content-Type: text/plain; charset=us-ascii\r\n' +
      '\r\n';
    // The header length varies by a few octets with n; the body is sized for a typical header.
    this.#body ??= Buffer.from(padding(Math.max(64, this.#size - header.length)), 'latin1');
    return Buffer.concat([Buffer.from(header, 'latin1'), this.#body]);
  }
}
