/**
 * DMARC (RFC 7489) of the domain: one record at `_dmarc.domain` (§6.1, §6.6.3), its tags valid (§6.3,
 * §6.4; np/t/psd of RFC 9989), the policy's strength (p=none is a start, §6.3 and Appendix C walk toward
 * reject), and report destinations outside the domain authorised by their owner (§7.1), without which
 * receivers send them nothing. The record is read strictly here: receivers forgive some slips, an
 * admin should still fix them.
 */

import { getDomain } from 'tldts';
import type { CheckContext } from './context.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';
import { createCommands, refusedReportAddresses } from './report-addresses.ts';

type Policy = 'none' | 'quarantine' | 'reject';
const POLICIES = ['none', 'quarantine', 'reject'];

export interface DmarcRecord {
  tags: Map<string, string>;
  errors: string[];
  unknown: string[];
}

/** RFC 7489 §6.4 and §6.3 (with RFC 9989 np, t, psd): the tag values' grammar. */
const VALID: Record<string, (value: string) => boolean> = {
  v: (v) => v === 'DMARC1',
  p: (v) => POLICIES.includes(v.toLowerCase()),
  sp: (v) => POLICIES.includes(v.toLowerCase()),
  np: (v) => POLICIES.includes(v.toLowerCase()),
  adkim: (v) => /^[rs]$/i.test(v),
  aspf: (v) => /^[rs]$/i.test(v),
  pct: (v) => /^\d{1,3}$/.test(v) && Number(v) <= 100,
  fo: (v) => /^[01ds](\s*:\s*[01ds])*$/i.test(v),
  rf: (v) => /^[a-z0-9-]+(\s*:\s*[a-z0-9-]+)*$/i.test(v),
  ri: (v) => /^\d{1,10}$/.test(v) && Number(v) <= 4_294_967_295,
  rua: (v) => uris(v) !== undefined,
  ruf: (v) => uris(v) !== undefined,
  t: (v) => /^[yn]$/i.test(v),
  psd: (v) => /^[ynu]$/i.test(v),
};

export function parseDmarcRecord(text: string): DmarcRecord {
  const record: DmarcRecord = { tags: new Map(), errors: [], unknown: [] };
  const parts = text.split(';').map((part) => part.trim());
  if (parts.at(-1) === '') parts.pop(); // a trailing ";" is allowed (§6.4 dmarc-record)
  parts.forEach((part, index) => {
    const tag = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(part);
    if (!tag) {
      record.errors.push(`"${part}" is not tag=value`);
      return;
    }
    const name = (tag[1] as string).toLowerCase();
    const value = tag[2] as string;
    if (index === 0 && name !== 'v') record.errors.push('v=DMARC1 must come first');
    if (record.tags.has(name)) record.errors.push(`${name}= appears twice`);
    const valid = VALID[name];
    if (valid === undefined) record.unknown.push(name);
    else if (!valid(value)) record.errors.push(`${name}=${value} is not valid`);
    record.tags.set(name, value);
  });
  // §6.3: p is required in a policy record (one with rua only is a reporting-only record, still incomplete).
  if (!record.tags.has('p')) record.errors.push('p= is missing');
  return record;
}

/**
 * §6.2 dmarc-uri list: `scheme:rest` with an optional `!size` limit, comma-separated. A `%` starts a
 * percent-encoding of two hex digits (RFC 3986 §2.1); anything else is no URI, and no address to decode.
 */
function uris(value: string): string[] | undefined {
  const list = value.split(',').map((u) => u.trim());
  const uri = /^[a-z][a-z0-9+.-]*:(?:[^!\s,%]|%[0-9a-f]{2})+(![0-9]+[kmgt]?)?$/i;
  return list.every((u) => uri.test(u)) ? list : undefined;
}

/** %HH that is not UTF-8 (%FF) makes decodeURIComponent throw: such an address is read as written. */
function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The DMARC record that applies to a domain, as a receiver discovers it (RFC 7489 §6.6.3): the domain's
 * own record at `_dmarc.<domain>`, else its organizational domain's, whose sp= (else p=) then applies.
 * The DMARC area judges it; BIMI (bimi.ts) reads the policy from it, so the two never disagree.
 */
export type DmarcDiscovery =
  | { found: 'own'; name: string; text: string; record: DmarcRecord }
  | { found: 'organizational'; name: string; org: string; text: string; record: DmarcRecord; discarded?: string }
  /** §6.6.3: more than one record at the domain's name: receivers apply none. */
  | { found: 'several'; name: string; count: number }
  /** `discarded`: a record at the domain's name meant as DMARC that lacks v=DMARC1 first. */
  | { found: 'none'; name: string; discarded?: string }
  | { found: 'temperror'; name: string; query: string; reason: string; discarded?: string };

export async function discoverDmarc(ctx: Pick<CheckContext, 'domain' | 'resolver'>): Promise<DmarcDiscovery> {
  const name = `_dmarc.${ctx.domain}`;
  const txt = await ctx.resolver.txt(name);
  if (!txt.ok && txt.error === 'temperror')
    return { found: 'temperror', name, query: `TXT ${name}`, reason: txt.reason };
  // §6.6.3: records not starting with v=DMARC1 are discarded before counting.
  const records = txt.ok ? txt.records.filter(isDmarcRecord) : [];
  if (records.length > 1) return { found: 'several', name, count: records.length };
  if (records.length === 1) {
    const text = records[0] as string;
    return { found: 'own', name, text, record: parseDmarcRecord(text) };
  }
  // Meant as DMARC: a policy tag, or a version tag that is a slip away (v=dmarc1, "v=DMARC1 p=reject").
  const discarded = txt.ok
    ? txt.records.find((r) => /(^|;)\s*p\s*=/i.test(r) || /^v\s*=\s*dmarc/i.test(r.trim()))
    : undefined;
  const none = { found: 'none' as const, name, ...(discarded === undefined ? {} : { discarded }) };
  // §6.6.3: without a record of its own, a subdomain falls under its organizational domain's record.
  const org = getDomain(ctx.domain);
  if (org === null || org === ctx.domain) return none;
  const orgTxt = await ctx.resolver.txt(`_dmarc.${org}`);
  if (!orgTxt.ok) {
    return orgTxt.error === 'temperror'
      ? { ...none, found: 'temperror', query: `TXT _dmarc.${org}`, reason: orgTxt.reason }
      : none;
  }
  const orgRecords = orgTxt.records.filter(isDmarcRecord);
  if (orgRecords.length !== 1) return none;
  const text = orgRecords[0] as string;
  return {
    found: 'organizational',
    name,
    org,
    text,
    record: parseDmarcRecord(text),
    ...(discarded === undefined ? {} : { discarded }),
  };
}

/** §6.6.3: the policy of a discovered record: p= of the domain's own, sp= (else p=) of the organizational domain's. */
export function appliedPolicy(found: { found: 'own' | 'organizational'; record: DmarcRecord }): string | undefined {
  const { tags } = found.record;
  const policy = found.found === 'organizational' ? (tags.get('sp') ?? tags.get('p')) : tags.get('p');
  return policy?.toLowerCase();
}

export async function checkDmarc(ctx: CheckContext): Promise<Check[]> {
  const suggested = `v=DMARC1; p=${ctx.config.publish.dmarcPolicy}; rua=${ctx.config.publish.dmarcRua ?? `mailto:dmarc-reports@${ctx.domain}`}`;
  const found = await discoverDmarc(ctx);
  const { name } = found;
  // A record meant as DMARC that lacks v=DMARC1 first is discarded just the same (§6.6.3): say so.
  // Receivers then fall back to the parent's record, but the admin's own policy is lost: still a failure.
  if (
    (found.found === 'none' || found.found === 'temperror' || found.found === 'organizational') &&
    found.discarded !== undefined
  ) {
    // §6.4: dmarc-record = dmarc-version dmarc-sep ...: "v=DMARC1" then ";" before any other tag.
    const noSeparator = /^[vV]\s*=\s*DMARC1\s*[^\s;]/.test(found.discarded.trim());
    return [
      fail(
        'dmarc',
        'dmarc.record',
        noSeparator
          ? `${name} has "${found.discarded}", whose v=DMARC1 is not followed by ";" (RFC 7489 §6.4): receivers discard it (§6.6.3)`
          : `${name} has "${found.discarded}", which does not start with v=DMARC1 (in capitals, RFC 7489 §6.4): receivers discard it (§6.6.3)`,
        noSeparator
          ? `Separate the tags with ";", as in "${suggested}".`
          : `Start the record with v=DMARC1, as in "${suggested}".`,
      ),
    ];
  }
  if (found.found === 'temperror') return [couldNotCheck('dmarc', 'dmarc.record', found.query, found.reason)];
  if (found.found === 'organizational') {
    const checks = [
      pass(
        'dmarc',
        'dmarc.record',
        `no record at ${name}; the record of ${found.org} applies (policy ${appliedPolicy(found) ?? 'none'}); run this check for ${found.org} too`,
      ),
    ];
    // §6.6.3: the inherited sp= (else p=) is this domain's policy, and as weak under another name.
    const inherited = appliedPolicy(found);
    if (inherited !== undefined && POLICIES.includes(inherited)) {
      const tag = found.record.tags.has('sp') ? 'sp' : 'p';
      checks.push(policyCheck(ctx.domain, inherited as Policy, found.record.tags, { org: found.org, tag }));
    }
    return checks;
  }
  if (found.found === 'none') {
    return [
      fail(
        'dmarc',
        'dmarc.record',
        `${name} has no DMARC record: receivers cannot tell your mail from forgeries`,
        `Publish "${name}. TXT \\"${suggested}\\"", then tighten p= as reports come in.`,
      ),
    ];
  }
  if (found.found === 'several') {
    return [
      fail(
        'dmarc',
        'dmarc.record',
        `${name} has ${found.count} DMARC records; receivers then apply none (RFC 7489 §6.6.3)`,
        `Keep exactly one DMARC record at ${name}.`,
      ),
    ];
  }
  const { text, record } = found;
  const checks: Check[] = [pass('dmarc', 'dmarc.record', `"${text}"`)];
  const reportingOnly = record.errors.length === 1 && record.errors[0] === 'p= is missing' && record.tags.has('rua');
  if (reportingOnly) {
    // RFC 7489 §6.6.3: no p= but a valid rua=: receivers act as if p=none was published.
    checks.push(
      warn(
        'dmarc',
        'dmarc.syntax',
        'no p=: with a valid rua= receivers take it as p=none (RFC 7489 §6.6.3), but some drop such a record',
        `Write the policy out: "${suggested}".`,
      ),
    );
  } else if (record.errors.length > 0) {
    checks.push(
      fail(
        'dmarc',
        'dmarc.syntax',
        `DMARC syntax: ${record.errors.join('; ')}`,
        `Correct the record (RFC 7489 §6.3); a valid start is "${suggested}".`,
      ),
    );
  } else if (record.unknown.length > 0) {
    checks.push(
      warn(
        'dmarc',
        'dmarc.syntax',
        `unknown tags ${record.unknown.map((t) => `${t}=`).join(', ')}, which receivers ignore (§6.3)`,
        'Remove them, or correct the spelling if they were meant as p, sp, rua, ruf, adkim, aspf, pct, fo.',
      ),
    );
  } else {
    checks.push(pass('dmarc', 'dmarc.syntax', 'valid tags'));
  }
  const p = record.tags.get('p')?.toLowerCase();
  if (p !== undefined && POLICIES.includes(p)) checks.push(policyCheck(ctx.domain, p as Policy, record.tags));
  checks.push(await reportsCheck(ctx, record.tags));
  return checks;
}

/** RFC 7489 §6.4: the tag name is case-insensitive, "DMARC1" is not (%x44 %x4d …): `v=dmarc1` is discarded. */
function isDmarcRecord(text: string): boolean {
  return /^[vV]\s*=\s*DMARC1\s*(;|$)/.test(text.trim());
}

/**
 * The policy's strength. `inherited`: a subdomain without a record of its own, under its organizational
 * domain's sp= (else p=), whose pct= and t= then apply as well (RFC 7489 §6.6.3).
 */
function policyCheck(
  domain: string,
  p: Policy,
  tags: Map<string, string>,
  inherited?: { org: string; tag: 'p' | 'sp' },
): Check {
  const said = inherited ? `${inherited.tag}=${p} inherited from ${inherited.org}` : `p=${p}`;
  // RFC 7489 §6.3: sp= is the policy for subdomains of an organizational domain (on a subdomain's own record
  // discovery never reads it, §6.6.3). sp=none under a stronger p= leaves every name under the domain,
  // existing or made up, open to forgery while the domain itself looks protected.
  const sp = inherited || getDomain(domain) !== domain ? undefined : tags.get('sp')?.toLowerCase();
  const where = inherited
    ? `publish ${inherited.tag === 'sp' ? 'sp=' : 'p='}quarantine, then reject, in the record of ${inherited.org} (or a record of its own at _dmarc.${domain})`
    : `publish p=quarantine, then p=reject (RFC 7489 §6.3). Set publish.dmarcPolicy so "postern dns records ${domain}" prints it`;
  if (p === 'none') {
    return warn(
      'dmarc',
      'dmarc.policy',
      `${said}: forged mail from ${inherited ? domain : 'your domain'} is delivered as usual (monitoring only)`,
      `Read the aggregate reports (rua) for a few weeks; once all your own mail passes, ${where}.`,
    );
  }
  if (sp === 'none') {
    return warn(
      'dmarc',
      'dmarc.policy',
      `p=${p} but sp=none: forged mail from subdomains of ${domain} (any name under it, existing or not) is delivered as usual (RFC 7489 §6.3)`,
      `Remove sp= so that p=${p} covers subdomains too (the record "postern dns records ${domain}" prints has no sp=), or raise it to sp=quarantine, then sp=reject, once mail from your subdomains passes DMARC.`,
    );
  }
  const pct = Number(tags.get('pct') ?? '100');
  if (pct < 100 || tags.get('t')?.toLowerCase() === 'y') {
    return warn(
      'dmarc',
      'dmarc.policy',
      `${said} applies to part of the failing mail only (${pct < 100 ? `pct=${pct}` : 't=y'})`,
      `Raise pct to 100 (remove pct= and t=y${inherited ? ` from the record of ${inherited.org}` : ''}) once the reports show no legitimate mail failing.`,
    );
  }
  // sp=quarantine under p=reject still keeps forged subdomain mail out of the inbox: a choice, said, not a fault.
  const weaker = sp !== undefined && POLICIES.includes(sp) && POLICIES.indexOf(sp) < POLICIES.indexOf(p);
  return pass(
    'dmarc',
    'dmarc.policy',
    `${said}: receivers ${p} mail that fails DMARC${weaker ? `; sp=${sp}: they ${sp} such mail from subdomains` : ''}`,
  );
}

/** §7.1: a destination in another organizational domain must publish `<domain>._report._dmarc.<dest>`. */
async function reportsCheck(ctx: CheckContext, tags: Map<string, string>): Promise<Check> {
  const rua = uris(tags.get('rua') ?? '') ?? [];
  const ruf = uris(tags.get('ruf') ?? '') ?? [];
  if (rua.length === 0 && tags.has('rua')) {
    // The syntax check names the malformed URI; "no rua=" would tell the admin something else.
    return warn(
      'dmarc',
      'dmarc.reports',
      'rua= is not a list of valid URIs, so no aggregate reports arrive',
      `Fix rua= as the DMARC syntax line says, e.g. rua=mailto:dmarc-reports@${ctx.domain}.`,
    );
  }
  if (rua.length === 0) {
    return warn(
      'dmarc',
      'dmarc.reports',
      'no rua=: nobody sends you aggregate reports, so you cannot see who sends as your domain',
      `Add rua=mailto:dmarc-reports@${ctx.domain} to the DMARC record.`,
    );
  }
  // RFC 7489 §6.2: mailto: is the only URI scheme receivers must support, and the only one they send
  // aggregate reports to; §7.2.1.2 leaves other schemes undefined.
  if (!rua.some((uri) => /^mailto:/i.test(uri))) {
    return warn(
      'dmarc',
      'dmarc.reports',
      `rua=${rua.join(',')} has no mailto: URI, and receivers send aggregate reports by mail only (RFC 7489 §6.2): none arrive`,
      `Add a mailto: address to rua=, e.g. rua=mailto:dmarc-reports@${ctx.domain}.`,
    );
  }
  const own = getDomain(ctx.domain) ?? ctx.domain;
  const unauthorised: string[] = [];
  for (const uri of [...rua, ...ruf]) {
    const address = /^mailto:([^!]+)/i.exec(uri)?.[1];
    if (address === undefined) continue; // §6.2: only mailto: is defined for delivery
    const dest = percentDecoded(address).split('@').pop()?.toLowerCase() ?? '';
    if ((getDomain(dest) ?? dest) === own || unauthorised.includes(dest)) continue;
    const name = `${ctx.domain}._report._dmarc.${dest}`;
    const txt = await ctx.resolver.txt(name);
    if (!txt.ok && txt.error === 'temperror') return couldNotCheck('dmarc', 'dmarc.reports', `TXT ${name}`, txt.reason);
    if (!txt.ok || !txt.records.some(isDmarcRecord)) unauthorised.push(dest);
  }
  if (unauthorised.length > 0) {
    return fail(
      'dmarc',
      'dmarc.reports',
      `report destinations ${unauthorised.join(', ')} have not authorised reports for ${ctx.domain} (RFC 7489 §7.1)`,
      `Ask each to publish "${ctx.domain}._report._dmarc.<their domain>. TXT \\"v=DMARC1\\"", or send reports to an address at ${ctx.domain}.`,
    );
  }
  // §7.2.1.1: reports are mailed to the mailto: destinations; ours refuse an address no account has.
  const resolveAddress = ctx.store?.resolveAddress?.bind(ctx.store);
  const refused = resolveAddress ? await refusedReportAddresses([...rua, ...ruf], ctx.config, { resolveAddress }) : [];
  if (refused.length > 0) {
    return warn(
      'dmarc',
      'dmarc.reports',
      `${refused.join(', ')} ha${refused.length === 1 ? 's' : 've'} no account or alias here: this server refuses the reports sent there (550 5.1.1)`,
      `Create the account or alias: ${createCommands(refused)}.`,
    );
  }
  return pass('dmarc', 'dmarc.reports', `reports go to ${[...rua, ...ruf].join(', ')}`);
}
