/**
 * DANE for SMTP (RFC 7672) on the mail host: TLSA records at `_25._tcp.<host>` (§2.2) count only in a
 * DNSSEC-signed zone, which our resolver cannot see (c-ares exposes no AD bit, RFC 4035 §3.2.3), so without
 * an injected DNSSEC lookup that part is a warning. The records are compared with the certificate port 25
 * serves: DANE-EE (3) with the server's certificate, DANE-TA (2) with its issuers (RFC 7672 §3.1.1-§3.1.2);
 * PKIX-TA/PKIX-EE (0, 1) are not used by SMTP senders (§3.1.3). A domain without TLSA passes (DANE is optional).
 */

import { createHash, X509Certificate } from 'node:crypto';
import type { TlsaRecord } from '../../dns/resolver.ts';
import type { CheckContext } from './context.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';

export async function checkDane(ctx: CheckContext): Promise<Check[]> {
  const host = ctx.config.hostname;
  const name = `_25._tcp.${host}`;
  const tlsa = await ctx.resolver.tlsa(name);
  if (!tlsa.ok) {
    if (tlsa.error === 'temperror') return [couldNotCheck('dane', 'dane.tlsa', `TLSA ${name}`, tlsa.reason)];
    return [pass('dane', 'dane.tlsa', `no TLSA record at ${name} (DANE is optional and needs DNSSEC)`)];
  }
  const checks = [await dnssecCheck(ctx, [ctx.domain, host])];
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
  const matching = usable.find((record) => matches(record, served.chain));
  checks.push(
    matching
      ? pass('dane', 'dane.tlsa', `TLSA ${describe(matching)} matches the certificate served on port 25`)
      : fail(
          'dane',
          'dane.tlsa',
          `no TLSA record at ${name} matches the certificate served on port 25: DANE senders will not deliver`,
          `Publish the TLSA record "postern dns records ${ctx.domain}" prints; before changing keys, publish the new record next to the old one (RFC 7671 §8.1).`,
        ),
  );
  return checks;
}

async function dnssecCheck(ctx: CheckContext, names: string[]): Promise<Check> {
  const fix = `Make sure DNSSEC is enabled for the zones of ${names.join(' and ')} (a DS record at the parent); check with "dig +dnssec" or DNSViz.`;
  if (ctx.dnssec === undefined) {
    return warn(
      'dane',
      'dane.dnssec',
      'cannot verify DNSSEC with this resolver: TLSA records count only in a signed zone (RFC 7672 §2.2)',
      fix,
    );
  }
  for (const name of names) {
    const status = await ctx.dnssec(name);
    if (typeof status === 'object') return couldNotCheck('dane', 'dane.dnssec', `DNSSEC ${name}`, status.temperror);
    if (status === 'unsigned') {
      return fail('dane', 'dane.dnssec', `${name} is not DNSSEC-signed: senders ignore its TLSA records`, fix);
    }
  }
  return pass('dane', 'dane.dnssec', `${names.join(' and ')} are DNSSEC-signed`);
}

/** RFC 6698 §2.1: usage 3 names the server's certificate, usage 2 one of its issuers. */
function matches(record: TlsaRecord, chain: Buffer[]): boolean {
  const candidates = record.usage === 3 ? chain.slice(0, 1) : chain.slice(1);
  return candidates.some((der) => {
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
