/**
 * Report destinations (DMARC rua= and ruf=, TLS-RPT rua=) at one of this server's own domains: receivers
 * mail their reports there, and RCPT TO answers 550 5.1.1 for an address with no account or alias, so
 * every report is refused. `dns records` prints such addresses by default (dmarc-reports@, tls-reports@)
 * and `dns check` reads them from DNS: both say when one would be refused.
 */

import type { Config } from '../../config/schema.ts';
import { localAddress, withPostmasterFallback } from '../../policy/local-address.ts';
import type { Store } from '../../store/store.ts';

export type AddressSource = Pick<Store, 'resolveAddress'>;

/**
 * The addresses of the mailto: URIs in `uris` (RFC 7489 §6.2 with its `!size` suffix, RFC 6068 with
 * `?headers`) that are at one of our domains and that RCPT TO would refuse, as the server looks them up:
 * an account or an alias, postmaster@ falling back to the host's (RFC 5321 §4.5.1, local-address.ts).
 */
export async function refusedReportAddresses(
  uris: readonly string[],
  config: Config,
  store: AddressSource,
): Promise<string[]> {
  const server = { localDomains: new Set(config.domains), hostname: config.hostname };
  const accounts = withPostmasterFallback({ findAccount: (address) => store.resolveAddress(address) }, server);
  const refused: string[] = [];
  for (const uri of uris) {
    const written = /^\s*mailto:([^!?\s]+)/i.exec(uri)?.[1];
    if (written === undefined) continue;
    const address = percentDecoded(written);
    const at = address.lastIndexOf('@');
    if (at <= 0) continue;
    const domain = address.slice(at + 1).toLowerCase();
    const localPart = address.slice(0, at);
    const local = localAddress({ localPart, domain, address: `${localPart}@${domain}`, utf8: false }, server);
    if (!local.local || refused.includes(local.address)) continue;
    if ((await accounts.findAccount(local.address)) === undefined) refused.push(local.address);
  }
  return refused;
}

/** The commands that make the addresses take mail: an alias to an account, or an account of their own. */
export function createCommands(addresses: readonly string[]): string {
  const commands = addresses.map((address) => `postern alias add ${address} <an account>`);
  return `${commands.join('; ')} (or postern user add ${addresses.length === 1 ? addresses[0] : '<address>'})`;
}

/** RFC 3986 §2.1 escapes in a mailto: address; one that is not UTF-8 (%FF) is read as written. */
function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
