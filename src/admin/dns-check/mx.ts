/**
 * The domain's MX records: present; each target a host name with A/AAAA records, never an IP address
 * (RFC 5321 §5.1: MX names a domain, and an address is looked up from it) nor an alias (RFC 2181 §10.3:
 * "MUST NOT" point at a CNAME); a null MX (RFC 7505) spotted; our host among the targets, preferred.
 */

import { isIP } from 'node:net';
import type { MxRecord } from '../../dns/resolver.ts';
import { lookupAddresses, unreachable } from './addresses.ts';
import { bareName, type CheckContext, isReceivingDomain } from './context.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';

export async function checkMx(ctx: CheckContext): Promise<Check[]> {
  const { domain } = ctx;
  const host = ctx.config.hostname;
  const receiving = isReceivingDomain(ctx);
  const answer = await ctx.mx;
  const publish = `Publish "${domain}. MX 10 ${host}." (and an A record for ${host}).`;
  if (!answer.ok) {
    if (answer.error === 'temperror') return [couldNotCheck('mx', 'mx.present', `MX ${domain}`, answer.reason)];
    const summary =
      answer.error === 'nxdomain'
        ? `${domain} does not exist in DNS (NXDOMAIN)`
        : `${domain} has no MX record; senders fall back to its A record (RFC 5321 §5.1)`;
    return [receiving ? fail('mx', 'mx.present', summary, publish) : warn('mx', 'mx.present', summary, publish)];
  }
  // By preference, then name: the order a resolver gives (round robin) is no part of the finding.
  const records = [...answer.records].sort(
    (a, b) => a.priority - b.priority || (a.exchange < b.exchange ? -1 : a.exchange > b.exchange ? 1 : 0),
  );
  // RFC 7505 §3: a null MX is one record, preference 0, exchange "." (c-ares gives the root as "").
  if (records.some((r) => bareName(r.exchange) === '')) {
    if (records.length > 1) {
      return [
        fail(
          'mx',
          'mx.null',
          `${domain} mixes a null MX ("MX 0 .") with other MX records (RFC 7505 §3 forbids it)`,
          `Remove "MX 0 ." if ${domain} receives mail, or the other MX records if it does not.`,
        ),
      ];
    }
    return [
      receiving
        ? fail(
            'mx',
            'mx.null',
            `${domain} publishes a null MX (RFC 7505): it says it accepts no mail, yet postern receives mail for it`,
            `Replace "MX 0 ." with "MX 10 ${host}.".`,
          )
        : pass('mx', 'mx.null', `${domain} publishes a null MX (RFC 7505): it accepts no mail`),
    ];
  }
  const list = records.map((r) => `${r.priority} ${bareName(r.exchange)}`).join(', ');
  const checks: Check[] = [pass('mx', 'mx.present', `MX ${list}`)];
  for (const record of records) checks.push(await checkTarget(ctx, record));
  checks.push(...ours(domain, host, records, receiving));
  return checks;
}

async function checkTarget(ctx: CheckContext, record: MxRecord): Promise<Check> {
  const target = bareName(record.exchange);
  if (isIP(target.replace(/^\[|\]$/g, '').replace(/^ipv6:/i, '')) !== 0) {
    return fail(
      'mx',
      'mx.target',
      `MX ${record.priority} points to the address ${target}, not to a host name (RFC 5321 §5.1)`,
      `Publish "${ctx.config.hostname}. A ${target}" and make the MX record "${ctx.domain}. MX ${record.priority} ${ctx.config.hostname}.".`,
      target,
    );
  }
  const alias = await ctx.resolver.cname(target);
  if (alias.ok) {
    return fail(
      'mx',
      'mx.target',
      `MX target ${target} is a CNAME (to ${bareName(alias.records[0] ?? '')}); RFC 2181 §10.3 forbids it`,
      `Point the MX record at ${bareName(alias.records[0] ?? '')} directly, or replace the CNAME of ${target} with A/AAAA records.`,
      target,
    );
  }
  if (alias.error === 'temperror') return couldNotCheck('mx', 'mx.target', `CNAME ${target}`, alias.reason, target);
  const addresses = await lookupAddresses(ctx.resolver, target);
  if (addresses.ok) {
    // RFC 5321 §5.1: senders connect to these addresses. A warning: an internal-only setup may mean it.
    const internal = unreachable(addresses.addresses);
    if (internal.length > 0) {
      return warn(
        'mx',
        'mx.target',
        `MX target ${target} has address ${internal.join(', ')}, which senders on the internet cannot reach`,
        `Publish the public address of ${target} in its A/AAAA records (behind NAT, the router's, with port 25 forwarded), unless ${ctx.domain} receives mail from an internal network only.`,
        target,
      );
    }
    return pass('mx', 'mx.target', `${target} has address ${addresses.addresses.join(', ')}`, target);
  }
  if (addresses.error === 'temperror') {
    return couldNotCheck('mx', 'mx.target', `A/AAAA ${target}`, addresses.reason, target);
  }
  return fail(
    'mx',
    'mx.target',
    `MX target ${target} has no A or AAAA record: senders cannot reach it`,
    `Publish "${target}. A <its IPv4 address>", or remove the MX record that names it.`,
    target,
  );
}

/** Our host must be an MX target to get the mail; a backup preferred over it takes the mail first. */
function ours(domain: string, host: string, records: MxRecord[], receiving: boolean): Check[] {
  const own = records.find((r) => bareName(r.exchange) === bareName(host));
  if (own === undefined) {
    const summary = `${host} (this server) is not among the MX targets of ${domain}`;
    const fix = `Add "${domain}. MX 10 ${host}." or set hostname in postern.yaml to the MX host's name.`;
    return [receiving ? fail('mx', 'mx.ours', summary, fix) : warn('mx', 'mx.ours', summary, fix)];
  }
  const checks = [pass('mx', 'mx.ours', `${host} (this server) is an MX target`)];
  const first = records[0] as MxRecord;
  // RFC 5321 §5.1: lower preference values are tried first.
  checks.push(
    first.priority < own.priority
      ? warn(
          'mx',
          'mx.priorities',
          `${bareName(first.exchange)} (${first.priority}) is preferred over ${host} (${own.priority})`,
          `Give ${host} the lowest MX preference value unless ${bareName(first.exchange)} is meant to take the mail first.`,
        )
      : pass('mx', 'mx.priorities', `${host} has the lowest preference value (${own.priority}), so it is tried first`),
  );
  return checks;
}
