/**
 * What every area of `postern dns check` reads: the domain, the config, the injected resolver and
 * helpers, and the answers several areas share (the MX set, the mail host's addresses, what the mail
 * host served), each looked up once so the areas judge the same answer and a timeout costs its wait once.
 */

import type { Config } from '../../config/schema.ts';
import type { DnssecStatus } from '../../dns/dnssec.ts';
import type { DnsAnswer, MxRecord, Resolver } from '../../dns/resolver.ts';
import type { Store } from '../../store/store.ts';
import { type AddressAnswer, canonicalIp } from './addresses.ts';
import type { CaaLookup } from './caa-lookup.ts';
import type { HttpsFetch } from './https-fetch.ts';
import type { PortResult, ProbeResult } from './probe.ts';

/**
 * DNSSEC status of a name as a validating resolver sees it (the AD bit, RFC 4035 §3.2.3): by default
 * src/dns/dnssec.ts, whose verdicts name the resolver that vouched; an injected lookup may answer a bare
 * 'signed' or 'unsigned'.
 */
export type DnssecLookup = (name: string) => Promise<DnssecStatus | 'signed' | 'unsigned'>;

/**
 * The store as the checks read it: the DKIM keys, and where it is given, the accounts and aliases, to
 * tell a report address at our own domain that RCPT TO would refuse (report-addresses.ts).
 */
export type DkimKeySource = Pick<Store, 'listDkimKeys'> & Partial<Pick<Store, 'resolveAddress'>>;

export interface CheckContext {
  /** Lower case, no trailing dot. */
  domain: string;
  config: Config;
  resolver: Resolver;
  store: DkimKeySource;
  fetch: HttpsFetch;
  caa: CaaLookup;
  dnssec: DnssecLookup;
  /** PEM roots of the Mark Verifying Authorities a VMC must chain to; undefined: those mailauth ships. */
  vmcRoots: string[] | undefined;
  now: Date;
  /** MX of the domain. */
  mx: Promise<DnsAnswer<MxRecord>>;
  /** A and AAAA of config.hostname, the mail host. */
  hostAddresses: Promise<AddressAnswer>;
  /** What the mail host answered on its ports (server.ts judges it, dane.ts compares TLSA with it); undefined
   * when it has no address to connect to. */
  served: Promise<ProbeResult | undefined>;
  /**
   * Port 25 at each other address of the mail host (its AAAA after its A): senders try every one (RFC
   * 5321 §5.1), so one that does not answer loses them a timeout, or the mail over IPv6 altogether.
   */
  servedElsewhere: Promise<{ address: string; smtp: PortResult }[]>;
}

/** The addresses this server sends from: `serverAddresses`, else the mail host's A/AAAA. */
export async function sendingAddresses(ctx: CheckContext): Promise<AddressAnswer> {
  if (ctx.config.serverAddresses.length > 0) {
    return { ok: true, addresses: ctx.config.serverAddresses.map(canonicalIp) };
  }
  return ctx.hostAddresses;
}

/** Names compare without case and without the root's trailing dot (RFC 4343 §3). */
export function sameName(a: string, b: string): boolean {
  return bareName(a) === bareName(b);
}

export function bareName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export function isReceivingDomain(ctx: CheckContext): boolean {
  return ctx.config.domains.includes(ctx.domain);
}
