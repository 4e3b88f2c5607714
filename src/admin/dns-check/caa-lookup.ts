/**
 * The CAA query (RFC 8659 §4.1) `postern dns check` uses. Our Resolver has no CAA query, so the lookup
 * is its own (node:dns on the configured servers) and injectable.
 */

import { Resolver as NodeResolver } from 'node:dns/promises';
import type { Config } from '../../config/schema.ts';
import type { DnsAnswer } from '../../dns/resolver.ts';
import { fromError } from '../../dns/system-resolver.ts';

/** RFC 8659 §4.1: flags (bit 128 "issuer critical"), tag, value. */
export interface CaaRecord {
  critical: boolean;
  tag: string;
  value: string;
}

export type CaaLookup = (name: string) => Promise<DnsAnswer<CaaRecord>>;

export function createCaaLookup(options: Pick<Config['dns'], 'servers' | 'timeoutMs' | 'tries'>): CaaLookup {
  const node = new NodeResolver({ timeout: options.timeoutMs, tries: options.tries });
  if (options.servers.length > 0) node.setServers(options.servers);
  return async (name) => {
    try {
      const records = await node.resolveCaa(name);
      if (records.length === 0) return { ok: false, error: 'nodata' };
      return {
        ok: true,
        records: records.map((r) => {
          // The one property besides `critical` names the tag; Node 24 adds `type: 'CAA'` beside it.
          const [tag = '', value = ''] = Object.entries(r).find(([key]) => key !== 'critical' && key !== 'type') ?? [];
          return { critical: (r.critical & 128) !== 0, tag, value: String(value) };
        }),
      };
    } catch (err) {
      return fromError(err, 'CAA', name);
    }
  };
}
