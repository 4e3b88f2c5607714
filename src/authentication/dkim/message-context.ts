/**
 * What the signatures of one message share (verify-signature.ts MessageContext): each body hash, by
 * canonicalization, hash algorithm and l=, is computed once (and each canonicalized body once), and each key
 * record is looked up once, however many signatures name it.
 */

import type { Buffer } from 'node:buffer';
import type { Resolver } from '../../dns/resolver.ts';
import { type BodyHash, bodyHash, type CanonicalBody, relaxedBody, simpleBody } from './canonicalize.ts';
import { type KeyLookup, lookupKey } from './key-record.ts';
import { type HeaderField, withCrlf } from './message.ts';
import type { MessageContext } from './verify-signature.ts';

/** The per-message memo of body hashes and key lookups the signatures share. */
export function messageContext(fields: HeaderField[], body: Buffer, now: number, resolver: Resolver): MessageContext {
  let bytes: Buffer | undefined;
  const canonical = new Map<string, CanonicalBody>();
  const hashes = new Map<string, BodyHash>();
  const keys = new Map<string, Promise<KeyLookup>>();
  return {
    fields,
    now,
    bodyHash(canon, algorithm, limit) {
      const id = `${canon}:${algorithm}:${limit ?? ''}`;
      let hash = hashes.get(id);
      if (hash === undefined) {
        let canonicalized = canonical.get(canon);
        if (canonicalized === undefined) {
          bytes ??= withCrlf(body);
          canonicalized = canon === 'relaxed' ? relaxedBody(bytes) : simpleBody(bytes);
          canonical.set(canon, canonicalized);
        }
        hash = bodyHash(canonicalized, algorithm, limit);
        hashes.set(id, hash);
      }
      return hash;
    },
    key(name) {
      const id = name.toLowerCase();
      let lookup = keys.get(id);
      if (lookup === undefined) {
        lookup = lookupKey(resolver, name);
        keys.set(id, lookup);
      }
      return lookup;
    },
  };
}
