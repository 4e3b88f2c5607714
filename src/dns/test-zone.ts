/**
 * Test zones for the loopback DNS server (ARCHITECTURE.md principle 6): a plain object, or a YAML fixture
 * with the same shape. Validated on load so a typo in a fixture fails loudly instead of silently
 * answering NXDOMAIN. Not a zone-file (RFC 1035 §5) parser: no $ORIGIN, SOA or delegation.
 */

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse } from 'yaml';
import { z } from 'zod';
import { reverseName } from './reverse-name.ts';

export interface TestRecords {
  A?: string[];
  AAAA?: string[];
  MX?: { priority: number; exchange: string }[];
  /** A string longer than 255 bytes is split into chunks; an array gives the chunks explicitly. */
  TXT?: (string | string[])[];
  PTR?: string[];
  CNAME?: string;
  /** RFC 6698 §2.1; `data` is the certificate association data in hex. */
  TLSA?: { usage: number; selector: number; matchingType: number; data: string }[];
  /** RFC 8659 §4.1: flags (128: issuer critical), tag, value. */
  CAA?: { flags: number; tag: string; value: string }[];
}

export interface TestZone {
  /** Keyed by owner name (case-insensitive, trailing dot optional). An IP address key means its reverse name. */
  records: Record<string, TestRecords>;
  /** Names, or `name/TYPE`, that never get an answer: the client must time out. */
  timeout?: string[];
  /** Names, or `name/TYPE`, answered with SERVFAIL. */
  servfail?: string[];
  /**
   * Names, or `name/TYPE`, answered with this RCODE (RFC 1035 §4.1.1; the registry is RFC 6895 §2.3), e.g.
   * `{ 'example.com/TXT': 9 }` for NOTAUTH. The message is otherwise the zone's own answer, records included,
   * so a test can show that records under an error RCODE are not taken. Past 15 the upper eight bits go in the
   * OPT record (RFC 6891 §6.1.3), which the reply then carries. `name/TYPE` wins over `name`.
   */
  rcode?: Record<string, number>;
  /**
   * Names, or `name/TYPE`, in a zone a validating resolver found signed: their answers carry the AD bit when
   * the query asked for it with AD or DO (RFC 6840 §5.7, RFC 4035 §3.2.3), as a validating resolver's would.
   * Tests of the DNSSEC lookup use it; no signatures are made (the server is authoritative and signs nothing).
   */
  signed?: string[];
  /**
   * Names, or `name/TYPE`, whose records carry this TTL in seconds (RFC 1035 §3.2.1) instead of 60; a CNAME
   * hop is `name/CNAME`. Any 32-bit value, so a test can send one with the top bit set (RFC 2181 §8).
   */
  ttl?: Record<string, number>;
  /**
   * Names, or `name/TYPE`, whose negative answers (NXDOMAIN, NODATA; after a CNAME, the chain's last name)
   * carry an SOA with this TTL and MINIMUM, each 60 unless given (RFC 2308 §3, §5); `null` sends none.
   */
  soa?: Record<string, TestSoa>;
}

/** An SOA's TTL and MINIMUM (60 where absent), or null for a negative answer without one. */
export type TestSoa = { ttl?: number; minimum?: number } | null;

/** A zone ready for lookups: names normalized, conditions as `name` or `name/TYPE` keys. */
export interface CompiledZone {
  records: Map<string, TestRecords>;
  timeout: Set<string>;
  servfail: Set<string>;
  /** `name` or `name/TYPE` to the RCODE answered for it. */
  rcode: Map<string, number>;
  signed: Set<string>;
  ttl: Map<string, number>;
  soa: Map<string, TestSoa>;
}

const octet = z.number().int().min(0).max(255);
const ttl = z.number().int().min(0).max(0xffffffff); // RFC 1035 §3.2.1: an unsigned 32-bit field
const recordsSchema = z.strictObject({
  A: z.array(z.ipv4()).optional(),
  AAAA: z.array(z.ipv6()).optional(),
  MX: z.array(z.strictObject({ priority: z.number().int().min(0).max(65535), exchange: z.string() })).optional(),
  TXT: z.array(z.union([z.string(), z.array(z.string())])).optional(),
  PTR: z.array(z.string()).optional(),
  CNAME: z.string().optional(),
  TLSA: z
    .array(
      z.strictObject({
        usage: octet,
        selector: octet,
        matchingType: octet,
        data: z.string().regex(/^(?:[0-9a-fA-F]{2})*$/, 'an even number of hex digits'),
      }),
    )
    .optional(),
  CAA: z
    .array(z.strictObject({ flags: octet, tag: z.string().regex(/^[A-Za-z0-9]{1,15}$/), value: z.string() }))
    .optional(),
});
const zoneSchema = z.strictObject({
  records: z.record(z.string(), recordsSchema),
  timeout: z.array(z.string()).optional(),
  servfail: z.array(z.string()).optional(),
  // RFC 6891 §6.1.3: 12 bits, four in the header and eight in OPT.
  rcode: z.record(z.string(), z.number().int().min(0).max(4095)).optional(),
  signed: z.array(z.string()).optional(),
  ttl: z.record(z.string(), ttl).optional(),
  soa: z.record(z.string(), z.strictObject({ ttl: ttl.optional(), minimum: ttl.optional() }).nullable()).optional(),
});

/** Names compare case-insensitively (RFC 4343 §3); the trailing root dot is optional. */
export function canonicalName(name: string): string {
  return (name.endsWith('.') && name !== '.' ? name.slice(0, -1) : name).toLowerCase();
}

/** A zone key: as canonicalName, but an IP address becomes its reverse name so PTR fixtures may use addresses. */
export function normalizeName(name: string): string {
  const bare = canonicalName(name);
  return isIP(bare) ? reverseName(bare) : bare;
}

/** Validates a zone and indexes it; throws an Error naming the bad key. */
export function compileZone(zone: TestZone): CompiledZone {
  const parsed = zoneSchema.safeParse(zone);
  if (!parsed.success) throw new Error(`invalid test zone:\n${z.prettifyError(parsed.error)}`);
  const records = new Map<string, TestRecords>();
  for (const [name, set] of Object.entries(zone.records)) {
    // RFC 1034 §3.6.2: a CNAME owner has no other data, so such a fixture describes an impossible zone.
    if (set.CNAME !== undefined && Object.keys(set).length > 1) {
      throw new Error(`invalid test zone: ${name} has a CNAME and other records (RFC 1034 §3.6.2)`);
    }
    const key = normalizeName(name);
    if (records.has(key)) throw new Error(`invalid test zone: ${name} is listed twice`);
    records.set(key, set);
  }
  return {
    records,
    timeout: conditionKeys(zone.timeout),
    servfail: conditionKeys(zone.servfail),
    rcode: keyed('rcode', zone.rcode),
    signed: conditionKeys(zone.signed),
    ttl: keyed('ttl', zone.ttl),
    soa: keyed('soa', zone.soa),
  };
}

/** True when `name` (already normalized) or `name/TYPE` is in the condition set. */
export function matchesCondition(set: Set<string>, name: string, type: string): boolean {
  return set.has(name) || set.has(`${name}/${type.toUpperCase()}`);
}

/** The RCODE set for `name` (already normalized) and `type`, the type's own first; undefined when none is. */
export function rcodeFor(zone: CompiledZone, name: string, type: string): number | undefined {
  return keyedFor(zone.rcode, name, type);
}

/** The TTL set for the records of `name` (already normalized) and `type`, the type's own first. */
export function ttlFor(zone: CompiledZone, name: string, type: string): number | undefined {
  return keyedFor(zone.ttl, name, type);
}

/** The SOA of a negative answer about `name` (already normalized) and `type`; undefined when the zone sets none. */
export function soaFor(zone: CompiledZone, name: string, type: string): TestSoa | undefined {
  return keyedFor(zone.soa, name, type);
}

function keyedFor<V>(map: Map<string, V>, name: string, type: string): V | undefined {
  const own = `${name}/${type.toUpperCase()}`;
  return map.has(own) ? map.get(own) : map.get(name);
}

/** Reads a YAML fixture (same shape as TestZone) and validates it. */
export function loadZoneFile(path: string): TestZone {
  const zone = parse(readFileSync(path, 'utf8')) as TestZone;
  try {
    compileZone(zone);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
  return zone;
}

function conditionKeys(entries: string[] | undefined): Set<string> {
  return new Set((entries ?? []).map(conditionKey));
}

function conditionKey(entry: string): string {
  const slash = entry.lastIndexOf('/');
  if (slash < 0) return normalizeName(entry);
  return `${normalizeName(entry.slice(0, slash))}/${entry.slice(slash + 1).toUpperCase()}`;
}

function keyed<V>(field: string, entries: Record<string, V> | undefined): Map<string, V> {
  const keys = new Map<string, V>();
  for (const [entry, given] of Object.entries(entries ?? {})) {
    const key = conditionKey(entry);
    // Two spellings of one key with two values: which one answers would depend on the order of the keys.
    if (keys.has(key)) throw new Error(`invalid test zone: ${field} lists ${entry} twice`);
    keys.set(key, given);
  }
  return keys;
}
