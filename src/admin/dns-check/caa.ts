/**
 * CAA (RFC 8659): the records that say which CAs may issue certificates for the mail host (and the
 * MTA-STS policy host when postern serves it). The relevant record set is the first found climbing from
 * the name toward the root (§3); it must allow the CA postern's certificates come from (publish.caaIssuers,
 * else the ACME CA, else Let's Encrypt, as `postern dns records` publishes), and, when they come through
 * ACME, this server's challenge type and account (RFC 8657 parameters). The query is caa-lookup.ts.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { getDomain } from 'tldts';
import type { Config } from '../../config/schema.ts';
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
  const properties = records.filter((r) => r.tag.toLowerCase() === 'issue').map((r) => parseIssue(r.value));
  const allowed = properties.map((p) => p.issuer);
  if (allowed.length === 0) {
    return warn(
      'caa',
      'caa.issuers',
      `CAA at ${owner} has no issue property: any CA may issue for ${name}`,
      `Publish ${suggest}.`,
      name,
    );
  }
  const acme = ctx.config.tls.acme;
  if (issuers === undefined) {
    return warn(
      'caa',
      'caa.issuers',
      acme
        ? `CAA at ${owner} allows ${allowed.join(', ')}; which CA the ACME directory belongs to is unknown`
        : `CAA at ${owner} allows ${allowed.join(', ')}; which CA signs the certificates in tls.certificates is unknown here`,
      acme
        ? "Set publish.caaIssuers to your ACME CA's issuer domain (its documentation names it)."
        : 'Set publish.caaIssuers to the issuer domain of the CA that signs your certificates (its documentation names it).',
      name,
    );
  }
  const refused = issuers.filter((i) => !allowed.includes(i.toLowerCase()));
  const allowedText = allowed.filter(Boolean).join(', ') || 'no CA';
  if (refused.length > 0) {
    if (!ctx.config.publish.caaIssuers && !acme) {
      // No ACME and no publish.caaIssuers: letsencrypt.org is the CA `dns records` proposes, not one in use.
      return warn(
        'caa',
        'caa.issuers',
        `CAA at ${owner} allows ${allowedText}, not ${refused.join(', ')}; no certificate here comes from a CA through ACME (tls.acme is not set), so ${refused.join(', ')} is only the CA "postern dns records" proposes`,
        `If you will get certificates from Let's Encrypt (tls.acme), publish ${suggest}; if from another CA, set publish.caaIssuers to its issuer domain so this check knows it.`,
        name,
      );
    }
    return fail(
      'caa',
      'caa.issuers',
      acme
        ? `CAA at ${owner} allows ${allowedText}, not ${refused.join(', ')} (the CA in use): renewals will fail`
        : `CAA at ${owner} allows ${allowedText}, not ${refused.join(', ')} (publish.caaIssuers): it will refuse to issue or renew certificates`,
      `Publish ${suggest}, or set publish.caaIssuers to the CA you use.`,
      name,
    );
  }
  if (acme) {
    const refusal = await acmeRefusal(ctx.config, acme, issuers, properties, owner, name);
    if (refusal !== undefined) return refusal;
  }
  return pass('caa', 'caa.issuers', `CAA at ${owner} allows ${issuers.join(', ')} to issue for ${name}`, name);
}

interface IssueProperty {
  /** Lower case; '' allows no CA (RFC 8659 §4.2). */
  issuer: string;
  /** Tags as written: RFC 8657 names them in lower case, and a CA may ignore another spelling as unknown. */
  params: Map<string, string>;
}

/** RFC 8659 §4.2: issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]], parameter = tag "=" value. */
function parseIssue(value: string): IssueProperty {
  const [issuer = '', ...rest] = value.split(';');
  const params = new Map<string, string>();
  for (const part of rest) {
    const parameter = /^\s*([A-Za-z0-9-]+)\s*=\s*(\S*)\s*$/.exec(part);
    if (parameter) params.set(parameter[1] as string, parameter[2] as string);
  }
  return { issuer: issuer.trim().toLowerCase(), params };
}

type Acme = NonNullable<Config['tls']['acme']>;

/**
 * RFC 8657: an issue property may bind its CA to ACME accounts (accounturi, §3) and challenge types
 * (validationmethods, §4); the CA issues when any property naming it allows the order (RFC 8659 §4.2).
 * A refusal (fail) when every property naming the ACME CA excludes this server's challenge or account;
 * a warning when it depends on an account this host cannot read; undefined when the CA accepts.
 */
async function acmeRefusal(
  config: Config,
  acme: Acme,
  issuers: string[],
  properties: IssueProperty[],
  owner: string,
  name: string,
): Promise<Check | undefined> {
  // Only the ACME CA sees this server's challenges and account; publish.caaIssuers may list others.
  const { caaIssuers: _listed, ...publish } = config.publish;
  const acmeIssuers = (expectedIssuers({ ...config, publish }) ?? issuers).map((i) => i.toLowerCase());
  // issue.ts answers http-01 first when both responders are on (its challengePriority): that is the method used.
  const method = acme.http01 ? 'http-01' : 'tls-alpn-01';
  const setting = acme.http01 ? 'tls.acme.http01' : 'tls.acme.tlsAlpn01';
  const accountFile = path.join(config.dataDir, 'tls', 'acme', 'account.json');
  const account = await ourAccount(accountFile, acme.directory);
  for (const issuer of issuers.map((i) => i.toLowerCase()).filter((i) => acmeIssuers.includes(i))) {
    const refusals: string[] = [];
    const unknowns: string[] = [];
    let accepted = false;
    for (const property of properties.filter((p) => p.issuer === issuer)) {
      // §4: validationmethods = label *("," label), the ACME challenge types the CA may use.
      const methods = property.params.get('validationmethods');
      const accountUri = property.params.get('accounturi');
      if (methods !== undefined && !methods.split(',').some((m) => m.trim() === method)) {
        refusals.push(`only through validationmethods=${methods}, and this server answers ${method} (${setting})`);
      } else if (accountUri !== undefined && account !== undefined && accountUri !== account) {
        // §3: the CA compares the account URL it holds with accounturi; another account is refused.
        refusals.push(`only to the ACME account ${accountUri}, not this server's (${account})`);
      } else if (accountUri !== undefined && account === undefined) {
        unknowns.push(`only to the ACME account ${accountUri}`);
      } else accepted = true;
    }
    if (accepted) continue;
    if (refusals.length > 0 && unknowns.length === 0) {
      const byMethod = refusals.some((r) => r.startsWith('only through'));
      return fail(
        'caa',
        'caa.issuers',
        `CAA at ${owner} allows ${issuer} ${refusals.join('; or ')}: the CA refuses this server's certificate orders for ${name} (RFC 8657 ${byMethod ? '§4' : '§3'}), so renewals will fail`,
        byMethod
          ? `Let the CA use ${method}: add it to validationmethods= (as in "${owner}. CAA 0 issue \\"${issuer}; validationmethods=${method}\\""), or remove the parameter.`
          : `Bind the CA to this server's account: publish "${owner}. CAA 0 issue \\"${issuer}; accounturi=${account}\\"" (keep the other account's record if another server uses it), or remove accounturi=.`,
        name,
      );
    }
    return warn(
      'caa',
      'caa.issuers',
      `CAA at ${owner} allows ${issuer} ${[...unknowns, ...refusals].join('; or ')}; this server's ACME account is not known here (no readable ${accountFile} for this directory), so whether the CA accepts its orders is unknown (RFC 8657 §3)`,
      `Once this server has ordered a certificate, compare accounturi= with the "url" in ${accountFile}: if they differ the CA refuses, so publish that URL instead (or remove accounturi=).`,
      name,
    );
  }
  return undefined;
}

/** The account URL this server registered with `directory` (tls/acme/account.ts), if it can be read here. */
async function ourAccount(file: string, directory: string): Promise<string | undefined> {
  try {
    const record = JSON.parse(await readFile(file, 'utf8')) as { directory?: unknown; url?: unknown };
    return record.directory === directory && typeof record.url === 'string' ? record.url : undefined;
  } catch {
    return undefined; // not ordered yet, another user's 0600 file, or damaged: unknown, never "another account"
  }
}
