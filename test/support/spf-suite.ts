/**
 * The OpenSPF RFC 7208 test suite (../shared/conformance/spf/rfc7208-tests.yml, release 2014.04) as data:
 * each YAML document's `zonedata` becomes a TestZone for the loopback DNS server, each test a case.
 *
 * Record conversion:
 * - TXT: a string is one record; a list of strings is one record of several chunks (RFC 7208 §3.3).
 * - SPF (type 99): RFC 7208 §3.1 retired it and we ask for TXT only, so, as the suite's header asks
 *   of drivers, an owner's SPF records are served as TXT when it has no TXT of its own, and dropped when it
 *   has (the "Selecting records" cases that give both expect the TXT to win). An empty SPF list becomes a
 *   TXT record with no strings, which our server cannot encode, so it is served as one empty string.
 * - A, AAAA, PTR, CNAME as such; MX `[priority, host]`; `TIMEOUT` puts the owner in the zone's timeout list,
 *   except beside TXT without SPF records, where the suite means the (never sent) type-99 query: `owner/SPF`.
 * - Any other entry throws: the loader never drops data silently.
 */

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { TestRecords, TestZone } from '../../src/dns/test-zone.ts';

export const SPF_SUITE_PATH = new URL('../../../shared/conformance/spf/rfc7208-tests.yml', import.meta.url);

export type SpfResultCode = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror';

export interface SpfSuiteCase {
  /** `<scenario description> / <test name>`. */
  id: string;
  name: string;
  helo: string;
  ip: string;
  mailfrom: string;
  /** Any one of these is correct. */
  results: SpfResultCode[];
  /** Expected `exp=` text; 'DEFAULT' in the suite means "the receiver's default", not compared. */
  explanation?: string;
  spec?: string;
}

export interface SpfSuiteScenario {
  description: string;
  zone: TestZone;
  cases: SpfSuiteCase[];
}

type ZoneEntry = string | Record<string, unknown>;
interface RawDocument {
  description: string;
  tests: Record<string, Record<string, unknown>>;
  zonedata?: Record<string, ZoneEntry[]>;
}

export function loadSpfSuite(path: URL | string = SPF_SUITE_PATH): SpfSuiteScenario[] {
  // Some JS YAML loaders choke on the whole stream; split on the document markers, as SOURCE.md says.
  const pieces = readFileSync(path, 'utf8')
    .split(/^-{2,}$/m)
    .slice(1);
  return pieces.map((piece) => {
    const doc = parse(piece) as RawDocument;
    const cases = Object.entries(doc.tests).map(([name, t]): SpfSuiteCase => {
      const expected = t.result as SpfResultCode | SpfResultCode[];
      const explanation = t.explanation === undefined ? undefined : String(t.explanation);
      return {
        id: `${doc.description} / ${name}`,
        name,
        helo: String(t.helo ?? ''),
        ip: String(t.host),
        mailfrom: String(t.mailfrom ?? ''),
        results: Array.isArray(expected) ? expected : [expected],
        ...(explanation === undefined ? {} : { explanation }),
        ...(t.spec === undefined ? {} : { spec: String(t.spec) }),
      };
    });
    return { description: doc.description, zone: toZone(doc.zonedata ?? {}), cases };
  });
}

export function toZone(zonedata: Record<string, ZoneEntry[]>): TestZone {
  const records: Record<string, TestRecords> = {};
  const timeout: string[] = [];
  for (const [owner, entries] of Object.entries(zonedata)) {
    const set: TestRecords = {};
    const spf: (string | string[])[] = [];
    for (const entry of entries) {
      if (entry === 'TIMEOUT') continue;
      if (typeof entry !== 'object' || entry === null) throw new Error(`${owner}: unknown zone entry ${entry}`);
      for (const [type, value] of Object.entries(entry)) addRecord(set, spf, owner, type, value);
    }
    // "TXT record present, but SPF lookup times out" (spftimeout): with TXT and no SPF records the timeout
    // is the type-99 query's, which nobody sends; otherwise every query for the name times out.
    if (entries.includes('TIMEOUT')) timeout.push(set.TXT !== undefined && spf.length === 0 ? `${owner}/SPF` : owner);
    if (set.TXT === undefined && spf.length > 0) set.TXT = spf; // §3.1: SPF RRs are published as TXT
    if (Object.keys(set).length > 0) records[owner] = set;
  }
  return timeout.length > 0 ? { records, timeout } : { records };
}

function addRecord(set: TestRecords, spf: (string | string[])[], owner: string, type: string, value: unknown) {
  switch (type) {
    case 'TXT':
      set.TXT = [...(set.TXT ?? []), txtValue(value)];
      return;
    case 'SPF':
      spf.push(txtValue(value));
      return;
    case 'A':
    case 'AAAA':
    case 'PTR':
      set[type] = [...(set[type] ?? []), String(value)];
      return;
    case 'CNAME':
      set.CNAME = String(value);
      return;
    case 'MX': {
      const [priority, exchange] = value as [number, string];
      set.MX = [...(set.MX ?? []), { priority, exchange }];
      return;
    }
    default:
      throw new Error(`${owner}: zone entry of type ${type} is not supported by the test DNS server`);
  }
}

function txtValue(value: unknown): string | string[] {
  if (Array.isArray(value)) return value.length === 0 ? '' : value.map(String);
  return String(value);
}
