/** Which CAs our CAA records allow (RFC 8659 §4.2), shared by `dns records` and `dns check`. */
import type { Config } from '../config/schema.ts';

/** The CAA issuer-domain of well-known ACME CAs, by directory host (each CA's documentation names it). */
const ACME_ISSUERS: Record<string, string> = {
  'acme-v02.api.letsencrypt.org': 'letsencrypt.org',
  'acme-staging-v02.api.letsencrypt.org': 'letsencrypt.org',
  'acme.zerossl.com': 'sectigo.com',
  'dv.acme-v02.api.pki.goog': 'pki.goog',
  'api.buypass.com': 'buypass.com',
  'acme.ssl.com': 'ssl.com',
};

/**
 * publish.caaIssuers; else the configured ACME CA's issuer domain; else, with no certificate yet,
 * letsencrypt.org. Undefined for an ACME CA this table does not know, and for certificates from
 * files (tls.certificates), whose CA only the admin knows: a wrong guess would stop its renewals.
 */
export function caaIssuers(config: Config): string[] | undefined {
  if (config.publish.caaIssuers) return config.publish.caaIssuers;
  if (!config.tls.acme) return config.tls.certificates.length > 0 ? undefined : ['letsencrypt.org'];
  const issuer = ACME_ISSUERS[new URL(config.tls.acme.directory).hostname];
  return issuer === undefined ? undefined : [issuer];
}
