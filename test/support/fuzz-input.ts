/**
 * Seeded random SMTP input for the fuzz tests: random bytes, token soup, and valid conversations
 * with bytes flipped, inserted, deleted and repeated. No dependency; the seed reproduces a case.
 */

/** mulberry32: a small, fast 32-bit PRNG; good enough to spread test inputs. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const CONVERSATIONS: readonly string[] = [
  'EHLO a.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n..dot\r\n.\r\nQUIT\r\n',
  'HELO a.example\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n',
  'EHLO a.example\r\nMAIL FROM:<a@example.net> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<alice@example.com>\r\nBDAT 5\r\nhelloBDAT 7 LAST\r\n world\r\nQUIT\r\n',
  'EHLO a.example\r\nMAIL FROM:<j\u00f6rg@example.net> SMTPUTF8\r\nRCPT TO:<Postmaster>\r\nBDAT 0 LAST\r\nVRFY x\r\nHELP\r\n',
  'EHLO a.example\r\nMAIL FROM:<@r.example:a@[192.0.2.1]>\r\nRCPT TO:<"q x"@example.com>\r\nDATA\r\na\nb\r\n.\n.\r\n\r\n.\r\nMAIL FROM:<x@example.net>\r\n',
  'EHLO a.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nline\r\r\n.\r\n.\r\nBDAT 3\r\nabc\r\nDATA\r\n',
];

const TOKENS: readonly string[] = [
  'EHLO a.example',
  'HELO x',
  'MAIL FROM:',
  'RCPT TO:',
  '<a@example.com>',
  '<alice@example.com>',
  '<>',
  '<',
  '>',
  'DATA',
  'BDAT ',
  'BDAT 3',
  ' LAST',
  'RSET',
  'QUIT',
  'NOOP',
  'VRFY ',
  'SIZE=',
  ' SMTPUTF8',
  '.',
  '..',
  '\r\n',
  '\r\n',
  '\r\n.\r\n',
  '\n',
  '\r',
  '\0',
  ' ',
  '0',
  '7',
  '99999',
  '\u00e9',
  '\xff',
  'x'.repeat(600),
  ` ${'P'.repeat(470)}=1`, // an echoed parameter name near the line limit
  '<a@ex\x1bample.com>', // a control character that a reply could echo
  '<a@ex\u00e4mple_.com>',
];

const SPECIAL = [13, 10, 46, 32, 58, 60, 62, 0, 0xff, 0xc3, 48, 64];

function randomBytes(r: Random, max: number): Buffer {
  const out = Buffer.alloc(r.int(max));
  for (let i = 0; i < out.length; i++) out[i] = r.chance(0.3) ? r.pick(SPECIAL) : r.int(256);
  return out;
}

function tokenSoup(r: Random): Buffer {
  const parts: string[] = [];
  for (let i = r.int(60); i > 0; i--) parts.push(r.pick(TOKENS));
  return Buffer.from(parts.join(''), 'utf8');
}

/** A byte-level mutation of a valid conversation. */
export function mutate(r: Random, input: Buffer): Buffer {
  let bytes = Buffer.from(input);
  for (let m = 1 + r.int(6); m > 0; m--) {
    const at = r.int(bytes.length + 1);
    switch (r.int(5)) {
      case 0: // flip a bit
        if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)]! ^= 1 << r.int(8);
        break;
      case 1: // insert
        bytes = Buffer.concat([
          bytes.subarray(0, at),
          Buffer.from([r.chance(0.6) ? r.pick(SPECIAL) : r.int(256)]),
          bytes.subarray(at),
        ]);
        break;
      case 2: // delete
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + r.int(4))]);
        break;
      case 3: {
        // repeat a slice
        const len = r.int(40);
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + len), bytes.subarray(at)]);
        break;
      }
      default: // truncate
        bytes = bytes.subarray(0, at);
    }
  }
  return bytes;
}

export function conversation(r: Random): Buffer {
  return Buffer.from(r.pick(CONVERSATIONS), 'utf8');
}

/** One fuzz input: random bytes, token soup, or a mutated conversation (the most useful, so the most often). */
export function fuzzInput(r: Random): Buffer {
  const kind = r.int(10);
  if (kind === 0) return randomBytes(r, 1500);
  if (kind <= 2) return tokenSoup(r);
  if (kind === 3) return conversation(r);
  return mutate(r, conversation(r));
}

/** Splits into random chunks, one byte to the whole. */
export function split(r: Random, input: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < input.length; ) {
    const len = r.chance(0.2) ? 1 : 1 + r.int(r.chance(0.5) ? 16 : input.length);
    chunks.push(input.subarray(at, at + len));
    at += len;
  }
  return chunks;
}
