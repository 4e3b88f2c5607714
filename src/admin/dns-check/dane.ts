/**
 * DANE for SMTP (RFC 7672) on the mail host: TLSA records at `_25._tcp.<host>` (§2.2) count only when a
 * sender can validate them, so the zones of the domain (its MX, §2.2.1), of the mail host and of the TLSA
 * owner must be DNSSEC-signed. Whether they are is the configured resolver's AD bit (src/dns/dnssec.ts: our
 * Resolver shows no header bits), which is worth what that resolver is worth (RFC 6698 §4.1), so
 * the summary names it. The records are compared with the certificate port 25 serves: DANE-EE (3) with the
 * server's certificate, DANE-TA (2) with the issuers the server itself sends (RFC 7672 §3.1.1-§3.1.2: a
 * sender has no trust store to find the TA in, so a root the server leaves out matches nothing);
 * PKIX-TA/PKIX-EE (0, 1) are not used by SMTP senders (§3.1.3). A domain without TLSA passes (DANE is optional).
 */

import { createHash, X509Certificate } from 'node:crypto';
import type { TlsaRecord } from '../../dns/resolver.ts';
import type { CheckContext } from './context.ts';
import type { ServedCertificate } from './probe.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';

export async function checkDane(ctx: CheckContext): Promise<Check[]> {
  const host = ctx.config.hostname;
  const name = `_25._tcp.${host}`;
  const tlsa = await ctx.resolver.tlsa(name);
  if (!tlsa.ok) {
    if (tlsa.error === 'temperror') return [couldNotCheck('dane', 'dane.tlsa', `TLSA ${name}`, tlsa.reason)];
    return [pass('dane', 'dane.tlsa', `no TLSA record at ${name} (DANE is optional and needs DNSSEC)`)];
  }
  const checks = [await dnssecCheck(ctx, [ctx.domain, host, name])];
  const usable = tlsa.records.filter((r) => r.usage === 2 || r.usage === 3);
  if (usable.length === 0) {
    checks.push(
      fail(
        'dane',
        'dane.tlsa',
        `${name} has only PKIX-TA/PKIX-EE (usage 0/1) records, which SMTP senders ignore (RFC 7672 §3.1.3)`,
        `Publish "${name}. TLSA 3 1 1 <SHA-256 of the certificate's key>" (postern dns records ${ctx.domain} prints it).`,
      ),
    );
    return checks;
  }
  const served = (await ctx.served)?.ports.find((p) => p.kind === 'smtp')?.certificate;
  if (served === undefined) return checks; // no certificate on port 25: server.* says why
  const matching = usable.find((record) => matches(record, candidates(record, served)));
  if (matching) {
    checks.push(pass('dane', 'dane.tlsa', `TLSA ${describe(matching)} matches the certificate served on port 25`));
    return checks;
  }
  // A DANE-TA record that names a trust-store root the server does not send: the commonest DANE-TA slip.
  const unsent = usable.find((r) => r.usage === 2 && matches(r, served.chain.slice(1)));
  if (unsent && served.sent !== undefined) {
    const anchor = served.chain.slice(1).find((der) => matches(unsent, [der])) as Buffer;
    const subject = new X509Certificate(anchor).subject.replace(/\n/g, ', ');
    checks.push(
      fail(
        'dane',
        'dane.tlsa',
        `TLSA ${describe(unsent)} at ${name} names ${subject}, which the server does not send on port 25: DANE senders match DANE-TA only against the chain the server presents (RFC 7672 §3.1.2) and will not deliver`,
        `Serve the certificate of ${subject} in the chain after the server's own (append it to the tls.certificates file), or publish the DANE-EE record "postern dns records ${ctx.domain}" prints.`,
      ),
    );
    return checks;
  }
  if (served.sent === undefined && usable.every((r) => r.usage === 2)) {
    return [
      ...checks,
      warn(
        'dane',
        'dane.tlsa',
        `could not check: the chain the server sends on port 25 was not seen (a second TLS handshake failed), and DANE-TA records match only that chain (RFC 7672 §3.1.2)`,
        'Run the check again.',
      ),
    ];
  }
  checks.push(
    fail(
      'dane',
      'dane.tlsa',
      `no TLSA record at ${name} matches the certificate served on port 25: DANE senders will not deliver`,
      `Publish the TLSA record "postern dns records ${ctx.domain}" prints; before changing keys, publish the new record next to the old one (RFC 7671 §8.1).`,
    ),
  );
  return checks;
}

/**
 * RFC 7672 §3.1.1: DANE-EE (3) names the server's own certificate. §3.1.2: DANE-TA (2) names an issuer
 * "the server MUST include ... as part of the certificate chain presented", even a self-signed root: only
 * what it sent counts, never what our trust store would add.
 */
function candidates(record: TlsaRecord, served: ServedCertificate): Buffer[] {
  if (record.usage === 3) return served.chain.slice(0, 1);
  return served.sent?.slice(1) ?? [];
}

async function dnssecCheck(ctx: CheckContext, names: string[]): Promise<Check> {
  const zones = `${ctx.domain} and ${ctx.config.hostname}`;
  const fix = `Make sure DNSSEC is enabled for the zones of ${zones} (a DS record at the parent); check with "dig +dnssec" or DNSViz.`;
  const unique = [...new Set(names)];
  const answers = await Promise.all(unique.map(async (name) => ({ name, status: await ctx.dnssec(name) })));
  const resolvers = new Map<string, boolean>();
  for (const { name, status } of answers) {
    // A bare string comes from an injected lookup that does not say who vouched.
    const verdict = typeof status === 'string' ? { status } : status;
    if ('temperror' in verdict) {
      if (!/SERVFAIL/.test(verdict.temperror)) {
        return couldNotCheck('dane', 'dane.dnssec', `SOA ${name}`, verdict.temperror);
      }
      // RFC 4035 §5.5: a validating resolver answers SERVFAIL for data whose signatures do not validate.
      return warn(
        'dane',
        'dane.dnssec',
        `could not check: SERVFAIL asking whether ${name} is DNSSEC-signed, which a validating resolver also answers when the zone's signatures do not validate`,
        `Check the zone of ${name} with DNSViz (expired signatures, a DS record without its DNSKEY): DANE senders defer mail when the TLSA lookup fails (RFC 7672 §2.1.1). If DNSViz is content, run the check again.`,
      );
    }
    if (verdict.status === 'not-validating' && 'resolver' in verdict) {
      return warn(
        'dane',
        'dane.dnssec',
        `cannot verify DNSSEC: the resolver at ${verdict.resolver} does not validate (no AD bit even for the signed root zone), and TLSA records count only in a signed zone (RFC 7672 §2.2)`,
        'Point dns.servers at a validating resolver on this host (unbound, or systemd-resolved with DNSSEC=yes, on 127.0.0.1), then run the check again.',
      );
    }
    const by = 'resolver' in verdict ? ` (no AD bit from the validating resolver at ${verdict.resolver})` : '';
    if (verdict.status === 'unsigned') {
      return fail('dane', 'dane.dnssec', `${name} is not DNSSEC-signed${by}: senders ignore its TLSA records`, fix);
    }
    if ('resolver' in verdict) resolvers.set(verdict.resolver, verdict.loopback);
  }
  return pass('dane', 'dane.dnssec', `${list(unique)} are DNSSEC-signed${vouchedBy(resolvers)}`);
}

/**
 * Who set the AD bit. RFC 6698 §4.1 (and RFC 4033 §7): it is worth trusting only from a validating resolver
 * over a secure path, which loopback is; a resolver elsewhere is as good as the network between us.
 */
function vouchedBy(resolvers: Map<string, boolean>): string {
  if (resolvers.size === 0) return '';
  const all = [...resolvers.keys()].join(', ');
  if ([...resolvers.values()].every(Boolean)) return ` (AD bit from the validating resolver at ${all}, on loopback)`;
  return ` (AD bit from the resolver at ${all}, not on loopback: trust it as far as that resolver and the network path to it, RFC 6698 §4.1)`;
}

function list(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** Whether one of `certificates` is the one the record names (RFC 6698 §2.1). */
function matches(record: TlsaRecord, certificates: Buffer[]): boolean {
  return certificates.some((der) => {
    // §2.1.2 selector: 0 the whole certificate, 1 its SubjectPublicKeyInfo.
    const data =
      record.selector === 1 ? new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' }) : der;
    // §2.1.3 matching type: 0 exact, 1 SHA-256, 2 SHA-512.
    const digest =
      record.matchingType === 0
        ? data
        : record.matchingType === 1
          ? createHash('sha256').update(data).digest()
          : record.matchingType === 2
            ? createHash('sha512').update(data).digest()
            : undefined;
    return digest !== undefined && Buffer.from(record.data).equals(digest);
  });
}

function describe(record: TlsaRecord): string {
  return `${record.usage} ${record.selector} ${record.matchingType}`;
}
