/**
 * The generated records as a zone for the loopback test DNS server (dns/test-zone.ts), so a test can
 * publish exactly what `dns records` prints and run `dns check` against it. Records still to do are
 * left out, and so are the types the test server does not answer (SRV, CAA): `skipped` lists them.
 */
import type { TestRecords, TestZone } from '../dns/test-zone.ts';
import type { DnsRecord } from './dns-records.ts';
import { txtStrings } from './zone-lines.ts';

export function recordsToTestZone(records: DnsRecord[]): { zone: TestZone; skipped: DnsRecord[] } {
  const zone: TestZone = { records: {} };
  const skipped: DnsRecord[] = [];
  for (const record of records) {
    if (record.todo) {
      skipped.push(record);
      continue;
    }
    const set: TestRecords = zone.records[record.name] ?? {};
    zone.records[record.name] = set;
    const [first = '', second = '', third = '', data = ''] = record.value.split(' ');
    switch (record.type) {
      case 'A':
      case 'AAAA':
        add(set, record.type, record.value);
        break;
      case 'MX':
        add(set, 'MX', { priority: Number(first), exchange: bare(second) });
        break;
      case 'TXT':
        add(set, 'TXT', txtStrings(record.value));
        break;
      case 'CNAME':
        set.CNAME = bare(record.value);
        break;
      case 'PTR':
        add(set, 'PTR', bare(record.value));
        break;
      case 'TLSA':
        add(set, 'TLSA', { usage: Number(first), selector: Number(second), matchingType: Number(third), data });
        break;
      case 'SRV':
      case 'CAA':
        skipped.push(record);
        break;
      default:
        throw new Error(`recordsToTestZone: unhandled type ${record.type satisfies never}`);
    }
  }
  for (const [name, set] of Object.entries(zone.records)) if (Object.keys(set).length === 0) delete zone.records[name];
  return { zone, skipped };
}

type ListKey = Exclude<keyof TestRecords, 'CNAME'>;

function add<K extends ListKey>(set: TestRecords, key: K, value: NonNullable<TestRecords[K]>[number]): void {
  const list = (set[key] ?? []) as NonNullable<TestRecords[K]>[number][];
  list.push(value);
  set[key] = list as TestRecords[K];
}

function bare(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
