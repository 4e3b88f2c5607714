/**
 * Settings that are valid one by one but together do less than an admin would think: `serve` logs
 * them at start and `postern check` lists them.
 */
import { BlockList, isIPv6 } from 'node:net';
import type { Config } from './schema.ts';

/** RFC 6890 ranges no other host on the Internet reaches: loopback, link-local, private, shared (CGNAT). */
const NOT_GLOBAL = new BlockList();
for (const [network, prefix] of [
  ['127.0.0.0', 8],
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['169.254.0.0', 16],
  ['100.64.0.0', 10],
] as const) {
  NOT_GLOBAL.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::1', 128],
  ['fe80::', 10],
  ['fc00::', 7],
] as const) {
  NOT_GLOBAL.addSubnet(network, prefix, 'ipv6');
}

/** The addresses no other host on the Internet reaches (RFC 6890): loopback, link-local, private, CGNAT. */
export function unreachableAddresses(addresses: readonly string[]): string[] {
  return addresses.filter((address) => NOT_GLOBAL.check(address, isIPv6(address) ? 'ipv6' : 'ipv4'));
}

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
  // Published as A/AAAA (dns records, quickstart), an address the Internet cannot reach leads nowhere:
  // the usual slip behind NAT is the address `ip addr` shows.
  const unreachable = unreachableAddresses(config.serverAddresses);
  if (unreachable.length > 0) {
    warnings.push(
      `serverAddresses holds ${unreachable.join(', ')}, not reachable from the Internet (loopback, link-local or private, RFC 6890): published as A/AAAA records, other servers' mail finds nothing there; list the public addresses (behind NAT, the router's)`,
    );
  }
  // RFC 5321 §4.5.3.1.8: a server MUST accept at least 100 recipients; below, a legitimate message to a
  // big list is deferred recipient by recipient (452), which Postfix also allows but seldom wants.
  if (config.smtp.maxRecipients < 100) {
    warnings.push(
      `smtp.maxRecipients is ${config.smtp.maxRecipients}, below the 100 recipients RFC 5321 §4.5.3.1.8 says a server must take: senders get 452 for the rest and retry them`,
    );
  }
  // Postfix's smtpd_soft_error_limit below its hard limit: the session ends at maxErrors, so a soft
  // limit there or above never makes an error reply wait.
  const smtp = config.smtp;
  if (smtp.errorSleepMs > 0 && smtp.softErrorLimit >= smtp.maxErrors) {
    warnings.push(
      `smtp.softErrorLimit (${smtp.softErrorLimit}) is not below smtp.maxErrors (${smtp.maxErrors}): the session ends before the soft limit is reached, so errorSleepMs never slows a client down; set softErrorLimit below maxErrors`,
    );
  }
  // The first delay is already capped: the tarpit waits maxMs from the threshold on, never growing.
  const tarpit = config.tarpit;
  if (tarpit.enabled && tarpit.stepMs > tarpit.maxMs) {
    warnings.push(
      `tarpit.stepMs (${tarpit.stepMs}) is more than tarpit.maxMs (${tarpit.maxMs}): every delay is cut to maxMs at once, so the tarpit never grows; set stepMs to a fraction of maxMs`,
    );
  }
  // RFC 5321 §4.5.3.2.7: a server SHOULD wait at least 5 minutes for the next command; shorter cuts off
  // slow but legitimate senders (allowed: under load an admin may want it, as stressTimeoutMs does).
  if (smtp.idleTimeoutMs < 300_000) {
    warnings.push(
      `smtp.idleTimeoutMs is ${smtp.idleTimeoutMs} ms, below the 5 minutes RFC 5321 §4.5.3.2.7 asks a server to wait for the next command: slow senders are cut off mid-session and retry later`,
    );
  }
  return warnings;
}

/** A bracketed listen address is IPv6; "[::]" on Linux takes IPv4 too (a dual-stack socket). */
function listensOnIpv6(listen: string): boolean {
  return listen.startsWith('[');
}
