/**
 * The CAA query (RFC 8659 §4.1) `postern dns check` uses: on the configured servers, through the same stub
 * resolver as every other look-up (src/dns/system-resolver.ts), and injectable.
 */

import type { Config } from '../../config/schema.ts';
import type { DnsAnswer } from '../../dns/resolver.ts';
import { type CaaRecord, createCaaResolver } from '../../dns/system-resolver.ts';

export type { CaaRecord };

export type CaaLookup = (name: string) => Promise<DnsAnswer<CaaRecord>>;

export function createCaaLookup(options: Pick<Config['dns'], 'servers' | 'timeoutMs' | 'tries'>): CaaLookup {
  return createCaaResolver(options);
}
