/**
 * Every DNS record a domain served by Postern should publish (`postern dns records`), each with a
 * one-line purpose and where it is set: in the DNS zone, or, for PTR, at whoever owns the IP address.
 * What is not known here (the server's addresses, a certificate for DANE) becomes a to-do rather than
 * a made-up value. Not here: rendering (zone-lines.ts), checking what DNS serves (dns-check/).
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { getDomain } from 'tldts';
import { type Mechanism, parseRecord } from '../authentication/spf/record.ts';
import type { Config } from '../config/schema.ts';
import { reverseName } from '../dns/reverse-name.ts';
import type { DkimKey, Store } from '../store/store.ts';
import { caaIssuers } from './caa-issuers.ts';
import { createCommands, refusedReportAddresses } from './dns-check/report-addresses.ts';
import { type HostCertificate, spkiSha256 } from './host-certificates.ts';
import { mtaStsPolicy, policyHost } from './mta-sts-policy.ts';

export type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'CNAME' | 'SRV' | 'TLSA' | 'CAA' | 'PTR';

export interface DnsRecord {
  /** The owner name, absolute, lower case, without the trailing dot. */
  name: string;
  type: RecordType;
  ttl: number;
  /**
   * The RDATA in zone-file presentation (RFC 1035 §5.1), names absolute with their trailing dot;
   * for TXT the text itself, which the renderers split into strings of at most 255 octets.
   */
  value: string;
  /** One line: what the record is for, and the RFC. */
  purpose: string;
  /** `zone`: the DNS zone of the owner name; `hosting-provider`: reverse DNS, set by the owner of the address. */
  where: 'zone' | 'hosting-provider';
  /** Set when the record is not ready to publish as it stands: what to do first. Rendered commented out. */
  todo?: string;
}

export interface RecordsOptions {
  config: Config;
  /** With resolveAddress, report addresses at our domains that have no account or alias become to-dos. */
  store: Pick<Store, 'listDkimKeys'> & Partial<Pick<Store, 'resolveAddress'>>;
  /** The certificates the mail host serves (host-certificates.ts); without one, TLSA is a to-do. */
  certificates?: HostCertificate[];
}

/** An hour: short enough to correct a mistake the same day, long enough not to matter for load. */
export const RECORD_TTL = 3600;

/** A mail host name that is an IP address: RFC 5321 §5.1 needs a name for MX (and §4.1.3 a name for EHLO). */
export class MailHostError extends Error {
  readonly code = 'MAIL_HOST_IS_AN_ADDRESS';
}

export async function recordsFor(domain: string, options: RecordsOptions): Promise<DnsRecord[]> {
  const { config } = options;
  const host = config.hostname;
  if (isIP(host)) {
    throw new MailHostError(`hostname ${host} is an IP address; MX records need a host name (RFC 5321 §5.1)`);
  }
  const keys = await options.store.listDkimKeys(domain);
  const { store } = options;
  // Read as `dns check` reads them: the report addresses at our domains that RCPT TO would refuse.
  const resolveAddress = store.resolveAddress?.bind(store);
  const refused = (rua: string) =>
    resolveAddress ? refusedReportAddresses(rua.split(','), config, { resolveAddress }) : undefined;
  const reports = {
    dmarc: await refused(dmarcRuaFor(domain, config)),
    tlsRpt: await refused(tlsRptRuaFor(domain, config)),
  };
  return [
    ...mailHost(config),
    ...mailRouting(domain, config),
    ...dkim(domain, keys),
    ...reporting(domain, config, reports),
    ...mtaSts(domain, config, options.certificates ?? []),
    ...bimi(domain, config),
    ...dane(host, options.certificates ?? []),
    ...autoconfiguration(domain, config),
    ...caa(domain, config),
    ...reverseDns(config),
  ];
}

const record = (name: string, type: RecordType, value: string, purpose: string, todo?: string): DnsRecord => ({
  name,
  type,
  ttl: RECORD_TTL,
  value,
  purpose,
  where: type === 'PTR' ? 'hosting-provider' : 'zone',
  ...(todo === undefined ? {} : { todo }),
});

const fqdn = (name: string) => `${name}.`;

function mailHost(config: Config): DnsRecord[] {
  const host = config.hostname;
  const v4 = config.serverAddresses.filter((a) => isIPv4(a));
  const v6 = config.serverAddresses.filter((a) => isIPv6(a));
  const purpose = `the mail host's address: MX, PTR and SMTP clients find ${host} by it`;
  if (v4.length + v6.length === 0) {
    const todo = 'fill in the public address and list it in serverAddresses, then run this again';
    return [
      record(host, 'A', "<this server's public IPv4 address>", purpose, todo),
      record(host, 'AAAA', "<this server's public IPv6 address, if it has one>", purpose, todo),
    ];
  }
  return [...v4.map((a) => record(host, 'A', a, purpose)), ...v6.map((a) => record(host, 'AAAA', a, purpose))];
}

/**
 * The SPF record `dns records` prints for each domain: the MX host, publish.spfInclude, -all, then the
 * modifiers publish.spfInclude holds (exp=, redirect=, unknown ones), as `v=spf1 mx -all exp=…`.
 */
export function spfRecordFor(config: Config): string {
  // RFC 7208 §6: redirect= and exp= "can appear anywhere in the record, but SHOULD appear at the end,
  // after all mechanisms"; unknown modifiers are kept with them, after the -all.
  const modifier = (term: string) => /^[a-z][a-z0-9\-_.]*=/i.test(term); // §12: name "=" macro-string
  const terms = config.publish.spfInclude;
  return ['v=spf1', 'mx', ...terms.filter((t) => !modifier(t)), '-all', ...terms.filter(modifier)].join(' ');
}

/** RFC 7208 §4.6.4: at most 10 terms that cause DNS queries per evaluation. */
const MAX_SPF_LOOKUPS = 10;
/** RFC 7208 §3.4: the name and the TXT records at it in under this, so the answer fits a UDP datagram. */
const MAX_SPF_ANSWER_OCTETS = 450;
/**
 * Networks so wide that a term passing them lets much of the Internet send as the domain: the limits
 * mynetworks has (src/config/schema.ts), so a network that may not relay may not send as us either.
 */
const WIDEST_PREFIX = { 4: 8, 6: 16 } as const;

/**
 * What is wrong with the SPF record publish.spfInclude makes, in words, or undefined. A term our own
 * SPF parser refuses makes the whole record a permerror for every receiver (RFC 7208 §4.6), and more
 * than 10 lookups at its top level one too (§4.6.4; those inside its includes are `dns check`'s). A
 * term that passes a network wider than /8 (IPv4) or /16 (IPv6) lets strangers send as the domain, and
 * a record of over 450 octets with its name may not fit a UDP answer (§3.4): the size is that of the
 * record at `domain`, or without one, at the longest name of `domains`.
 */
export function spfRecordProblem(config: Config, domain?: string): string | undefined {
  const spf = spfRecordFor(config);
  const parsed = parseRecord(spf);
  if (!parsed.ok)
    return `publish.spfInclude makes an SPF record receivers refuse (a permerror, RFC 7208 §4.6): ${parsed.error}`;
  if (parsed.record.redirect) {
    // §6.1: with an "all" in the record (the -all added) redirect= is never followed.
    return "publish.spfInclude has a redirect=, which the record's -all makes receivers ignore (RFC 7208 §6.1): give the other domain as include: instead";
  }
  const lookups = parsed.record.mechanisms.filter((m) =>
    ['include', 'a', 'mx', 'ptr', 'exists'].includes(m.kind),
  ).length;
  if (lookups > MAX_SPF_LOOKUPS) {
    return `publish.spfInclude makes an SPF record of ${lookups} DNS lookups, over the ${MAX_SPF_LOOKUPS} RFC 7208 §4.6.4 allows (a permerror for every receiver): list fewer hosts, or addresses (ip4:, ip6:) instead of names`;
  }
  const open = parsed.record.mechanisms.find(passesTooWide);
  if (open) {
    // RFC 7208 §4.6.2: a matching "+" (the default) term ends the evaluation with pass, whatever -all says.
    return `publish.spfInclude has ${open.text}, which passes a network wider than /${WIDEST_PREFIX[4]} (IPv4) or /${WIDEST_PREFIX[6]} (IPv6): hosts there that are not yours would pass SPF as the domain (RFC 7208 §4.6.2, §5.6); list only the addresses that send your mail`;
  }
  const names = domain === undefined ? config.domains : [domain];
  const name = names.reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a), names[0] ?? '');
  const octets = Buffer.byteLength(name) + Buffer.byteLength(spf);
  if (octets > MAX_SPF_ANSWER_OCTETS) {
    // §3.4: over 450 octets the answer may need TCP, which receivers behind some firewalls never get.
    return `publish.spfInclude makes the SPF record of ${name} ${octets} octets with its name, over the ${MAX_SPF_ANSWER_OCTETS} RFC 7208 §3.4 advises (the answer may not fit a UDP datagram, and receivers that cannot ask over TCP ignore the record): replace runs of ip4:/ip6: terms by the networks that hold them, or drop terms no longer used`;
  }
  return undefined;
}

/** A term that passes (qualifier "+") every address of a network wider than WIDEST_PREFIX. */
function passesTooWide(mechanism: Mechanism): boolean {
  if (mechanism.qualifier !== '+') return false;
  switch (mechanism.kind) {
    case 'ip4':
      return mechanism.prefix < WIDEST_PREFIX[4];
    case 'ip6':
      return mechanism.prefix < WIDEST_PREFIX[6];
    case 'a':
    case 'mx':
      // §5.3, §5.4: a:host/0 passes every address once host has any A record.
      return mechanism.cidr4 < WIDEST_PREFIX[4] || mechanism.cidr6 < WIDEST_PREFIX[6];
    default:
      return false;
  }
}

function mailRouting(domain: string, config: Config): DnsRecord[] {
  const host = config.hostname;
  const spf = spfRecordFor(config);
  const problem = spfRecordProblem(config, domain);
  const records = [
    record(
      domain,
      'MX',
      `10 ${fqdn(host)}`,
      // RFC 2181 §10.3: an MX names a host with address records, never an alias; never an IP (RFC 5321 §5.1).
      `mail for ${domain} goes to ${host} (RFC 5321 §5.1): a name with A/AAAA records, never an IP or a CNAME`,
    ),
    record(
      domain,
      'TXT',
      spf,
      `SPF (RFC 7208): the MX host${config.publish.spfInclude.length ? ' and publish.spfInclude' : ''} may send as ${domain}; -all fails the rest (~all while testing)`,
      problem === undefined ? undefined : `${problem}; fix the config and run this again`,
    ),
  ];
  // RFC 7208 §2.3: receivers check the HELO name too, and it is the only identity of a bounce (empty MAIL FROM).
  if (!config.domains.includes(host)) {
    records.push(
      record(host, 'TXT', 'v=spf1 a -all', `SPF for the HELO name ${host} (RFC 7208 §2.3), used for bounces`),
    );
  }
  return records;
}

/** RFC 6376 §3.6.1 key records; Ed25519 keys per RFC 8463 §4. Retired keys are no longer published. */
function dkim(domain: string, keys: DkimKey[]): DnsRecord[] {
  const published = keys.filter((key) => key.state !== 'retired');
  if (published.length === 0) {
    return [
      record(
        `<selector>._domainkey.${domain}`,
        'TXT',
        'v=DKIM1; k=ed25519; p=<public key>',
        'DKIM (RFC 6376 §3.6.2.1): receivers verify our signatures with this key',
        `no DKIM key for ${domain} yet: run postern dkim keygen --domain ${domain} --selector <selector>`,
      ),
    ];
  }
  return published.map((key) => {
    const size = key.algorithm === 'rsa' ? ` ${key.bits}-bit` : '';
    // A pending key replaces the active key of its algorithm, or, with none, signs beside the other one.
    const replaces = published.filter((k) => k.state === 'active' && k.algorithm === key.algorithm);
    const when: Record<Exclude<DkimKey['state'], 'retired'>, string> = {
      pending:
        replaces.length > 0
          ? `publish now: it replaces ${replaces.map((k) => k.selector).join(', ')} once DNS serves it`
          : published.some((k) => k.state === 'active')
            ? 'publish now: it signs beside the active key once DNS serves it'
            : 'publish now: it starts signing once DNS serves it',
      // Nothing signs outbound mail yet: the active key is the one signing will use.
      active: 'the key to sign with once outbound signing exists',
      // The time, not only the day: retirement comes at retireAfter, up to a day before a date's end.
      retiring: `no longer signs; keep it${key.retireAfter ? ` until ${utcMinute(key.retireAfter)}` : ''} for mail in transit`,
    };
    return record(
      `${key.selector}._domainkey.${domain}`,
      'TXT',
      `v=DKIM1; k=${key.algorithm}; p=${key.publicKey}`,
      `DKIM key ${key.selector} (${key.algorithm}${size}, ${key.state}): ${when[key.state as keyof typeof when]} (RFC 6376 §3.6.2.1)`,
    );
  });
}

/** `2025-03-08 22:00 UTC`: a time a reader in any zone takes for what it is. */
function utcMinute(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

const NEXT_DMARC_STEP = {
  none: 'p=none only collects reports; once they show all your mail passing, go to p=quarantine, then p=reject',
  quarantine: 'p=quarantine sends failing mail to spam; once reports stay clean, go to p=reject',
  reject: 'p=reject: receivers refuse mail that fails; keep reading the reports',
} as const;

const dmarcRuaFor = (domain: string, config: Config) => config.publish.dmarcRua ?? `mailto:dmarc-reports@${domain}`;
const tlsRptRuaFor = (domain: string, config: Config) => config.publish.tlsRptRua ?? `mailto:tls-reports@${domain}`;

/**
 * Where the reports go, for the purpose: with a to-do when an address at our domains would be refused
 * at RCPT TO (550 5.1.1), losing every report. Said in the purpose, not as the record's `todo`: the
 * record is right to publish as it stands (a `todo` comments it out); the mailbox is what is missing.
 */
function reportsTo(rua: string, configured: boolean, refused: string[] | undefined): string {
  if (refused === undefined || refused.length === 0) return `${rua}${configured ? '' : ' (create that address)'}`;
  return `${rua} (TO DO: ${refused.join(', ')} ha${refused.length === 1 ? 's' : 've'} no account or alias, so this server refuses every report sent there: create the account or alias, ${createCommands(refused)})`;
}

function reporting(domain: string, config: Config, refused: { dmarc?: string[]; tlsRpt?: string[] }): DnsRecord[] {
  const { dmarcPolicy } = config.publish;
  const rua = dmarcRuaFor(domain, config);
  const tlsRua = tlsRptRuaFor(domain, config);
  const records = [
    record(
      `_dmarc.${domain}`,
      'TXT',
      `v=DMARC1; p=${dmarcPolicy}; rua=${rua}`,
      `DMARC (RFC 7489 §6.3), reports to ${reportsTo(rua, config.publish.dmarcRua !== undefined, refused.dmarc)}: ${NEXT_DMARC_STEP[dmarcPolicy]}`,
    ),
  ];
  // RFC 7489 §7.1: a report address in another organizational domain must say it accepts our reports.
  for (const target of reportDomains(rua)) {
    if (getDomain(target) === getDomain(domain)) continue;
    records.push(
      record(
        `${domain}._report._dmarc.${target}`,
        'TXT',
        'v=DMARC1',
        `in the zone of ${target}: it accepts DMARC reports about ${domain} (RFC 7489 §7.1)`,
      ),
    );
  }
  records.push(
    record(
      `_smtp._tls.${domain}`,
      'TXT',
      `v=TLSRPTv1; rua=${tlsRua}`,
      `TLS-RPT (RFC 8460 §3): senders report TLS failures delivering to ${domain} to ${reportsTo(tlsRua, config.publish.tlsRptRua !== undefined, refused.tlsRpt)}`,
    ),
  );
  return records;
}

/** The domains of the mailto: URIs of a DMARC rua list (RFC 7489 §6.4: comma-separated, `!size` suffixes). */
function reportDomains(rua: string): string[] {
  const domains = new Set<string>();
  for (const uri of rua.split(',')) {
    const match = /^\s*mailto:[^@]+@([^!?\s]+)/i.exec(uri);
    if (match) domains.add(match[1]!.toLowerCase());
  }
  return [...domains];
}

/** What the policy asks of senders in each mode (RFC 8461 §5), for the record's purpose. */
const MTA_STS_MODE: Record<Config['mtaSts']['mode'], (domain: string) => string> = {
  enforce: (domain) => `senders must use TLS with a valid certificate to ${domain}'s MX (mode enforce)`,
  // §5: in testing, a failure is reported (TLS-RPT) and the mail delivered all the same.
  testing: (domain) =>
    `senders report TLS failures delivering to ${domain}'s MX but still deliver without TLS (mode testing, RFC 8461 §5)`,
  // §8.3: mode none, under a new id, is how a published policy is withdrawn from senders that cached it.
  none: (domain) => `the policy for ${domain} is withdrawn: senders stop applying it (mode none, RFC 8461 §8.3)`,
};

function mtaSts(domain: string, config: Config, certificates: HostCertificate[]): DnsRecord[] {
  const { id } = mtaStsPolicy(config);
  const policy = policyHost(domain);
  const todo = config.mtaSts.listen
    ? undefined
    : 'set mtaSts.listen (port 443 from outside), or serve the policy file below from another HTTPS server, first';
  // RFC 8461 §4.2, §5: under enforce, senders refuse an MX whose certificate fails PKIX validation, so
  // with only the self-signed certificate the record would stop mail from them.
  const untrusted =
    config.mtaSts.mode === 'enforce' && onlySelfSigned(config, certificates)
      ? `mode enforce while ${config.hostname} serves only the self-signed certificate: senders that use MTA-STS would refuse it; publish once a CA-issued certificate (tls.certificates or tls.acme) is in place, or set mtaSts.mode: testing`
      : undefined;
  const records = [
    record(
      `_mta-sts.${domain}`,
      'TXT',
      `v=STSv1; id=${id}`,
      `MTA-STS (RFC 8461 §3.1): ${MTA_STS_MODE[config.mtaSts.mode](domain)}; the id changes with the policy`,
      [todo, untrusted].filter((t) => t !== undefined).join('; ') || undefined,
    ),
  ];
  if (policy !== config.hostname) {
    records.push(
      record(
        policy,
        'CNAME',
        fqdn(config.hostname),
        `serves the MTA-STS policy over HTTPS (RFC 8461 §3.3); the certificate must name ${policy}`,
        todo,
      ),
    );
  }
  return records;
}

/**
 * Whether the mail host serves only the self-signed development certificate: the certificates found say so
 * when there are any; else the config does (no tls.certificates, no tls.acme: serve makes the self-signed one).
 */
function onlySelfSigned(config: Config, certificates: HostCertificate[]): boolean {
  if (certificates.length > 0) return certificates.every((cert) => cert.selfSigned);
  return config.tls.selfSigned && config.tls.certificates.length === 0 && config.tls.acme === undefined;
}

function bimi(domain: string, config: Config): DnsRecord[] {
  const settings = config.publish.bimi;
  if (!settings) return [];
  const value = `v=BIMI1; l=${settings.logo}${settings.authority ? `; a=${settings.authority}` : ''}`;
  const caveat =
    config.publish.dmarcPolicy === 'none' ? ' (receivers ignore it until DMARC is p=quarantine or p=reject)' : '';
  return [record(`default._bimi.${domain}`, 'TXT', value, `BIMI: the logo mail clients show beside our mail${caveat}`)];
}

/** DANE for SMTP (RFC 7672): `3 1 1`, the server key's SHA-256 (RFC 7671 §5.1); needs a DNSSEC-signed zone. */
function dane(host: string, certificates: HostCertificate[]): DnsRecord[] {
  const name = `_25._tcp.${host}`;
  const purpose = 'DANE (RFC 7672 §3.1.1; needs DNSSEC): senders check our STARTTLS key against it';
  if (certificates.length === 0) {
    return [
      record(
        name,
        'TLSA',
        '3 1 1 <SHA-256 of the certificate key>',
        purpose,
        `no certificate for ${host} found; configure tls.certificates or tls.acme and run this again`,
      ),
    ];
  }
  const seen = new Set<string>();
  const records: DnsRecord[] = [];
  for (const cert of certificates) {
    const digest = spkiSha256(cert.pem);
    if (seen.has(digest)) continue;
    seen.add(digest);
    // RFC 7671 §8.1: a new key needs its TLSA published before it is served, or DANE senders stop delivering.
    const todo = cert.selfSigned
      ? 'the self-signed certificate gets a new key when renewed: publish TLSA only with a real certificate and a key rotation plan'
      : undefined;
    records.push(
      record(name, 'TLSA', `3 1 1 ${digest}`, `${purpose}; renewing with a new key needs the new record first`, todo),
    );
  }
  return records;
}

/** Client autoconfiguration: RFC 6186 §3 SRV records, implicit TLS preferred (RFC 8314 §5.1). */
function autoconfiguration(domain: string, config: Config): DnsRecord[] {
  const host = fqdn(config.hostname);
  const none = '0 0 0 .'; // RFC 6186 §4: target "." says the service is not offered
  const srv = (service: string, value: string, purpose: string, todo?: string) =>
    record(`_${service}._tcp.${domain}`, 'SRV', value, purpose, todo);
  // RFC 6186 §3.4: a client offered several services compares their priorities as one set; RFC 8314
  // §5.1 prefers implicit TLS, so _submissions gets 0 and _submission 10.
  const offered = (on: boolean, port: number, priority = 0) => (on ? `${priority} 1 ${port} ${host}` : none);
  return [
    srv(
      'submissions',
      offered(config.listen.submissions !== null, 465),
      'mail clients send over implicit TLS (RFC 8314 §3.3)',
    ),
    srv(
      'submission',
      offered(config.listen.submission !== null, 587, 10),
      'mail clients send with STARTTLS (RFC 6409), if they cannot use _submissions',
    ),
    srv(
      'imaps',
      `0 1 993 ${host}`,
      'mail clients read over IMAP with implicit TLS (RFC 8314 §5.1)',
      'IMAP comes with a later version of Postern: publish this once it serves IMAP',
    ),
    srv('imap', none, 'no cleartext-port IMAP (RFC 6186 §4): clients use _imaps'),
    srv('pop3', none, 'no POP3 (RFC 6186 §4)'),
    srv('pop3s', none, 'no POP3 (RFC 6186 §4)'),
  ];
}

function caa(domain: string, config: Config): DnsRecord[] {
  const purpose = `CAA (RFC 8659 §4.2): only this CA may issue certificates for ${domain} and its subdomains`;
  const issuers = caaIssuers(config);
  if (issuers === undefined) {
    const todo =
      'fill in the issuer domain of the CA that issues your certificates (its documentation names it) in publish.caaIssuers';
    return [record(domain, 'CAA', '0 issue "<issuer domain>"', purpose, todo)];
  }
  return issuers.map((issuer) => record(domain, 'CAA', `0 issue "${issuer}"`, purpose));
}

/** Reverse DNS (RFC 1035 §3.5, RFC 3596 §2.5): set by the owner of the address block, not in our zone. */
function reverseDns(config: Config): DnsRecord[] {
  const host = fqdn(config.hostname);
  const purpose = `reverse DNS: receivers check that the address names ${config.hostname}, and that name the address`;
  const addresses = config.serverAddresses.filter((a) => isIP(a));
  if (addresses.length === 0) {
    const todo = 'fill in each public address (serverAddresses) and ask your hosting provider to set it';
    return [record('<reverse name of each public address>', 'PTR', host, purpose, todo)];
  }
  return addresses.map((address) => record(reverseName(address), 'PTR', host, `${purpose} (${address})`));
}
