/**
 * CAA (RFC 8659): the records that say which CAs may issue certificates for the mail host (and the
 * MTA-STS policy host when postern serves it). The relevant record set is the first found climbing from
 * the name toward the root (§3); it must allow the CA postern's certificates come from (publish.caaIssuers,
 * else the ACME CA, else Let's Encrypt, as `postern dns records` publishes). The query is caa-lookup.ts.
 */

import { getDomain } from 'tldts';
import { caaIssuers } from '../caa-issuers.ts';
import { policyHost } from '../mta-sts-policy.ts';
import type { CaaRecord } from './caa-lookup.ts';
import type { CheckContext } from './context.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';

/** Property tags CAs know (RFC 8659 §4.2-§4.4, RFC 8657, RFC 9495); a critical unknown one stops issuance. */
const KNOWN_TAGS = new Set(['issue', 'issuewild', 'iodef', 'contactemail', 'contactphone', 'issuemail', 'issuevmc']);

export const expectedIssuers = caaIssuers;

export async function checkCaa(ctx: CheckContext): Promise<Check[]> {
  const names = [ctx.config.hostname];
  if (ctx.config.mtaSts.listen !== null) names.push(policyHost(ctx.domain));
  const checks: Check[] = [];
  for (const name of names) checks.push(await checkName(ctx, name));
  return checks;
}

async function checkName(ctx: CheckContext, name: string): Promise<Check> {
  const issuers = expectedIssuers(ctx.config);
  // Where a record takes effect for `name` (§3): at the owner of the relevant set when there is one,
  // since a set closer to the name hides those above it; else at the registrable domain of the name, which
  // covers it and its siblings. The name's own domain, not the one checked: the mail host may be elsewhere.
  const suggestAt = (at: string) =>
    (issuers ?? ['<your CA>']).map((i) => `"${at}. CAA 0 issue \\"${i}\\""`).join(' and ');
  // §3: climb from the name toward the root; the first non-empty CAA RRset is the relevant one.
  let owner = name;
  let records: CaaRecord[] | undefined;
  for (; owner.includes('.'); owner = owner.slice(owner.indexOf('.') + 1)) {
    const answer = await ctx.caa(owner);
    if (answer.ok) {
      records = answer.records;
      break;
    }
    if (answer.error === 'temperror') return couldNotCheck('caa', 'caa.issuers', `CAA ${owner}`, answer.reason, name);
  }
  if (records === undefined) {
    const suggest = suggestAt(getDomain(name) ?? name);
    return warn(
      'caa',
      'caa.issuers',
      `no CAA record for ${name}: any CA may issue certificates for it`,
      `Publish ${suggest}.`,
      name,
    );
  }
  const suggest = suggestAt(owner);
  const critical = records.filter((r) => r.critical && !KNOWN_TAGS.has(r.tag.toLowerCase()));
  if (critical.length > 0) {
    return fail(
      'caa',
      'caa.issuers',
      `CAA at ${owner} has a critical tag CAs do not know (${critical.map((r) => r.tag).join(', ')}): none will issue (RFC 8659 §4.1)`,
      `Remove the critical flag or the tag; publish ${suggest}.`,
      name,
    );
  }
  // §4.2: issue-value = issuer-domain-name [";" parameters]; an empty issuer-domain-name allows none.
  const allowed = records
    .filter((r) => r.tag.toLowerCase() === 'issue')
    .map((r) => (r.value.split(';')[0] ?? '').trim().toLowerCase());
  if (allowed.length === 0) {
    return warn(
      'caa',
      'caa.issuers',
      `CAA at ${owner} has no issue property: any CA may issue for ${name}`,
      `Publish ${suggest}.`,
      name,
    );
  }
  if (issuers === undefined) {
    return warn(
      'caa',
      'caa.issuers',
      `CAA at ${owner} allows ${allowed.join(', ')}; which CA the ACME directory belongs to is unknown`,
      "Set publish.caaIssuers to your ACME CA's issuer domain (its documentation names it).",
      name,
    );
  }
  const refused = issuers.filter((i) => !allowed.includes(i.toLowerCase()));
  if (refused.length > 0) {
    return fail(
      'caa',
      'caa.issuers',
      `CAA at ${owner} allows ${allowed.filter(Boolean).join(', ') || 'no CA'}, not ${refused.join(', ')} (the CA in use): renewals will fail`,
      `Publish ${suggest}, or set publish.caaIssuers to the CA you use.`,
      name,
    );
  }
  return pass('caa', 'caa.issuers', `CAA at ${owner} allows ${issuers.join(', ')} to issue for ${name}`, name);
}
