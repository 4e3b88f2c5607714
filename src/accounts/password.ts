/**
 * Password hashing with Argon2id (RFC 9106), stored as a PHC string:
 *   $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>   (base64 without padding)
 * Parameters are OWASP's minimum for Argon2id: 19 MiB of memory, 2 passes, 1 lane
 * (https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html).
 * Verification reads the parameters from the stored string, so they can be raised later without
 * invalidating old hashes.
 */

import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import { preparePassword } from './password-prep.ts';

export interface Argon2Params {
  memoryKiB: number;
  passes: number;
  parallelism: number;
}

export const DEFAULT_ARGON2_PARAMS: Readonly<Argon2Params> = { memoryKiB: 19456, passes: 2, parallelism: 1 };

const ARGON2_VERSION = 19; // 0x13, RFC 9106 §3.1
const SALT_BYTES = 16; // RFC 9106 §3.1 recommends 16 bytes for password hashing
const HASH_BYTES = 32;

/**
 * Bounds for parameters read back from a stored hash: a tampered or corrupt string must not make
 * one login allocate gigabytes or spin for minutes.
 */
const LIMITS = { maxMemoryKiB: 1024 * 1024, maxPasses: 64, maxParallelism: 16, minHashBytes: 16, maxHashBytes: 64 };

export class InvalidPasswordHashError extends Error {
  readonly code = 'INVALID_PASSWORD_HASH';
}

export async function hashPassword(plain: string): Promise<string> {
  if (plain.length === 0) throw new TypeError('a password must not be empty');
  const salt = randomBytes(SALT_BYTES);
  const hash = await deriveKey(messageOf(plain), salt, DEFAULT_ARGON2_PARAMS, HASH_BYTES);
  const { memoryKiB: m, passes: t, parallelism: p } = DEFAULT_ARGON2_PARAMS;
  return `$argon2id$v=${ARGON2_VERSION}$m=${m},t=${t},p=${p}$${toB64(salt)}$${toB64(hash)}`;
}

/**
 * True when `plain` matches the stored hash. Throws InvalidPasswordHashError when the stored string
 * is not an Argon2id PHC string we can check: that is a broken database, not a wrong password.
 */
export async function verifyPassword(plain: string, phc: string): Promise<boolean> {
  const stored = parsePhc(phc);
  const matches = async (message: Buffer) =>
    // constant time: no early exit on the first differing byte
    timingSafeEqual(await deriveKey(message, stored.salt, stored.params, stored.hash.byteLength), stored.hash);
  if (await matches(messageOf(plain))) return true;
  // Hashes made before SASLprep took the password in NFC (RFC 8265 §4.2): they still match as they were.
  const legacy = Buffer.from(plain.normalize('NFC'), 'utf8');
  return !legacy.equals(messageOf(plain)) && (await matches(legacy));
}

/** The octets hashed: the password as SASLprep prepares it (password-prep.ts), in UTF-8. */
function messageOf(plain: string): Buffer {
  return Buffer.from(preparePassword(plain), 'utf8');
}

interface StoredHash {
  params: Argon2Params;
  salt: Buffer;
  hash: Buffer;
}

// PHC string format: https://github.com/P-H-C/phc-string-format/blob/master/phc-sf-spec.md
const PHC_PATTERN = /^\$argon2id\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function parsePhc(phc: string): StoredHash {
  const match = PHC_PATTERN.exec(phc);
  if (!match) throw new InvalidPasswordHashError('not an Argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)');
  const [, version, m, t, p, salt, hash] = match as unknown as [string, string, string, string, string, string, string];
  if (Number(version) !== ARGON2_VERSION) {
    throw new InvalidPasswordHashError(`Argon2 version ${version} is not supported (only v=${ARGON2_VERSION})`);
  }
  const params = { memoryKiB: Number(m), passes: Number(t), parallelism: Number(p) };
  const saltBytes = Buffer.from(salt, 'base64');
  const hashBytes = Buffer.from(hash, 'base64');
  if (
    params.parallelism < 1 ||
    params.parallelism > LIMITS.maxParallelism ||
    params.passes < 1 ||
    params.passes > LIMITS.maxPasses ||
    params.memoryKiB < 8 * params.parallelism || // RFC 9106 §3.1: m ≥ 8p
    params.memoryKiB > LIMITS.maxMemoryKiB
  ) {
    throw new InvalidPasswordHashError(`Argon2 parameters out of range: m=${m},t=${t},p=${p}`);
  }
  if (saltBytes.byteLength < 8) throw new InvalidPasswordHashError('Argon2 salt shorter than 8 bytes'); // RFC 9106 §3.1
  if (hashBytes.byteLength < LIMITS.minHashBytes || hashBytes.byteLength > LIMITS.maxHashBytes) {
    throw new InvalidPasswordHashError(`Argon2 hash length ${hashBytes.byteLength} out of range`);
  }
  return { params, salt: saltBytes, hash: hashBytes };
}

function deriveKey(message: Buffer, salt: Buffer, params: Argon2Params, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2(
      'argon2id',
      {
        message,
        nonce: salt,
        memory: params.memoryKiB,
        passes: params.passes,
        parallelism: params.parallelism,
        tagLength: length,
      },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

function toB64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, ''); // the PHC format omits padding
}
