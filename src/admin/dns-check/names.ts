/**
 * The mail host's names: its A/AAAA records (RFC 5321 §5.1, senders reach the MX host through them), the
 * PTR of each address, forward-confirmed (PTR → name → the same address, the "iprev" test of RFC 8601 §3
 * that receivers apply to us), and the EHLO name (config.hostname, RFC 5321 §4.1.4) being that PTR name,
 * which large receivers expect of a sending host. The PTR lives with whoever owns the address block,
 * not in the domain's zone, so the fixes say whom to ask.
 */

import type { Resolver } from '../../dns/resolver.ts';
import { canonicalIp, lookupAddresses, unreachable } from './addresses.ts';
import { bareName, type CheckContext } from './context.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';

export async function checkNames(ctx: CheckContext): Promise<Check[]> {
  const host = ctx.config.hostname;
  const found = await ctx.hostAddresses;
  const checks: Check[] = [];
  const configured = ctx.config.serverAddresses.map(canonicalIp);
  let addresses = configured;
  if (!found.ok && found.error === 'temperror') {
    checks.push(couldNotCheck('names', 'names.address', `A/AAAA ${host}`, found.reason));
  } else if (!found.ok) {
    checks.push(
      fail(
        'names',
        'names.address',
        `the mail host ${host} has no A or AAAA record`,
        `Publish "${host}. A <the server's public IPv4 address>" (and AAAA for IPv6) in the zone of ${host}.`,
      ),
    );
  } else {
    addresses = [...new Set([...found.addresses, ...configured])];
    const missing = configured.filter((ip) => !found.addresses.includes(ip));
    // A warning, not a failure: some run mail for an internal network only, where such an address is right.
    const internal = unreachable(found.addresses);
    if (missing.length > 0) {
      checks.push(
        warn(
          'names',
          'names.address',
          `${host} resolves to ${found.addresses.join(', ')}, not to ${missing.join(', ')} of serverAddresses`,
          `Make the A/AAAA records of ${host} and serverAddresses in postern.yaml list the same public addresses.`,
        ),
      );
    } else if (internal.length > 0) {
      checks.push(
        warn(
          'names',
          'names.address',
          `${host} has address ${internal.join(', ')}, which no one on the internet can reach: mail from outside cannot arrive, and receivers see another address than the one published`,
          `Publish the server's public address in the A/AAAA records of ${host} (behind NAT, the router's, with port 25 forwarded), unless ${host} serves an internal network only.`,
        ),
      );
    } else {
      checks.push(pass('names', 'names.address', `${host} has address ${found.addresses.join(', ')}`));
    }
  }
  for (const address of addresses) checks.push(...(await reverse(ctx.resolver, host, address)));
  return checks;
}

/** PTR of one address, forward-confirmed, and compared with the EHLO name. */
async function reverse(resolver: Resolver, host: string, address: string): Promise<Check[]> {
  const ptr = await resolver.ptr(address);
  if (!ptr.ok) {
    if (ptr.error === 'temperror') return [couldNotCheck('names', 'names.ptr', `PTR ${address}`, ptr.reason, address)];
    return [
      fail(
        'names',
        'names.ptr',
        `${address} has no PTR (reverse DNS) record`,
        `Ask the provider of ${address} (the hosting company, not your DNS provider) to set its PTR to ${host}.`,
        address,
      ),
    ];
  }
  const names = ptr.records.map(bareName);
  const confirmed: string[] = [];
  let trouble: string | undefined;
  for (const name of names) {
    const forward = await lookupAddresses(resolver, name);
    if (forward.ok && forward.addresses.includes(address)) confirmed.push(name);
    else if (!forward.ok && forward.error === 'temperror') trouble = forward.reason;
  }
  const checks: Check[] = [];
  if (confirmed.length > 0) {
    checks.push(pass('names', 'names.ptr', `${address} → ${confirmed[0]} → ${address} (forward-confirmed)`, address));
  } else if (trouble !== undefined) {
    checks.push(couldNotCheck('names', 'names.ptr', `A/AAAA ${names.join(', ')}`, trouble, address));
  } else {
    checks.push(
      fail(
        'names',
        'names.ptr',
        `the PTR of ${address} is ${names.join(', ')}, which does not resolve back to ${address}`,
        `Publish "${names[0]}. ${address.includes(':') ? 'AAAA' : 'A'} ${address}", or ask the provider of ${address} to set its PTR to ${host}.`,
        address,
      ),
    );
  }
  // RFC 5321 §4.1.4: EHLO gives the host's primary name; receivers compare it with the PTR.
  checks.push(
    names.includes(bareName(host))
      ? pass('names', 'names.ehlo', `the EHLO name ${host} is the PTR of ${address}`, address)
      : fail(
          'names',
          'names.ehlo',
          `postern says EHLO ${host}, but the PTR of ${address} is ${names.join(', ')}`,
          `Ask the provider of ${address} to set its PTR to ${host}, or set hostname: ${names[0]} in postern.yaml if that is the mail host's name.`,
          address,
        ),
  );
  return checks;
}
