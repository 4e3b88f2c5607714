/**
 * SPF (RFC 7208) of the domain: exactly one record (§4.5), valid syntax in it and in all it includes
 * (§4.6, §5.2, §6.1), within the lookup limits (§4.6.4), ending in -all or ~all, and check_host() (§4)
 * passing this server's addresses, evaluated by the same code that checks incoming mail.
 */

import { checkSpf } from '../../authentication/spf/check-spf.ts';
import { spfRecordFor } from '../dns-records.ts';
import { type CheckContext, sendingAddresses } from './context.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';
import { isSpfRecord, spfSyntaxError, type Unread, walkSpf } from './spf-walk.ts';

const MAX_LOOKUPS = 10; // §4.6.4
const MAX_VOID_LOOKUPS = 2; // §4.6.4

export async function checkSpfArea(ctx: CheckContext): Promise<Check[]> {
  const { domain } = ctx;
  const suggested = spfRecordFor(ctx.config);
  const txt = await ctx.resolver.txt(domain);
  if (!txt.ok && txt.error === 'temperror') return [couldNotCheck('spf', 'spf.record', `TXT ${domain}`, txt.reason)];
  const records = txt.ok ? txt.records.filter(isSpfRecord) : [];
  if (records.length === 0) {
    return [
      fail(
        'spf',
        'spf.record',
        `${domain} has no SPF record`,
        `Publish "${domain}. TXT \\"${suggested}\\"" so receivers know which hosts send for ${domain}.`,
      ),
    ];
  }
  if (records.length > 1) {
    return [
      fail(
        'spf',
        'spf.record',
        `${domain} has ${records.length} SPF records; receivers treat that as an error (RFC 7208 §4.5: permerror)`,
        `Publish exactly one SPF record; merge ${records.map((r) => `"${r}"`).join(' and ')} into one.`,
      ),
    ];
  }
  const record = records[0] as string;
  const checks: Check[] = [pass('spf', 'spf.record', `"${record}"`)];
  const syntax = spfSyntaxError(record);
  if (syntax) {
    checks.push(
      fail(
        'spf',
        'spf.syntax',
        `SPF syntax error: ${syntax}`,
        `Correct the record; a valid one is "${suggested}" (RFC 7208 §4.6.1 and §5).`,
      ),
    );
    return checks;
  }
  const walk = await walkSpf(ctx.resolver, domain, record);
  if (walk.problems.length > 0) {
    checks.push(
      fail(
        'spf',
        'spf.syntax',
        `SPF evaluation ends in permerror: ${walk.problems.join('; ')}`,
        'Remove or correct the include/redirect that has no usable SPF record.',
      ),
    );
  } else if (walk.unread.length > 0) {
    // RFC 7208 §4.4: a record DNS did not give is a temperror, not a pass; its syntax is unknown until it answers.
    const first = walk.unread[0] as Unread;
    const query = walk.unread.map((u) => `TXT ${u.name}`).join(', ');
    checks.push(couldNotCheck('spf', 'spf.syntax', query, first.reason));
  } else if (walk.usesPtr) {
    checks.push(
      warn(
        'spf',
        'spf.syntax',
        'the record uses the ptr mechanism, which RFC 7208 §5.5 says SHOULD NOT be used (slow, unreliable)',
        'Replace ptr with ip4:/ip6: ranges or a/mx terms.',
      ),
    );
  } else {
    checks.push(pass('spf', 'spf.syntax', 'valid syntax, and so are the records it includes'));
  }
  if (walk.temperror !== undefined) {
    checks.push(couldNotCheck('spf', 'spf.lookups', 'the records the SPF record includes', walk.temperror));
  } else if (walk.lookups > MAX_LOOKUPS || walk.voidLookups > MAX_VOID_LOOKUPS) {
    const over = [
      walk.lookups > MAX_LOOKUPS ? `${walk.lookups} DNS lookups (limit ${MAX_LOOKUPS})` : '',
      walk.voidLookups > MAX_VOID_LOOKUPS ? `${walk.voidLookups} void lookups (limit ${MAX_VOID_LOOKUPS})` : '',
    ].filter(Boolean);
    checks.push(
      fail(
        'spf',
        'spf.lookups',
        `SPF needs ${over.join(' and ')}: receivers stop with permerror (RFC 7208 §4.6.4)`,
        walk.lookups > MAX_LOOKUPS
          ? 'Flatten the record: replace include: terms by the ip4:/ip6: ranges they list, and drop includes of services you no longer use.'
          : 'Remove the a:, mx:, include: or exists: terms whose names have no records.',
      ),
    );
  } else {
    checks.push(
      pass(
        'spf',
        'spf.lookups',
        `${walk.lookups} DNS ${walk.lookups === 1 ? 'lookup' : 'lookups'} (limit ${MAX_LOOKUPS}), ${walk.voidLookups} void (limit ${MAX_VOID_LOOKUPS})`,
      ),
    );
  }
  if (walk.allUnread) {
    // RFC 7208 §6.1: the redirect target's all ends the evaluation; unread, that ending is unknown (§4.4).
    checks.push(couldNotCheck('spf', 'spf.all', `TXT ${walk.allUnread.name}`, walk.allUnread.reason));
  } else checks.push(allCheck(walk.all, suggested));
  // check_host() on a record already found broken would only repeat the failure above.
  if (checks.some((c) => c.status === 'fail')) return checks;
  checks.push(...(await authorizes(ctx)), ...(await heloAuthorizes(ctx)));
  return checks;
}

/**
 * RFC 7208 §2.3: receivers check the HELO name on its own, and it is the only identity a bounce
 * (empty MAIL FROM) has: the record `dns records` prints for the host must pass this server.
 */
async function heloAuthorizes(ctx: CheckContext): Promise<Check[]> {
  const addresses = await sendingAddresses(ctx);
  if (!addresses.ok) return []; // said by authorizes() and names.address
  const host = ctx.config.hostname;
  const checks: Check[] = [];
  for (const ip of addresses.addresses) {
    const result = await checkSpf({ ip, sender: '', helo: host, resolver: ctx.resolver, hostname: host });
    if (result.result === 'pass') {
      checks.push(pass('spf', 'spf.helo', `SPF of the HELO name ${host} passes ${ip}`, ip));
    } else if (result.result === 'temperror') {
      checks.push(couldNotCheck('spf', 'spf.helo', `the SPF record of ${host}`, result.reason, ip));
    } else {
      const fix =
        result.result === 'none'
          ? `Publish "${host}. TXT \\"v=spf1 a -all\\"": receivers check the HELO name, and bounces have no other identity.`
          : `Let the SPF record of ${host} pass ${ip}, e.g. "v=spf1 a -all" when ${host} has that address.`;
      checks.push(
        warn(
          'spf',
          'spf.helo',
          `SPF of the HELO name ${host} gives ${result.result} for ${ip} (RFC 7208 §2.3)`,
          fix,
          ip,
        ),
      );
    }
  }
  return checks;
}

/** The verdict for everyone else: -all (fail) or ~all (softfail) keep strangers out; §8.4, §8.5. */
function allCheck(all: string | undefined, suggested: string): Check {
  if (all === '-' || all === '~') return pass('spf', 'spf.all', `ends in ${all}all`);
  const fix = `End the record in -all (or ~all while testing), as in "${suggested}".`;
  if (all === '+') return warn('spf', 'spf.all', 'ends in +all: every host on the internet may send as you', fix);
  if (all === '?')
    return warn('spf', 'spf.all', 'ends in ?all (neutral): the record says nothing about strangers', fix);
  return warn('spf', 'spf.all', 'has no all term: other hosts get neutral (RFC 7208 §4.7)', fix);
}

async function authorizes(ctx: CheckContext): Promise<Check[]> {
  const addresses = await sendingAddresses(ctx);
  if (!addresses.ok) {
    if (addresses.error === 'temperror') {
      return [couldNotCheck('spf', 'spf.authorizes', `A/AAAA ${ctx.config.hostname}`, addresses.reason)];
    }
    return []; // no address to test: names.address says so
  }
  const checks: Check[] = [];
  for (const ip of addresses.addresses) {
    const result = await checkSpf({
      ip,
      sender: `postmaster@${ctx.domain}`,
      helo: ctx.config.hostname,
      resolver: ctx.resolver,
      hostname: ctx.config.hostname,
    });
    if (result.result === 'pass') {
      checks.push(pass('spf', 'spf.authorizes', `SPF passes mail from ${ip} (this server)`, ip));
    } else if (result.result === 'temperror') {
      checks.push(couldNotCheck('spf', 'spf.authorizes', `the SPF records of ${ctx.domain}`, result.reason, ip));
    } else {
      checks.push(
        fail(
          'spf',
          'spf.authorizes',
          `SPF gives ${result.result} for mail from ${ip} (this server): receivers may reject it`,
          `Add ${ip.includes(':') ? 'ip6' : 'ip4'}:${ip} to the SPF record (or mx, when ${ctx.config.hostname} is the MX host).`,
          ip,
        ),
      );
    }
  }
  return checks;
}
