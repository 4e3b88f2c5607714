/**
 * BIMI (draft-brand-indicators-for-message-identification, "the BIMI draft"): the `default._bimi` record's
 * syntax (§4.2: v=BIMI1 first, l= and a= https URLs) and, when it names a logo, the logo fetched and held
 * to SVG Tiny PS basics (baseProfile="tiny-ps", a title, no scripts, animation or external references), with
 * mailauth's validator. A VMC (a=) is only noted: verifying it needs the mark certificate chain. BIMI is
 * optional; a domain without a record and without publish.bimi passes.
 */

import { createRequire } from 'node:module';
import type { CheckContext } from './context.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';

const require = createRequire(import.meta.url);
const { validateSvg } = require('mailauth/lib/bimi/validate-svg.js') as {
  /** Throws an Error with a `code` (INVALID_BASE_PROFILE, LOGO_INCLUDES_REFERENCE, …) for a bad logo. */
  validateSvg: (svg: Buffer | string) => true;
};

export async function checkBimi(ctx: CheckContext): Promise<Check[]> {
  const name = `default._bimi.${ctx.domain}`;
  const configured = ctx.config.publish.bimi;
  const suggested = configured
    ? `v=BIMI1; l=${configured.logo}${configured.authority ? `; a=${configured.authority}` : ''}`
    : 'v=BIMI1; l=https://<your web site>/logo.svg';
  const publish = `Publish "${name}. TXT \\"${suggested}\\"".`;
  const txt = await ctx.resolver.txt(name);
  if (!txt.ok && txt.error === 'temperror') return [couldNotCheck('bimi', 'bimi.record', `TXT ${name}`, txt.reason)];
  const records = txt.ok ? txt.records.filter((r) => /^v=BIMI1\s*(;|$)/i.test(r.trim())) : [];
  if (records.length === 0) {
    return configured
      ? [warn('bimi', 'bimi.record', `publish.bimi is set, but ${name} has no BIMI record`, publish)]
      : [pass('bimi', 'bimi.record', 'no BIMI record (optional: a logo receivers may show beside your mail)')];
  }
  if (records.length > 1) {
    return [
      fail('bimi', 'bimi.record', `${name} has ${records.length} BIMI records; receivers then show no logo`, publish),
    ];
  }
  const record = records[0] as string;
  const tags = new Map<string, string>();
  for (const field of record.split(';').map((f) => f.trim())) {
    const eq = field.indexOf('=');
    if (eq > 0) tags.set(field.slice(0, eq).trim().toLowerCase(), field.slice(eq + 1).trim());
  }
  const logo = tags.get('l') ?? '';
  const authority = tags.get('a') ?? '';
  for (const [tag, value] of [
    ['l', logo],
    ['a', authority],
  ] as const) {
    if (value !== '' && !/^https:\/\/[^\s,]+$/i.test(value)) {
      return [fail('bimi', 'bimi.record', `${name}: ${tag}=${value} is not one https URL (BIMI draft §4.2)`, publish)];
    }
  }
  if (logo === '' && authority === '') {
    return [pass('bimi', 'bimi.record', `${name} declines BIMI (empty l= and a=)`)];
  }
  const vmc =
    authority === '' ? 'no VMC (many receivers show a logo only with one)' : `VMC ${authority} (not verified here)`;
  const checks = [pass('bimi', 'bimi.record', `logo ${logo || '(none)'}, ${vmc}`)];
  if (logo !== '') checks.push(await logoCheck(ctx, logo));
  return checks;
}

async function logoCheck(ctx: CheckContext, url: string): Promise<Check> {
  const response = await ctx.fetch(url);
  if (!response.ok) {
    if (response.temporary) {
      return warn('bimi', 'bimi.logo', `could not fetch the logo: ${response.error}`, 'Run the check again later.');
    }
    return fail(
      'bimi',
      'bimi.logo',
      `the logo cannot be fetched: ${response.error}`,
      `Serve the SVG at ${url} over HTTPS.`,
    );
  }
  if (response.status !== 200) {
    return fail('bimi', 'bimi.logo', `${url} answers HTTP ${response.status}`, `Serve the SVG at ${url} over HTTPS.`);
  }
  try {
    validateSvg(response.body);
  } catch (err) {
    const code = (err as { code?: string }).code;
    return fail(
      'bimi',
      'bimi.logo',
      `the logo is not SVG Tiny PS: ${(err as Error).message}${code ? ` (${code})` : ''}`,
      'Export the logo as SVG Tiny Portable/Secure: baseProfile="tiny-ps", version="1.2", a <title>, no scripts, animation or external links.',
    );
  }
  return pass('bimi', 'bimi.logo', `the logo at ${url} is SVG Tiny PS`);
}
