/**
 * DKIM verification (RFC 6376) of every DKIM-Signature field, RSA-SHA256 and Ed25519-SHA256 (RFC 8463), on
 * the message as one Buffer: the header section is read once (message.ts), each distinct body hash is
 * computed once however many signatures share it and each key record fetched once (message-context.ts),
 * and a key record's parse is reused across messages (key-record.ts). Returns a result per signature; decides no
 * reply or verdict (RFC 6376 §6.3 leaves that to the receiver's policy).
 *
 * The rules are those of mailauth's lenient verifier, which this module used to wrap: syntax slips common in
 * the wild (a key record whose v= is not first, an `=`-less tag-spec) are tolerated and listed as `warnings`.
 * On top of them: a tag-list RFC 6376 §3.2 makes invalid (a repeated tag), a REQUIRED tag missing (tag names
 * are case-sensitive), v= not 1, or an l= past the end of the body is permerror (§6.1.1, §3.5); rsa-sha1 and
 * short RSA keys fail (RFC 8301), a body hash mismatch fails, an i= outside d= is not a pass (RFC 6376
 * §6.1.1), and a signature that cannot be processed is reported as neutral.
 *
 * Also read here for the later checks: the From addresses (DMARC, dmarc/) with mailauth's own address
 * parser, and the ARC chain (arc/). A message with ARC fields goes through mailauth's verifier once more,
 * for the parsed chain and its newest ARC-Message-Signature verified; without them the chain is empty.
 * mailauth's verifier (with its libmime, iconv-lite and joi) is loaded only then, on the first such message:
 * ordinary mail loads nothing of mailauth but nodemailer's small address parser.
 */

import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import type { DNSResolver } from 'mailauth';
import type { Resolver } from '../../dns/resolver.ts';
import { mailauthResolver } from '../mailauth-resolver.ts';
import type { ArcChainInput, DkimSignatureResult, DkimVerification } from './dkim-result.ts';
import { MIN_RSA_BITS } from './key-record.ts';
import { type HeaderField, readMessage, utf8 } from './message.ts';
import { messageContext } from './message-context.ts';
import { readSignature } from './signature.ts';
import { text } from './tag-list.ts';
import { identify, invalid, unprocessable, verifySignature } from './verify-signature.ts';

export interface VerifyDkimOptions {
  resolver: Resolver;
  /** The time x= expiry is checked against; defaults to the clock. */
  now?: Date;
}

/** The fields of an ARC set (RFC 8617 §4.1). */
const ARC_FIELDS = new Set(['arc-seal', 'arc-message-signature', 'arc-authentication-results']);

type Mailbox = { address?: string; group?: Mailbox[] };
/** nodemailer's addressparser, the copy mailauth itself reads From with (lib/dkim/dkim-verifier.js). */
const addressparser = createRequire(createRequire(import.meta.url).resolve('mailauth/lib/dkim/dkim-verifier.js'))(
  'nodemailer/lib/addressparser',
) as (value: string) => Mailbox[];

export async function verifyDkim(message: Uint8Array, options: VerifyDkimOptions): Promise<DkimVerification> {
  let signatureFields: HeaderField[] | undefined;
  try {
    const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    const { fields, body } = readMessage(bytes);
    signatureFields = fields.filter((f) => f.key === 'dkim-signature');
    const now = (options.now ?? new Date()).getTime();
    const from = fields.filter((f) => f.key === 'from');
    const hasArc = fields.some((f) => f.key !== null && ARC_FIELDS.has(f.key));
    // Most mail from outside is signed, but what is not (and has no ARC sets) needs nothing awaited.
    if (signatureFields.length === 0 && !hasArc) {
      return { signatures: [], headerFrom: authors(from), fromFields: from.length, arc: noChain() };
    }
    const headerFrom = authors(from);
    const read = signatureFields.map(readSignature);
    const verified = chosenForVerifying(read, headerFrom);
    // mailauth's verifier, which reads the ARC chain, verifies every DKIM signature too, the ones we find
    // unusable included (it only warns on a d= with a space, and hashes the body once more for each): past
    // the cap, counting every DKIM-Signature field, it gets the message without those we do not verify
    // (an ARC-Message-Signature over them then fails).
    const arcBytes =
      hasArc && signatureFields.length > MAX_VERIFIED_SIGNATURES
        ? withoutFields(fields, body, new Set(signatureFields.filter((_, i) => !verified.has(i))))
        : bytes;
    const arc = hasArc ? arcChain(arcBytes, options.resolver, now) : noChain();
    const ctx = messageContext(fields, body, now, options.resolver);
    const signatures = await Promise.all(
      read.map((sig, index): Promise<DkimSignatureResult> | DkimSignatureResult => {
        if (!sig.usable)
          return sig.permerror === undefined ? unprocessable(sig.tags) : invalid(sig.tags, sig.permerror);
        if (!verified.has(index)) {
          const reason = `not verified: the message has more than ${MAX_VERIFIED_SIGNATURES} DKIM signatures (RFC 6376 §6.1)`;
          return { ...identify(sig.tags), result: 'policy', reason };
        }
        return verifySignature(sig, ctx);
      }),
    );
    distinguishHeaderB(
      signatures,
      read.map((sig) => text(sig.tags, 'b')),
    );
    return { signatures, headerFrom, fromFields: from.length, arc: await arc };
  } catch (err) {
    // Reaching here is a bug in us or in mailauth's parsers, and a doubt must become neither a pass nor a
    // permanent fail: RFC 6376 §6.1 TEMPFAIL for every signature.
    const reason = `DKIM verification failed unexpectedly: ${String(err)}`;
    const unnamed = { domain: '', selector: '', algorithm: '' };
    return {
      signatures: (signatureFields ?? [undefined]).map((field) => ({
        ...(field === undefined ? unnamed : safeIdentify(field)),
        result: 'temperror',
        reason,
      })),
      headerFrom: [],
      fromFields: 0,
      arc: undefined,
    };
  }
}

/**
 * RFC 6008 §4: header.b is the start of b=, at least 8 characters and as many as it takes to tell the
 * signatures of the message apart: a sender could add a broken signature whose b= starts as a good one's,
 * and a fail and a pass then read alike. Sorted, each b= shares its longest common start with a
 * neighbour, so this is O(n log n) however many signatures come.
 */
function distinguishHeaderB(signatures: DkimSignatureResult[], bs: string[]): void {
  // The same b= twice is one signature twice: nothing to tell apart, so distinct values are compared.
  const distinct = [...new Set(bs.filter((b, i) => b !== '' && signatures[i]?.headerB !== undefined))].sort();
  const common = (a: string, b: string | undefined) => {
    let n = 0;
    while (b !== undefined && n < a.length && n < b.length && a[n] === b[n]) n++;
    return n;
  };
  const length = new Map(
    distinct.map((b, at) => [b, Math.max(8, common(b, distinct[at - 1]) + 1, common(b, distinct[at + 1]) + 1)]),
  );
  signatures.forEach((signature, i) => {
    const b = bs[i] as string;
    const n = length.get(b);
    if (n !== undefined && signature.headerB !== undefined) signature.headerB = b.slice(0, n);
  });
}

/**
 * RFC 6376 §6.1: "Verifiers MAY limit the number of signatures they attempt to verify". Each signature
 * with its own l= hashes the whole body again, in the event loop, before any DNS answer: without a cap
 * one message with hundreds of signatures stalled every session for seconds. OpenDKIM verifies 3 by
 * default; more are kept here for mail that lists, forwarders and providers each signed.
 */
export const MAX_VERIFIED_SIGNATURES = 8;

/** The message again without `dropped` (fields of `fields`), for mailauth's verifier. */
function withoutFields(fields: HeaderField[], body: Buffer, dropped: Set<HeaderField>): Buffer {
  const header = fields
    .filter((field) => !dropped.has(field))
    .map((field) => `${field.line}\r\n`)
    .join('');
  return Buffer.concat([Buffer.from(`${header}\r\n`, 'latin1'), body]);
}

/**
 * The indexes of the usable signatures to verify: those whose d= is an author domain, a parent or a
 * child of one (the signatures DMARC can use, RFC 7489 §3.1.1) first, then the others, each in field order.
 */
function chosenForVerifying(read: ReturnType<typeof readSignature>[], headerFrom: string[]): Set<number> {
  const authorDomains = headerFrom.map((address) => address.slice(address.lastIndexOf('@') + 1).toLowerCase());
  const related = (domain: string) => {
    const d = domain.toLowerCase();
    return authorDomains.some((a) => a === d || a.endsWith(`.${d}`) || d.endsWith(`.${a}`));
  };
  const usable = read.flatMap((sig, index) => (sig.usable ? [{ index, first: related(sig.domain) }] : []));
  const ordered = [...usable.filter((s) => s.first), ...usable.filter((s) => !s.first)];
  return new Set(ordered.slice(0, MAX_VERIFIED_SIGNATURES).map((s) => s.index));
}

/**
 * The From addresses (RFC 5322 §3.6.2; the mailboxes of a group too, RFC 6854) as mailauth reads them, for
 * DMARC's author domain (RFC 7489 §3.1).
 */
export function authors(from: HeaderField[]): string[] {
  const out: string[] = [];
  for (const field of from) {
    const line = utf8(field.line);
    const colon = line.indexOf(':');
    const value = (colon >= 0 ? line.slice(colon + 1) : line).trim();
    const simple = SIMPLE_FROM.exec(value);
    if (simple) {
      out.push(simple[1] ?? simple[2] ?? '');
      continue;
    }
    for (const entry of addressparser(value)) {
      for (const mailbox of entry.group ?? [entry]) if (mailbox?.address) out.push(mailbox.address);
    }
  }
  return out;
}

/**
 * The forms nearly all mail uses, `local@domain` and `Display Name <local@domain>` with no quotes,
 * comments, groups or other specials, read without the general parser; they give what addressparser
 * gives (test/authentication/dkim/authors.test.ts compares the two on thousands of real From fields).
 */
const SIMPLE_FROM =
  /^(?:([^\s"(),:;<>@[\]\\]+@[^\s"(),:;<>@[\]\\]+)|[^"(),:;<>@[\]\\]*<([^\s"(),:;<>@[\]\\]+@[^\s"(),:;<>@[\]\\]+)>)$/;

/** What mailauth's verifier hands ARC for a message without ARC fields: no chain (arc() says "none"). */
function noChain(): ArcChainInput {
  return { chain: false, warnings: [] } as ArcChainInput;
}

/** The parsed ARC chain, its newest ARC-Message-Signature verified, from mailauth's verifier (rare: forwarded mail). */
export async function arcChain(bytes: Buffer, resolver: Resolver, now: number): Promise<ArcChainInput> {
  try {
    const { dkimVerify } = await import('mailauth/lib/dkim/verify.js');
    const response = await dkimVerify(bytes, {
      // mailauth types its resolver's answer as strings; ours also gives MX objects, which DKIM never asks for.
      resolver: mailauthResolver(resolver) as DNSResolver,
      curTime: new Date(now),
      minBitLength: MIN_RSA_BITS,
      rejectRsaSha1: true, // RFC 8301 §3.1
      // RFC 6376 §3.2 as the DKIM pass reads it (signature.ts): a repeated tag makes an ARC field's
      // tag-list invalid too (RFC 8617 §4.1.2 gives the AMS the DKIM-Signature's syntax).
      strict: true,
    });
    return response.arc;
  } catch {
    return undefined; // verify-arc.ts: a chain that could not be read fails (RFC 8617 §5.2.1)
  }
}

function safeIdentify(field: HeaderField): Omit<DkimSignatureResult, 'result' | 'reason'> {
  try {
    return identify(readSignature(field).tags);
  } catch {
    return { domain: '', selector: '', algorithm: '' };
  }
}
