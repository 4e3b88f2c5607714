/**
 * `postern dns check <domain>`: every area's checks, run side by side against the configured resolver
 * and the mail host, in the order an admin sets a domain up (names, MX, SPF, DKIM, DMARC, TLS-RPT,
 * MTA-STS, BIMI, DANE, CAA, the server). An area that throws (a broken store, a bug) becomes one warning,
 * so the others still report and nothing is called passed or failed on a doubt.
 */

import type { Config } from '../../config/schema.ts';
import { createDnssecLookup } from '../../dns/dnssec.ts';
import type { Resolver } from '../../dns/resolver.ts';
import { lookupAddresses } from './addresses.ts';
import { checkBimi } from './bimi.ts';
import { checkCaa } from './caa.ts';
import { type CaaLookup, createCaaLookup } from './caa-lookup.ts';
import { bareName, type CheckContext, type DkimKeySource, type DnssecLookup } from './context.ts';
import { checkDane } from './dane.ts';
import { checkDkim } from './dkim.ts';
import { checkDmarc } from './dmarc.ts';
import { createHttpsFetch, type HttpsFetch } from './https-fetch.ts';
import { checkMtaSts } from './mta-sts.ts';
import { checkMx } from './mx.ts';
import { checkNames } from './names.ts';
import { type PortKind, type PortResult, type ProbeOptions, type ProbeResult, probeServer } from './probe.ts';
import { type Check, type CheckArea, warn } from './report.ts';
import { checkServer } from './server.ts';
import { checkSpfArea } from './spf.ts';
import { checkTlsRpt } from './tls-rpt.ts';

export interface DnsCheckOptions {
  config: Config;
  resolver: Resolver;
  store: DkimKeySource;
  /** How to reach the mail host; default its first A/AAAA address on 25, 587, 465. false: no server checks. */
  probe?: ProbeOptions | false;
  /** HTTPS GET for the MTA-STS policy and the BIMI logo; default createHttpsFetch over `resolver`. */
  fetch?: HttpsFetch;
  /** CAA lookups; default node:dns on config.dns.servers. */
  caa?: CaaLookup;
  /** DNSSEC status of a name; default the AD bit from config.dns.servers (src/dns/dnssec.ts). */
  dnssec?: DnssecLookup;
  /**
   * PEM roots of the Mark Verifying Authorities a BIMI VMC must chain to; default the list @postalsys/vmc
   * ships with mailauth (the BIMI Group's MVAs). Tests: a test CA.
   */
  vmcRoots?: string[];
  /** For certificate expiry; default now. */
  now?: Date;
}

type Area = (ctx: CheckContext) => Promise<Check[]>;

const AREAS: [CheckArea, Area][] = [
  ['names', checkNames],
  ['mx', checkMx],
  ['spf', checkSpfArea],
  ['dkim', checkDkim],
  ['dmarc', checkDmarc],
  ['tls-rpt', checkTlsRpt],
  ['mta-sts', checkMtaSts],
  ['bimi', checkBimi],
  ['dane', checkDane],
  ['caa', checkCaa],
  ['server', checkServer],
];

export async function runDnsCheck(domain: string, options: DnsCheckOptions): Promise<Check[]> {
  const { config, resolver } = options;
  const hostAddresses = lookupAddresses(resolver, config.hostname);
  const ctx: CheckContext = {
    domain: bareName(domain),
    config,
    resolver,
    store: options.store,
    fetch: options.fetch ?? createHttpsFetch({ resolver }),
    caa: options.caa ?? createCaaLookup(config.dns),
    dnssec:
      options.dnssec ??
      createDnssecLookup({ servers: config.dns.servers, timeoutMs: config.dns.timeoutMs, tries: config.dns.tries }),
    vmcRoots: options.vmcRoots,
    now: options.now ?? new Date(),
    mx: resolver.mx(bareName(domain)),
    hostAddresses,
    served: probe(config, options.probe, hostAddresses),
    servedElsewhere: probeOtherAddresses(config, options.probe, hostAddresses),
  };
  const results = await Promise.all(
    AREAS.map(async ([area, run]) => {
      try {
        return await run(ctx);
      } catch (err) {
        return [
          warn(
            area,
            `${area}.error`,
            `could not check: ${err instanceof Error ? err.message : String(err)}`,
            'Run the check again; if it persists, report it with the output of postern dns check --json.',
          ),
        ];
      }
    }),
  );
  return results.flat();
}

/** Port 25 at the mail host's addresses after the first; none when the probe is off or aimed at one host. */
async function probeOtherAddresses(
  config: Config,
  options: ProbeOptions | false | undefined,
  hostAddresses: CheckContext['hostAddresses'],
): Promise<{ address: string; smtp: PortResult }[]> {
  if (options === false || options?.host !== undefined) return [];
  const found = await hostAddresses;
  if (!found.ok) return [];
  return Promise.all(
    found.addresses.slice(1).map(async (address) => {
      // Only the first address's chain is compared with TLSA records (dane.ts): no second handshake here.
      const { ports } = await probeServer(config.hostname, ['smtp'], { ...options, host: address, sentChain: false });
      return { address, smtp: ports[0] as PortResult };
    }),
  );
}

/** Probes the listeners the config has, at the mail host's first address (looked up through our resolver). */
async function probe(
  config: Config,
  options: ProbeOptions | false | undefined,
  hostAddresses: CheckContext['hostAddresses'],
): Promise<ProbeResult | undefined> {
  if (options === false) return undefined;
  const found = await hostAddresses;
  const host = options?.host ?? (found.ok ? found.addresses[0] : undefined);
  if (host === undefined) return undefined;
  const kinds: PortKind[] = ['smtp'];
  if (config.listen.submission !== null) kinds.push('submission');
  if (config.listen.submissions !== null) kinds.push('submissions');
  return probeServer(config.hostname, kinds, { ...options, host });
}
