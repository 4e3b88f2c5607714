/**
 * SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, server side: RFC 5802 with SHA-256 (RFC 7677) and the
 * tls-exporter channel binding (RFC 9266). Stored secrets use RFC 5803's text form, so the server
 * keeps StoredKey and ServerKey, never the password or SaltedPassword.
 * Passwords and names are prepared with SASLprep (RFC 4013), as PLAIN's are (../password-prep.ts).
 * Not done: other channel binding types (tls-unique, tls-server-end-point); SCRAM-SHA-1; the GSS-API form.
 */

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { prepareLoginName, preparePassword } from '../password-prep.ts';
import type { ChannelBinding, Credentials, SaslExchange, SaslStep, ScramCredentials } from './exchange.ts';

export const SCRAM_MIN_ITERATIONS = 4096; // RFC 7677 §4: "at least 4096"
const MAX_ITERATIONS = 10_000_000; // the client pays for these; a stored value beyond is corrupt
const SALT_BYTES = 16;
const MIN_SALT_BYTES = 8;
export const KEY_BYTES = 32; // SHA-256 output, RFC 7677 §3
const MAX_MESSAGE = 4096; // a client message is a few hundred octets; bound the parsing

export class InvalidScramCredentialsError extends Error {
  readonly code = 'INVALID_SCRAM_CREDENTIALS';
}

/** The stored secret for a password (RFC 5802 §3), with a random 16-byte salt unless given. */
export function deriveScramCredentials(
  password: string,
  options: { salt?: Buffer; iterations?: number } = {},
): ScramCredentials {
  if (password.length === 0) throw new TypeError('a password must not be empty');
  const iterations = options.iterations ?? SCRAM_MIN_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new RangeError(`SCRAM iterations must be ${SCRAM_MIN_ITERATIONS} to ${MAX_ITERATIONS}, not ${iterations}`);
  }
  const salt = options.salt ?? randomBytes(SALT_BYTES);
  // RFC 5802 §2.2: Hi() is PBKDF2 (RFC 8018) with HMAC as the PRF and one output block.
  const saltedPassword = pbkdf2Sync(saslPrep(password), salt, iterations, KEY_BYTES, 'sha256');
  const clientKey = hmac(saltedPassword, 'Client Key');
  return { iterations, salt, storedKey: sha256(clientKey), serverKey: hmac(saltedPassword, 'Server Key') };
}

/** RFC 5803 §3: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64 with padding. */
export function formatScramCredentials(c: ScramCredentials): string {
  const b64 = (b: Buffer) => b.toString('base64');
  return `SCRAM-SHA-256$${c.iterations}:${b64(c.salt)}$${b64(c.storedKey)}:${b64(c.serverKey)}`;
}

export function parseScramCredentials(s: string): ScramCredentials {
  const match = /^SCRAM-SHA-256\$(\d{1,9}):([^$:]+)\$([^$:]+):([^$:]+)$/.exec(s);
  if (!match) throw new InvalidScramCredentialsError('not SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>');
  const iterations = Number(match[1]);
  if (iterations < SCRAM_MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new InvalidScramCredentialsError(`SCRAM iterations ${iterations} out of range`);
  }
  const [salt, storedKey, serverKey] = [match[2]!, match[3]!, match[4]!].map(decodeBase64);
  if (!salt || salt.byteLength < MIN_SALT_BYTES) {
    throw new InvalidScramCredentialsError(`SCRAM salt is not base64 of at least ${MIN_SALT_BYTES} bytes`);
  }
  if (storedKey?.byteLength !== KEY_BYTES || serverKey?.byteLength !== KEY_BYTES) {
    throw new InvalidScramCredentialsError(`SCRAM keys are not base64 of ${KEY_BYTES} bytes (SHA-256)`);
  }
  return { iterations, salt, storedKey, serverKey };
}

export interface ScramOptions {
  plus: boolean;
  channelBinding?: ChannelBinding;
  plusOffered: boolean;
  nonce?: () => string;
}

type ScramState =
  | { name: 'start' | 'client-first' | 'done' }
  | {
      name: 'client-final';
      username: string;
      known: boolean;
      secret: ScramCredentials;
      gs2Header: string;
      clientFirstBare: string;
      serverFirst: string;
      nonce: string;
    };

// When the credentials give no key of their own (Credentials.fakeSaltKey): per process, a made-up salt
// stays the same while the server runs, so asking twice shows no difference between a real user
// (whose salt is fixed) and an unknown one. The server's key lives in the store, the same everywhere.
const FAKE_SALT_KEY = randomBytes(32);

export class ScramExchange implements SaslExchange {
  readonly mechanism: string;
  readonly #credentials: Credentials;
  readonly #options: ScramOptions;
  #state: ScramState = { name: 'start' };

  constructor(credentials: Credentials, options: ScramOptions) {
    this.mechanism = options.plus ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256';
    this.#credentials = credentials;
    this.#options = options;
  }

  async start(initial: Buffer | undefined): Promise<SaslStep> {
    if (this.#state.name !== 'start') return malformed('the SCRAM exchange has already started');
    if (initial === undefined) {
      // RFC 5802 §5: the client speaks first; an empty challenge asks for it (RFC 4422 §5).
      this.#state = { name: 'client-first' };
      return { type: 'challenge', data: Buffer.alloc(0) };
    }
    return this.#clientFirst(initial);
  }

  async next(response: Buffer): Promise<SaslStep> {
    const state = this.#state;
    switch (state.name) {
      case 'client-first':
        return this.#clientFirst(response);
      case 'client-final':
        this.#state = { name: 'done' };
        return clientFinal(state, this.#options, response);
      case 'start':
      case 'done':
        return malformed('the SCRAM exchange is not expecting this message');
      default:
        return state satisfies never;
    }
  }

  async #clientFirst(bytes: Buffer): Promise<SaslStep> {
    this.#state = { name: 'done' }; // until it succeeds, any return ends the exchange
    const first = parseClientFirst(bytes);
    if (typeof first === 'string') return malformed(first);
    const refusal = checkBindingFlag(first.flag, this.#options);
    if (refusal) return { type: 'failure', reason: 'binding', message: refusal };
    if (first.authzid !== undefined && first.authzid !== first.username) {
      // RFC 5802 §5.1 lets the server refuse an authzid; we do not support proxy authorization.
      const username = first.username;
      return { type: 'failure', reason: 'credentials', message: 'proxy authorization is not supported', username };
    }
    const stored = await this.#credentials.scramCredentials(first.username);
    // RFC 5802 §7 lets the server hide "unknown-user" to prevent information disclosure; we also
    // keep the exchange's shape: a made-up salt and the usual steps, failing only at the proof.
    const secret =
      stored ?? fakeCredentials(first.username, (await this.#credentials.fakeSaltKey?.()) ?? FAKE_SALT_KEY);
    const serverNonce = this.#options.nonce?.() ?? randomBytes(18).toString('base64');
    if (!PRINTABLE.test(serverNonce)) throw new TypeError('a SCRAM nonce is printable ASCII without ","');
    const nonce = first.clientNonce + serverNonce; // RFC 5802 §5.1 "r": the client's nonce, then ours
    const serverFirst = `r=${nonce},s=${secret.salt.toString('base64')},i=${secret.iterations}`;
    this.#state = {
      name: 'client-final',
      username: first.username,
      known: stored !== undefined,
      secret,
      gs2Header: first.gs2Header,
      clientFirstBare: first.bare,
      serverFirst,
      nonce,
    };
    return { type: 'challenge', data: Buffer.from(serverFirst, 'utf8') };
  }
}

type Gs2Flag = { type: 'n' | 'y' } | { type: 'p'; name: string };

/** RFC 5802 §6 (downgrade protection) with RFC 9266's single binding type; a string refuses. */
function checkBindingFlag(flag: Gs2Flag, options: ScramOptions): string | undefined {
  const { plus, channelBinding, plusOffered } = options;
  switch (flag.type) {
    case 'p':
      if (!plus) return 'channel binding (p=) needs SCRAM-SHA-256-PLUS';
      if (flag.name !== 'tls-exporter') return `channel binding type ${flag.name} is not supported (tls-exporter)`;
      if (!channelBinding) return 'this connection has no tls-exporter channel binding';
      return undefined;
    case 'y':
      if (plus) return 'SCRAM-SHA-256-PLUS needs p=tls-exporter';
      // §6: the client could bind but thinks we cannot: we offered PLUS, so someone removed it.
      if (plusOffered && channelBinding) return 'the server supports channel binding; use SCRAM-SHA-256-PLUS';
      return undefined;
    case 'n':
      return plus ? 'SCRAM-SHA-256-PLUS needs p=tls-exporter' : undefined;
    default:
      return flag satisfies never;
  }
}

interface ClientFirst {
  gs2Header: string;
  flag: Gs2Flag;
  authzid?: string;
  username: string;
  clientNonce: string;
  bare: string;
}

// RFC 5802 §7: printable = %x21-2B / %x2D-7E (no comma); extensions are ALPHA "=" value.
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
const EXTENSION = /^[A-Za-z]=[^,]*$/;

/** RFC 5802 §7 client-first-message = gs2-header client-first-message-bare. */
function parseClientFirst(bytes: Buffer): ClientFirst | string {
  const text = decodeUtf8(bytes);
  if (text === undefined) return 'not UTF-8 (or longer than 4096 octets)';
  const gs2 = /^(n|y|p=[A-Za-z0-9.-]+),(?:a=([^,]*))?,/.exec(text); // RFC 5802 §7 gs2-header
  if (!gs2) return 'expected a GS2 header: n,, or y,, or p=<type>,,';
  const flag: Gs2Flag = gs2[1]!.startsWith('p=') ? { type: 'p', name: gs2[1]!.slice(2) } : { type: gs2[1] as 'n' };
  const bare = text.slice(gs2[0].length);
  const [user, nonce, ...extensions] = bare.split(',');
  // §5.1 "m": reserved; its presence MUST cause authentication failure.
  if (user?.startsWith('m=')) return 'mandatory extensions (m=) are not supported';
  if (!user?.startsWith('n=')) return 'expected n=<username>';
  if (!nonce?.startsWith('r=') || !PRINTABLE.test(nonce.slice(2))) return 'expected r=<printable nonce>';
  if (!extensions.every((e) => EXTENSION.test(e))) return 'invalid extension attribute';
  const username = decodeSaslname(user.slice(2));
  if (username === undefined) return 'invalid username encoding';
  const authzid = gs2[2] === undefined ? undefined : decodeSaslname(gs2[2]);
  if (gs2[2] !== undefined && authzid === undefined) return 'invalid authzid encoding';
  const first: ClientFirst = { gs2Header: gs2[0], flag, username, clientNonce: nonce.slice(2), bare };
  return authzid === undefined ? first : { ...first, authzid };
}

/**
 * RFC 5802 §5.1: "=2C" is ",", "=3D" is "=", any other "=" MUST fail; then SASLprep. Lower-cased
 * last: accounts are addresses, compared case-insensitively (address.ts).
 */
function decodeSaslname(s: string): string | undefined {
  if (s.length === 0 || s.includes('\0') || /=(?!2C|3D)/i.test(s)) return undefined;
  const name = prepareLoginName(s.replace(/=2C|=3D/gi, (e) => (e.toUpperCase() === '=2C' ? ',' : '=')));
  return name.length === 0 ? undefined : name;
}

async function clientFinal(
  state: Extract<ScramState, { name: 'client-final' }>,
  options: ScramOptions,
  bytes: Buffer,
): Promise<SaslStep> {
  const text = decodeUtf8(bytes);
  if (text === undefined) return malformed('not UTF-8 (or longer than 4096 octets)');
  // RFC 5802 §7: client-final-message = client-final-message-without-proof "," proof; proof is last.
  const proofAt = text.lastIndexOf(',p=');
  if (proofAt < 0) return malformed('expected p=<proof> at the end');
  const withoutProof = text.slice(0, proofAt);
  const proof = decodeBase64(text.slice(proofAt + 3));
  const [cbind, nonce, ...extensions] = withoutProof.split(',');
  if (!cbind?.startsWith('c=') || !nonce?.startsWith('r=')) return malformed('expected c=<binding>,r=<nonce>');
  if (!extensions.every((e) => EXTENSION.test(e))) return malformed('invalid extension attribute');
  if (proof?.byteLength !== KEY_BYTES) return malformed('the proof is not base64 of 32 bytes');
  // §6 and RFC 9266: c= is base64 of the gs2-header followed, for p=, by the binding data, so a
  // man in the middle (a different TLS connection) cannot relay the exchange.
  const bindingData = state.gs2Header.startsWith('p=') ? options.channelBinding?.data : undefined;
  const expected = Buffer.concat([Buffer.from(state.gs2Header, 'utf8'), bindingData ?? Buffer.alloc(0)]);
  const received = decodeBase64(cbind.slice(2));
  if (!received || !equal(received, expected)) {
    return { type: 'failure', reason: 'binding', message: 'channel binding does not match' };
  }
  if (nonce.slice(2) !== state.nonce) return malformed('the nonce is not the one of this exchange');
  // RFC 5802 §3: AuthMessage, ClientSignature; ClientKey = ClientProof XOR ClientSignature, and
  // the proof holds when H(ClientKey) is the StoredKey.
  const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`;
  const clientSignature = hmac(state.secret.storedKey, authMessage);
  const clientKey = Buffer.alloc(KEY_BYTES);
  for (let i = 0; i < KEY_BYTES; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
  const proven = equal(sha256(clientKey), state.secret.storedKey);
  if (!proven || !state.known) {
    return { type: 'failure', reason: 'credentials', message: 'authentication failed', username: state.username };
  }
  const serverSignature = hmac(state.secret.serverKey, authMessage);
  // §5.1 server-final-message "v=": proves to the client that we hold the ServerKey.
  return { type: 'success', username: state.username, data: Buffer.from(`v=${serverSignature.toString('base64')}`) };
}

/**
 * A stand-in secret for a user without one: a stable salt, keys that match no proof. Exported for a
 * caller that looks accounts up by another spelling of the name (submission-auth.ts: A-labels), whose
 * made-up salt must be the one this gives that spelling. `iterations`: the count accounts are given
 * now (auth.scramIterations); a made-up 4,096 beside real accounts' 100,000 told which names exist
 * without a single failed login (RFC 5802 §7 lets a server hide that; we mean to).
 */
export function fakeCredentials(
  username: string,
  key: Buffer,
  iterations: number = SCRAM_MIN_ITERATIONS,
): ScramCredentials {
  const salt = createHmac('sha256', key).update(username).digest().subarray(0, SALT_BYTES);
  return {
    iterations,
    salt,
    storedKey: randomBytes(KEY_BYTES),
    serverKey: randomBytes(KEY_BYTES),
  };
}

/** RFC 5802 §2.2 Normalize(): SASLprep, as every mechanism prepares passwords (../password-prep.ts). */
function saslPrep(s: string): string {
  return preparePassword(s);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Buffer): string | undefined {
  if (bytes.byteLength > MAX_MESSAGE) return undefined;
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Strict base64 (RFC 4648 §4, with padding): Node's decoder skips junk, so re-encode and compare. */
function decodeBase64(s: string): Buffer | undefined {
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64') === s ? bytes : undefined;
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** Constant time for equal lengths; lengths are public (32 bytes, or the binding's size). */
function equal(a: Buffer, b: Buffer): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

function malformed(message: string): SaslStep {
  return { type: 'failure', reason: 'malformed', message };
}
