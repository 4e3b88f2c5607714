/**
 * SMTP TLS Reporting (RFC 8460): one `v=TLSRPTv1` record at `_smtp._tls.domain` (§3) with a rua= of
 * mailto: or https: destinations (§3.1.1), so senders tell the domain when TLS to its MX fails (an
 * MTA-STS or DANE problem shows up there first), and a mailto: destination at our own domains that
 * has an account or alias to take them (report-addresses.ts). Not here: whether one elsewhere receives them.
 */

import type { CheckContext } from './context.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';
import { createCommands, refusedReportAddresses } from './report-addresses.ts';

export async function checkTlsRpt(ctx: CheckContext): Promise<Check[]> {
  const name = `_smtp._tls.${ctx.domain}`;
  const rua = ctx.config.publish.tlsRptRua ?? `mailto:tls-reports@${ctx.domain}`;
  const publish = `Publish "${name}. TXT \\"v=TLSRPTv1; rua=${rua}\\"".`;
  const txt = await ctx.resolver.txt(name);
  if (!txt.ok && txt.error === 'temperror')
    return [couldNotCheck('tls-rpt', 'tls-rpt.record', `TXT ${name}`, txt.reason)];
  // §3: "records that do not begin with 'v=TLSRPTv1;' MUST be discarded".
  const records = txt.ok ? txt.records.filter((r) => /^v=TLSRPTv1\s*;/.test(r)) : [];
  if (records.length === 0) {
    // A record meant as TLS-RPT that does not start exactly "v=TLSRPTv1;" (case-sensitive): say what was found.
    const near = txt.ok ? txt.records.find((r) => /^v\s*=\s*tlsrpt/i.test(r.trim())) : undefined;
    return [
      warn(
        'tls-rpt',
        'tls-rpt.record',
        near === undefined
          ? `${name} has no TLS-RPT record: senders cannot tell you when TLS to your MX fails`
          : `${name} has "${near}", which senders discard: it must start exactly "v=TLSRPTv1;" (RFC 8460 §3)`,
        publish,
      ),
    ];
  }
  if (records.length > 1) {
    return [
      fail(
        'tls-rpt',
        'tls-rpt.record',
        `${name} has ${records.length} TLS-RPT records; senders then send no reports (RFC 8460 §3)`,
        `Keep exactly one: ${publish}`,
      ),
    ];
  }
  const record = records[0] as string;
  const problem = tlsRptProblem(record);
  if (problem !== undefined) return [fail('tls-rpt', 'tls-rpt.record', `"${record}": ${problem}`, publish)];
  const checks = [pass('tls-rpt', 'tls-rpt.record', `"${record}"`)];
  // §3: senders mail their reports to the mailto: destinations; ours refuse an address no account has.
  const resolveAddress = ctx.store?.resolveAddress?.bind(ctx.store);
  if (resolveAddress) {
    const uris = ruaOf(record);
    const refused = await refusedReportAddresses(uris, ctx.config, { resolveAddress });
    checks.push(
      refused.length > 0
        ? warn(
            'tls-rpt',
            'tls-rpt.reports',
            `${refused.join(', ')} ha${refused.length === 1 ? 's' : 've'} no account or alias here: this server refuses the TLS reports sent there (550 5.1.1)`,
            `Create the account or alias: ${createCommands(refused)}.`,
          )
        : pass('tls-rpt', 'tls-rpt.reports', `reports go to ${uris.join(', ')}`),
    );
  }
  return checks;
}

/** The URIs of a valid record's rua= (RFC 8460 §3: comma-separated). */
function ruaOf(record: string): string[] {
  const field = record
    .split(';')
    .map((f) => f.trim())
    .find((f) => f.startsWith('rua='));
  return (field ?? 'rua=')
    .slice(4)
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
}

/** RFC 8460 §3 ABNF: fields after the version separated by ";", rua= required, each URI mailto: or https:. */
function tlsRptProblem(record: string): string | undefined {
  const fields = record
    .split(';')
    .slice(1)
    .map((f) => f.trim())
    .filter((f) => f !== '');
  const rua = fields.filter((f) => f.startsWith('rua='));
  if (rua.length === 0) {
    // RFC 8460 §3's ABNF writes "rua=" with no space around "=", and reporters read it so.
    const near = fields.find((f) => /^rua\s*=/i.test(f));
    return near === undefined
      ? 'no rua= (RFC 8460 §3)'
      : `"${near}" is not read as rua=: write it "rua=" in lower case, with no space before the URIs' "=" (RFC 8460 §3)`;
  }
  if (rua.length > 1) return 'rua= appears more than once';
  const uris = (rua[0] as string)
    .slice(4)
    .split(',')
    .map((u) => u.trim());
  const bad = uris.filter((u) => !/^(mailto:[^@\s]+@[^@\s]+|https:\/\/\S+)$/i.test(u));
  if (bad.length > 0) return `rua= must list mailto: or https: URIs (RFC 8460 §3), not ${bad.join(', ')}`;
  return undefined;
}
