/**
 * MTA-STS (RFC 8461) of the domain: the `_mta-sts` TXT record with its id (§3.1); the policy it announces,
 * fetched as a sender fetches it (§3.3: HTTPS to `mta-sts.domain`, a valid certificate, HTTP 200, no
 * redirects) and parsed strictly (§3.2, mailauth's parser); its mode; its mx patterns covering every MX
 * host (§4.1, one-label wildcards); its max_age. A domain without the TXT record simply has no MTA-STS.
 */

import { isIP } from 'node:net';
import { parsePolicy, validateMx } from 'mailauth/lib/mta-sts.js';
import { MTA_STS_PATH, mtaStsPolicy, policyHost } from '../mta-sts-policy.ts';
import { bareName, type CheckContext } from './context.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';

type Policy = ReturnType<typeof parsePolicy>;

/** max_age below a day makes senders refetch constantly and leaves little protection between fetches. */
const MIN_SENSIBLE_MAX_AGE = 86_400;

export async function checkMtaSts(ctx: CheckContext): Promise<Check[]> {
  const name = `_mta-sts.${ctx.domain}`;
  const ours = mtaStsPolicy(ctx.config);
  const host = policyHost(ctx.domain);
  const serve =
    ctx.config.mtaSts.listen === null
      ? `Set mtaSts.listen in postern.yaml so postern serves the policy, with a certificate for ${host}, and point ${host} (A/AAAA) at this server.`
      : `postern serves the policy on ${ctx.config.mtaSts.listen}: point ${host} (A/AAAA) at this server, let port 443 reach that listener, and give it a certificate for ${host}.`;
  const txt = await ctx.resolver.txt(name);
  if (!txt.ok && txt.error === 'temperror')
    return [couldNotCheck('mta-sts', 'mta-sts.record', `TXT ${name}`, txt.reason)];
  // §3.1: records not starting with "v=STSv1;" are discarded; more than one left means no policy.
  const records = txt.ok ? txt.records.filter((r) => /^v=STSv1\s*;/.test(r)) : [];
  if (records.length === 0) {
    // A record meant as MTA-STS that does not start exactly "v=STSv1;" (case-sensitive): say what was found.
    const near = txt.ok ? txt.records.find((r) => /^v\s*=\s*sts/i.test(r)) : undefined;
    return [
      warn(
        'mta-sts',
        'mta-sts.record',
        near === undefined
          ? `${name} has no MTA-STS record: senders may deliver without TLS if an attacker strips it`
          : `${name} has "${near}", which senders discard: it must start exactly "v=STSv1;" (RFC 8461 §3.1)`,
        `${serve} Then publish "${name}. TXT \\"v=STSv1; id=${ours.id}\\"".`,
      ),
    ];
  }
  if (records.length > 1) {
    return [
      fail(
        'mta-sts',
        'mta-sts.record',
        `${name} has ${records.length} MTA-STS records; senders then apply none (RFC 8461 §3.1)`,
        'Keep exactly one MTA-STS record.',
      ),
    ];
  }
  const record = records[0] as string;
  const id = stsId(record);
  if (id === undefined) {
    return [
      fail(
        'mta-sts',
        'mta-sts.record',
        `"${record}" has no valid id= (1 to 32 letters and digits, RFC 8461 §3.1)`,
        `Publish "${name}. TXT \\"v=STSv1; id=${ours.id}\\"".`,
      ),
    ];
  }
  const checks: Check[] = [];
  if (ctx.config.mtaSts.listen !== null && id !== ours.id) {
    checks.push(
      warn(
        'mta-sts',
        'mta-sts.record',
        `id=${id}, but the policy postern serves has id ${ours.id}: senders keep a cached older policy`,
        `Publish "${name}. TXT \\"v=STSv1; id=${ours.id}\\"" (RFC 8461 §3.1: a new id tells senders to refetch).`,
      ),
    );
  } else {
    checks.push(pass('mta-sts', 'mta-sts.record', `"${record}"`));
  }
  const fetched = await fetchPolicy(ctx, id, serve);
  if ('check' in fetched) return [...checks, fetched.check];
  const policy = fetched.policy;
  const url = `https://${policyHost(ctx.domain)}${MTA_STS_PATH}`;
  checks.push(
    ctx.config.mtaSts.listen !== null && fetched.body !== ours.text
      ? stalePolicy(name, url, fetched.body, ours)
      : pass('mta-sts', 'mta-sts.policy', `policy at ${url} fetched and valid`),
    modeCheck(policy),
  );
  if (policy.mode !== 'none') {
    const mx = await mxCheck(ctx, policy);
    if (mx) checks.push(mx);
  }
  checks.push(maxAgeCheck(policy));
  return checks;
}

/**
 * `serve` builds the policy once, at start: after an edit of mtaSts (or hostname) without a restart, the
 * id `dns records` prints is new and the policy served old. RFC 8461 §3.1: senders take the id as naming
 * the policy they fetch, so they would cache the old text under the new id and not refetch it until the
 * id changes again. Under enforce, MX hosts missing from the old text are refused meanwhile (§4.1).
 */
function stalePolicy(name: string, url: string, served: string, ours: { text: string; id: string }): Check {
  const fields = (text: string) =>
    text
      .split(/\r?\n/)
      .filter((line) => line !== '' && !line.startsWith('version:'))
      .join(', ');
  return fail(
    'mta-sts',
    'mta-sts.policy',
    `the policy host serves an older policy than this config: ${url} has "${fields(served)}", this config makes "${fields(ours.text)}" (id ${ours.id})`,
    `Restart postern serve (it reads the policy at start; on every node, each with the same mtaSts settings), then publish "${name}. TXT \\"v=STSv1; id=${ours.id}\\"" if it is not already, and run dns check again.`,
  );
}

/** §3.1 sts-id: 1*32(ALPHA / DIGIT), in a field list "v=STSv1; id=...;". */
function stsId(record: string): string | undefined {
  const fields = record.split(';').map((f) => f.trim());
  const id = fields.find((f) => f.startsWith('id='))?.slice(3);
  return id !== undefined && /^[A-Za-z0-9]{1,32}$/.test(id) ? id : undefined;
}

async function fetchPolicy(
  ctx: CheckContext,
  id: string,
  serve: string,
): Promise<{ policy: Policy; body: string } | { check: Check }> {
  const url = `https://${policyHost(ctx.domain)}${MTA_STS_PATH}`;
  const broken = (why: string) => ({
    check: fail('mta-sts', 'mta-sts.policy', `the TXT record announces policy ${id}, but ${url}: ${why}`, serve),
  });
  const response = await ctx.fetch(url);
  if (!response.ok) {
    if (response.temporary) {
      return {
        check: warn(
          'mta-sts',
          'mta-sts.policy',
          `could not fetch ${url}: ${response.error}`,
          `Run the check again; if it persists, make sure ${policyHost(ctx.domain)} answers HTTPS.`,
        ),
      };
    }
    return broken(response.error);
  }
  // §3.3: "Senders ... MUST NOT follow HTTP redirects"; only 200 carries a policy.
  if (response.status !== 200) return broken(`HTTP status ${response.status}, not 200`);
  // §3.2: the policy is served as text/plain.
  const type = response.contentType.split(';')[0]?.trim().toLowerCase();
  if (type !== 'text/plain') return broken(`Content-Type "${response.contentType}", not text/plain (RFC 8461 §3.2)`);
  try {
    return { policy: parsePolicy(response.body, { strict: true }), body: response.body.toString('utf8') };
  } catch (err) {
    // The policy was served, so serving it is not what to fix: its content is.
    const code = String((err as { code?: unknown }).code ?? '');
    const field = POLICY_FIELDS[code] ?? 'the fields "version: STSv1", "mode:", "mx:" and "max_age:", one per line';
    const source =
      ctx.config.mtaSts.listen === null
        ? ''
        : ' postern builds the policy it serves from mtaSts in postern.yaml: check mtaSts.mode, mtaSts.mx (the hostname when absent) and mtaSts.maxAgeSeconds there.';
    return {
      check: fail(
        'mta-sts',
        'mta-sts.policy',
        `the TXT record announces policy ${id}, but ${url}: not a valid policy (${(err as Error).message}, RFC 8461 §3.2)`,
        `Correct the policy at ${url}: ${field} (RFC 8461 §3.2).${source}`,
      ),
    };
  }
}

/** What each field of a policy must hold (RFC 8461 §3.2), by mailauth's error code for it. */
const POLICY_FIELDS: Record<string, string> = {
  invalid_sts_version: '"version:" must be "STSv1", exactly so',
  invalid_sts_mode: '"mode:" must be "enforce", "testing" or "none", in lower case',
  invalid_sts_max_age:
    '"max_age:" must be a number of seconds, digits only, at most 31557600 (a year); a week or more is usual',
  invalid_sts_mx:
    'each "mx:" line must be an MX host name or a "*." wildcard of one label (mx: mail.example.com, mx: *.example.com), and modes other than none need at least one',
};

function modeCheck(policy: Policy): Check {
  if (policy.mode === 'enforce') return pass('mta-sts', 'mta-sts.mode', 'mode: enforce');
  if (policy.mode === 'testing') {
    return warn(
      'mta-sts',
      'mta-sts.mode',
      'mode: testing: senders report TLS failures but still deliver without TLS',
      'Set mtaSts.mode: enforce (and publish a new id) once TLS-RPT reports show no failures.',
    );
  }
  return warn(
    'mta-sts',
    'mta-sts.mode',
    'mode: none: the policy is being withdrawn (RFC 8461 §8.3)',
    'Set mtaSts.mode: enforce unless you mean to stop using MTA-STS.',
  );
}

/** §4.1: every MX host must match an mx pattern, or senders in enforce mode will not deliver to it. */
async function mxCheck(ctx: CheckContext, policy: Policy): Promise<Check | undefined> {
  const mx = await ctx.mx;
  if (!mx.ok) {
    if (mx.error === 'temperror') return couldNotCheck('mta-sts', 'mta-sts.mx', `MX ${ctx.domain}`, mx.reason);
    return undefined; // no MX: mx.present says so
  }
  // An address as MX target is mx.target's finding; no mx pattern can name an address (§3.2 "Domain").
  const hosts = mx.records.map((r) => bareName(r.exchange)).filter((h) => h !== '' && isIP(h) === 0);
  const uncovered = hosts.filter((host) => !validateMx(host, policy).valid);
  const patterns = (policy.mx ?? []).join(', ');
  // §3.1: senders refetch only for a new id; the policy text, and so its id, comes from mtaSts.
  const publishNew =
    ctx.config.mtaSts.listen === null
      ? 'serve the policy file postern dns records then prints, and publish its new id so senders refetch'
      : 'the same on every node; restart postern serve and publish the new id postern dns records prints, so senders refetch';
  if (uncovered.length > 0) {
    return fail(
      'mta-sts',
      'mta-sts.mx',
      `MX host ${uncovered.join(', ')} matches no mx: line of the policy (${patterns || 'none'})`,
      `List every MX host in mtaSts.mx in postern.yaml (e.g. mx: [${[...new Set([...(policy.mx ?? []), ...uncovered])].join(', ')}], or a *.parent wildcard), ${publishNew}. Or correct the MX records.`,
    );
  }
  return pass('mta-sts', 'mta-sts.mx', `the policy's mx (${patterns}) covers every MX host`);
}

function maxAgeCheck(policy: Policy): Check {
  const maxAge = policy.maxAge ?? 0;
  if (maxAge < MIN_SENSIBLE_MAX_AGE) {
    return warn(
      'mta-sts',
      'mta-sts.max-age',
      `max_age: ${maxAge} seconds: senders forget the policy within a day`,
      'Raise max_age to a week or more (mtaSts.maxAgeSeconds; RFC 8461 §3.2 suggests weeks).',
    );
  }
  return pass('mta-sts', 'mta-sts.max-age', `max_age: ${maxAge} seconds (${Math.round(maxAge / 86_400)} days)`);
}
