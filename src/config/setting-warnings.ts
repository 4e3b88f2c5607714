/**
 * Settings that are valid one by one but together do less than an admin would think: `serve` logs
 * them at start and `postern check` lists them.
 */
import type { Config } from './schema.ts';

export function settingWarnings(config: Config): string[] {
  const warnings: string[] = [];
  const phishing = config.filter.phishing;
  // The allowlist's safeguard is sender authentication (DMARC, or SPF for a domain without a DMARC
  // record: a forged partner proves neither and is scored as usual); with the checks off there is no
  // result, and anyone can write an allowlisted From and skip the scoring.
  if (phishing.enabled && phishing.allowlist.length > 0 && !config.authentication.enabled) {
    warnings.push(
      'filter.phishing.allowlist exempts its senders without any check while authentication.enabled is false: a forged From of theirs is not scored either; turn authentication on, or empty the allowlist',
    );
  }
  // AAAA records for the IPv6 serverAddresses send mail there (RFC 5321 §5.1 tries every address of
  // the MX): a listener on IPv4 only leaves those attempts to time out.
  const v6 = config.serverAddresses.filter((address) => address.includes(':'));
  if (v6.length > 0 && !listensOnIpv6(config.listen.smtp)) {
    warnings.push(
      `serverAddresses has IPv6 (${v6.join(', ')}), published as AAAA, but listen.smtp ${config.listen.smtp} takes IPv4 only: mail sent over IPv6 finds nothing listening; listen on "[::]:25" (IPv4 too) or remove the IPv6 address`,
    );
  }
  // RFC 5321 §4.5.3.1.8: a server MUST accept at least 100 recipients; below, a legitimate message to a
  // big list is deferred recipient by recipient (452), which Postfix also allows but seldom wants.
  if (config.smtp.maxRecipients < 100) {
    warnings.push(
      `smtp.maxRecipients is ${config.smtp.maxRecipients}, below the 100 recipients RFC 5321 §4.5.3.1.8 says a server must take: senders get 452 for the rest and retry them`,
    );
  }
  return warnings;
}

/** A bracketed listen address is IPv6; "[::]" on Linux takes IPv4 too (a dual-stack socket). */
function listensOnIpv6(listen: string): boolean {
  return listen.startsWith('[');
}
