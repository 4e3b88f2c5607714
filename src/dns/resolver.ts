/**
 * The one DNS resolver every feature uses, injected (ARCHITECTURE.md principle 6).
 * Answers are values, never exceptions: a timeout or SERVFAIL is `temperror`, a name that does not
 * exist is `nxdomain`, a name without records of the type is `nodata`. A caller must never read a
 * temporary failure as "no record" (RFC 7208 §4.4, RFC 7489 §6.6.3 make the same distinction).
 */

export type DnsAnswer<T> =
  | { ok: true; records: T[] }
  | { ok: false; error: 'nxdomain' | 'nodata' } // permanent: the name or the type is absent
  | { ok: false; error: 'temperror'; reason: string }; // timeout, SERVFAIL, refused, network

export interface MxRecord {
  exchange: string;
  priority: number;
}
export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Uint8Array;
}

export interface Resolver {
  a(name: string): Promise<DnsAnswer<string>>;
  aaaa(name: string): Promise<DnsAnswer<string>>;
  mx(name: string): Promise<DnsAnswer<MxRecord>>;
  /** Each TXT record's strings joined, as RFC 7208 §3.3 and RFC 6376 §3.6.2.2 read them. */
  txt(name: string): Promise<DnsAnswer<string>>;
  /** Reverse lookup of an IPv4 or IPv6 address (the caller passes the address, not the in-addr name). */
  ptr(address: string): Promise<DnsAnswer<string>>;
  cname(name: string): Promise<DnsAnswer<string>>;
  tlsa(name: string): Promise<DnsAnswer<TlsaRecord>>;
}
