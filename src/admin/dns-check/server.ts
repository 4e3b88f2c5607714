/**
 * The mail host itself, from what probe.ts saw: the ports answer (25 for MX, RFC 5321 §4.5.4; 587
 * submission, RFC 6409 §3.1; 465 implicit TLS, RFC 8314 §3.3), STARTTLS works (RFC 3207), and the
 * certificate chains to a trusted root, names the mail host (RFC 6125 §6; MTA-STS needs exactly this,
 * RFC 8461 §4.2) and is not about to expire. Not here: cipher suites and protocol versions.
 */

import { X509Certificate } from 'node:crypto';
import type { CheckContext } from './context.ts';
import { DEFAULT_PORTS, type PortKind, type PortResult, type ServedCertificate } from './probe.ts';
import { type Check, fail, pass, warn } from './report.ts';

/** A certificate this close to its end gets a warning: ACME renews at 30 days, so 14 means renewal failed. */
export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

/** OpenSSL's verification errors (X509_V_ERR_*) that admins meet, in words. */
const TRUST_ERRORS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends in a self-signed root no one trusts',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its issuer is unknown (a missing intermediate, or a private CA)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its issuer is unknown (a missing intermediate, or a private CA)',
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet (check the clock)',
};

const LISTEN_KEY: Record<PortKind, string> = {
  smtp: 'listen.smtp',
  submission: 'listen.submission',
  submissions: 'listen.submissions',
};

export async function checkServer(ctx: CheckContext): Promise<Check[]> {
  const probed = await ctx.served;
  if (probed === undefined) return []; // the mail host has no address: names.address says so
  const checks: Check[] = [];
  for (const port of probed.ports) {
    checks.push(portCheck(probed.hostname, port));
    if (port.answered && port.starttls) checks.push(starttlsCheck(port));
  }
  // One line per distinct certificate: the listeners normally share one.
  const byCertificate = new Map<string, { certificate: ServedCertificate; ports: PortResult[] }>();
  for (const port of probed.ports) {
    if (!port.certificate?.chain[0]) continue;
    const key = port.certificate.chain[0].toString('base64');
    const entry = byCertificate.get(key) ?? { certificate: port.certificate, ports: [] };
    entry.ports.push(port);
    byCertificate.set(key, entry);
  }
  for (const { certificate, ports } of byCertificate.values()) {
    checks.push(certificateCheck(probed.hostname, certificate, ports.map(label).join(', '), ctx.now));
  }
  for (const { address, smtp } of await ctx.servedElsewhere) checks.push(addressCheck(probed.hostname, address, smtp));
  return checks;
}

/** RFC 5321 §5.1: senders try each address of the MX host, IPv6 ones included; each must answer. */
function addressCheck(hostname: string, address: string, port: PortResult): Check {
  const where = `port ${port.port} (smtp) on ${hostname} at ${address}`;
  if (port.answered) return pass('server', 'server.address', `${where} answers with 220`, address);
  if (port.unreachableFromHere) {
    return warn(
      'server',
      'server.address',
      `could not check ${where}: this machine has no route there (${port.error ?? 'unreachable'})`,
      `Run postern dns check from a machine with ${address.includes(':') ? 'IPv6' : 'IPv4'} connectivity to test this address.`,
      address,
    );
  }
  return fail(
    'server',
    'server.address',
    `${where} does not answer: ${port.error ?? 'no greeting'}`,
    address.includes(':')
      ? `Listen on IPv6 as well (listen.smtp: "[::]:25") and let port 25 through to ${address}, or remove the AAAA record of ${hostname}.`
      : `Make sure port 25 reaches postern serve at ${address}, or remove that address from ${hostname}'s records.`,
    address,
  );
}

function label(port: PortResult): string {
  return `${DEFAULT_PORTS[port.kind]}/${port.kind}`;
}

function portCheck(hostname: string, port: PortResult): Check {
  const where = `port ${port.port} (${port.kind}) on ${hostname}`;
  if (port.answered) return pass('server', 'server.port', `${where} answers with 220`, label(port));
  return fail(
    'server',
    'server.port',
    `${where} does not answer: ${port.error ?? 'no greeting'}`,
    port.kind === 'smtp'
      ? `Make sure postern serve listens on port 25 (${LISTEN_KEY.smtp}) and that the firewall and the hosting provider let inbound port 25 through (many block it until asked).`
      : `Make sure postern serve listens on port ${DEFAULT_PORTS[port.kind]} (${LISTEN_KEY[port.kind]}) and the firewall lets it through, or set ${LISTEN_KEY[port.kind]}: null if mail clients should not use it.`,
    label(port),
  );
}

function starttlsCheck(port: PortResult): Check {
  const starttls = port.starttls as { offered: boolean; error?: string };
  if (!starttls.offered) {
    return fail(
      'server',
      'server.starttls',
      `port ${port.port} does not offer STARTTLS in its EHLO reply`,
      'Give postern a certificate (tls.certificates or tls.acme) so it offers STARTTLS (RFC 3207); without it mail travels in clear text.',
      label(port),
    );
  }
  if (starttls.error !== undefined) {
    return fail(
      'server',
      'server.starttls',
      `STARTTLS on port ${port.port} fails: ${starttls.error}`,
      'Check the TLS configuration and the certificate files postern serves (tls.certificates), and its log for TLS errors.',
      label(port),
    );
  }
  return pass(
    'server',
    'server.starttls',
    `port ${port.port} offers STARTTLS and the TLS handshake succeeds`,
    label(port),
  );
}

function certificateCheck(hostname: string, served: ServedCertificate, ports: string, now: Date): Check {
  const leaf = new X509Certificate(served.chain[0] as Buffer);
  const notAfter = new Date(leaf.validTo);
  const days = Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
  const fix = (why: string) =>
    `${why} Configure tls.acme (postern obtains and renews a certificate for ${hostname}) or point tls.certificates at a certificate from a public CA that names ${hostname}.`;
  // Node counts a name mismatch as an authorization error too; that one gets its own words below.
  const trust = served.authorized ? undefined : (served.authorizationError ?? 'UNKNOWN');
  if (trust !== undefined && trust !== 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return fail(
      'server',
      'server.certificate',
      `certificate is not trusted: ${TRUST_ERRORS[trust] ?? 'it does not chain to a trusted root'} (${trust})`,
      fix('Senders that check certificates (MTA-STS, RFC 8461 §4.2) will not deliver.'),
      ports,
    );
  }
  // RFC 6125 §6.4: the reference identity is the MX host name; a wildcard covers one left-most label.
  if (leaf.checkHost(hostname) === undefined) {
    return fail(
      'server',
      'server.certificate',
      `certificate does not name ${hostname} (it is for ${leaf.subjectAltName ?? leaf.subject})`,
      fix('Senders that check certificates (MTA-STS, RFC 8461 §4.2) will not deliver.'),
      ports,
    );
  }
  const until = notAfter.toISOString().slice(0, 10);
  if (days < EXPIRY_WARNING_DAYS) {
    return warn(
      'server',
      'server.certificate',
      `certificate for ${hostname} expires on ${until}, in ${days} days`,
      'Renew it now: with tls.acme check the log for renewal errors; with tls.certificates install the new files (postern reloads them).',
      ports,
    );
  }
  return pass('server', 'server.certificate', `certificate is trusted, names ${hostname}, valid until ${until}`, ports);
}
