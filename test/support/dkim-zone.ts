/** The loopback DNS server the DKIM rotation tests publish keys on, and resolvers that ask it. */
import { dkimRecord } from '../../src/admin/dkim-keys.ts';
import type { Resolver } from '../../src/dns/resolver.ts';
import { createResolver } from '../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../src/dns/test-server.ts';
import type { DkimKey } from '../../src/store/store.ts';

/** An empty zone and a resolver that asks it, uncached: each pass sees the zone as the test last set it. */
export async function startDkimZone(): Promise<{ dns: TestDnsServer; resolver: Resolver }> {
  const dns = await startTestDnsServer({ records: {} });
  return { dns, resolver: createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1, cacheTtlMs: 0 }) };
}

/** The zone serves these keys' records and nothing else. */
export function publishKeys(dns: TestDnsServer, keys: DkimKey[]): void {
  dns.setZone({ records: Object.fromEntries(keys.map((k) => [dkimRecord(k).name, { TXT: [dkimRecord(k).strings] }])) });
}

/** A resolver whose first TXT lookup waits until release(): a pass slowed by DNS. */
export function gatedResolver(inner: Resolver): { resolver: Resolver; entered: Promise<void>; release: () => void } {
  const { promise: gate, resolve: release } = Promise.withResolvers<void>();
  const { promise: entered, resolve: enter } = Promise.withResolvers<void>();
  let first = true;
  const held = Object.create(inner) as Resolver;
  held.txt = async (name: string) => {
    if (first) {
      first = false;
      enter();
      await gate;
    }
    return inner.txt(name);
  };
  return { resolver: held, entered, release };
}
