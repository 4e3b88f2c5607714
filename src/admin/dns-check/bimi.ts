/**
 * BIMI (draft-brand-indicators-for-message-identification, "the BIMI draft"): the `default._bimi` record's
 * syntax (§4.2: v=BIMI1 first, l= and a= https URLs) and, when it names a logo, the logo fetched and held
 * to SVG Tiny PS basics (baseProfile="tiny-ps", a title, no scripts, animation or external references), with
 * mailauth's validator. When it names a VMC (a=), the Verified Mark Certificate is fetched the same way and
 * checked as a receiver would (draft-fetch-validation-vmc-wchuang): a PEM chain whose first certificate is
 * in its validity period, names the domain in its subjectAltName (RFC 5280 §4.2.1.6), carries the logotype
 * extension (RFC 3709) and the BIMI extended key usage, chains signature by signature to the root of a Mark
 * Verifying Authority (the list @postalsys/vmc ships with mailauth, or injected ones), and holds a logo that
 * is SVG Tiny PS, matches its hash and is the l= logo. BIMI is optional; a domain without a record and
 * without publish.bimi passes.
 */

import { createHash, X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import * as x509 from '@peculiar/x509';
import { getDomain } from 'tldts';
import type { CheckContext } from './context.ts';
import { appliedPolicy, type DmarcRecord, discoverDmarc } from './dmarc.ts';
import { type Check, couldNotCheck, fail, pass, warn } from './report.ts';

const require = createRequire(import.meta.url);
const { validateSvg } = require('mailauth/lib/bimi/validate-svg.js') as {
  /** Throws an Error with a `code` (INVALID_BASE_PROFILE, LOGO_INCLUDES_REFERENCE, …) for a bad logo. */
  validateSvg: (svg: Buffer | string) => true;
};
// The XML parser validateSvg uses, from mailauth's own directory: a dependency of mailauth, not ours.
const { XMLParser } = createRequire(require.resolve('mailauth'))('fast-xml-parser') as {
  XMLParser: new (options: Record<string, unknown>) => { parse(xml: Buffer | string): unknown };
};

/** RFC 3709 §4.1: id-pe-logotype. */
const LOGOTYPE_OID = '1.3.6.1.5.5.7.1.12';
/** id-kp-BrandIndicatorforMessageIdentification (IANA SMI "PKIX Extended Key Purpose" registry). */
const BIMI_EKU_OID = '1.3.6.1.5.5.7.3.31';
const DAY_MS = 86_400_000;
/** Renewal takes an MVA days (trademark checks), so warn two weeks ahead. */
const EXPIRY_WARN_DAYS = 14;
/** A VMC is a few certificates and an SVG of at most 32 KiB, gzipped and base64-encoded inside the first. */
const VMC_MAX_BYTES = 256 * 1024;

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
      const configuredRecord = configured ? suggested : undefined;
      return [fail('bimi', 'bimi.record', ...bimiUrlProblem(name, tag, value, record, configuredRecord))];
    }
  }
  if (logo === '' && authority === '') {
    return [pass('bimi', 'bimi.record', `${name} declines BIMI (empty l= and a=)`)];
  }
  const vmc = authority === '' ? 'no VMC (many receivers show a logo only with one)' : `VMC ${authority}`;
  const checks = [pass('bimi', 'bimi.record', `logo ${logo || '(none)'}, ${vmc}`), await dmarcEnforced(ctx)];
  let logoBody: Buffer | undefined;
  if (logo !== '') {
    const checked = await logoCheck(ctx, logo);
    checks.push(checked.check);
    logoBody = checked.body;
  }
  if (authority !== '') checks.push(await vmcCheck(ctx, authority, logo, logoBody));
  return checks;
}

/**
 * What is wrong with an l= or a= value that is no single https URL, and what to publish instead. The
 * BIMI draft's Assertion Record Definition (§4.2; §4.3 from draft -10) allows HTTPS alone for both:
 * l= "The only supported transport is HTTPS", a= "MUST specify HTTPS as the URI scheme".
 * `configured`: the record publish.bimi makes (its URLs are https: the config refuses others).
 */
function bimiUrlProblem(
  name: string,
  tag: 'l' | 'a',
  value: string,
  record: string,
  configured: string | undefined,
): [message: string, fix: string] {
  const what = tag === 'l' ? 'the logo' : 'the VMC';
  const placeholder = 'v=BIMI1; l=https://<your web site>/logo.svg';
  if (!/^http:\/\//i.test(value)) {
    return [
      `${name}: ${tag}=${value} is not a single https URL to ${what} (BIMI draft §4.2)`,
      `Publish "${name}. TXT \\"${configured ?? placeholder}\\"".`,
    ];
  }
  // Without publish.bimi, the record published is the one to correct: its http:// URLs made https://.
  const corrected = configured ?? record.replace(/(^|;)(\s*[la]\s*=\s*)http:\/\//gi, '$1$2https://');
  return [
    `${name}: ${tag}=${value} is an http URL, and the BIMI draft (§4.2) allows only https for ${what}: receivers do not fetch it and show no logo`,
    `Serve ${what} over HTTPS and publish "${name}. TXT \\"${corrected}\\"".`,
  ];
}

/**
 * BIMI draft §7.1 (steps 7 to 9), as receivers apply it (mailauth's bimi lookup and checkDmarcRecord): no
 * logo unless the policy that applies to the domain (RFC 7489 §6.6.3: its own record's p=, else its
 * organizational domain's sp=, else p=) is quarantine or reject and not in testing (t=y), and neither the
 * domain's record nor its organizational domain's is lax: p=none (or no valid p=), sp=none, or
 * p=quarantine on a pct under 100. The records are discovered by the DMARC area's own code so that the
 * two areas never disagree.
 */
async function dmarcEnforced(ctx: CheckContext): Promise<Check> {
  const found = await discoverDmarc(ctx);
  if (found.found === 'temperror') return couldNotCheck('bimi', 'bimi.dmarc', found.query, found.reason);
  const fix =
    'Move DMARC to p=quarantine or p=reject (publish.dmarcPolicy) without sp=none, t=y or a pct under 100, once its reports show your mail passing.';
  const rule =
    'receivers show a BIMI logo only under p=quarantine or p=reject, with no sp=none, t=y or quarantine at pct under 100 in the record of the domain or of its organizational domain';
  if (found.found === 'several') {
    return warn(
      'bimi',
      'bimi.dmarc',
      `${found.name} has ${found.count} DMARC records, so no policy applies: ${rule}`,
      fix,
    );
  }
  if (found.found === 'none') return warn('bimi', 'bimi.dmarc', `there is no DMARC record: ${rule}`, fix);
  const policy = appliedPolicy(found);
  const tag = found.found === 'organizational' && found.record.tags.has('sp') ? 'sp' : 'p';
  const whose = found.found === 'organizational' ? ` of ${found.org}` : '';
  if (policy !== 'quarantine' && policy !== 'reject') {
    return warn('bimi', 'bimi.dmarc', `DMARC${whose} is ${tag}=${policy ?? 'none'}: ${rule}`, fix);
  }
  if (found.record.tags.get('t')?.toLowerCase() === 'y') {
    return warn('bimi', 'bimi.dmarc', `DMARC${whose} is in testing mode (t=y): ${rule}`, fix);
  }
  // The record that applies, then the organizational domain's when the domain has a record of its own.
  const records: [string, DmarcRecord][] = [[found.found === 'organizational' ? found.org : ctx.domain, found.record]];
  const org = getDomain(ctx.domain);
  if (found.found === 'own' && org !== null && org !== ctx.domain) {
    const parent = await discoverDmarc({ domain: org, resolver: ctx.resolver });
    if (parent.found === 'temperror') return couldNotCheck('bimi', 'bimi.dmarc', parent.query, parent.reason);
    if (parent.found === 'own') records.push([org, parent.record]);
  }
  for (const [domain, record] of records) {
    const lax = laxness(record);
    if (lax !== undefined) {
      const which = domain === org && domain !== ctx.domain ? ` (the organizational domain)` : '';
      return warn('bimi', 'bimi.dmarc', `DMARC of ${domain}${which} is ${lax}: ${rule}`, fix);
    }
  }
  return pass('bimi', 'bimi.dmarc', `DMARC${whose} ${tag}=${policy}: receivers may show the logo`);
}

/** mailauth's checkDmarcRecord: what makes one DMARC record too lax for a logo, or undefined. */
function laxness(record: DmarcRecord): string | undefined {
  const p = record.tags.get('p')?.toLowerCase();
  const sp = record.tags.get('sp')?.toLowerCase();
  // RFC 9989 §4.10.1: a record without a valid p= applies as p=none, or not at all.
  if (p !== 'quarantine' && p !== 'reject') return `p=${p ?? 'none'}`;
  if (sp === 'none') return 'sp=none';
  const pct = record.tags.get('pct');
  if (p === 'quarantine' && pct !== undefined && (Number.parseInt(pct, 10) || 0) !== 100) {
    return `p=quarantine pct=${pct}`;
  }
  return undefined;
}

/** The logo's check, and its bytes when it could be fetched (the VMC check compares them with its own). */
async function logoCheck(ctx: CheckContext, url: string): Promise<{ check: Check; body?: Buffer }> {
  const response = await ctx.fetch(url);
  if (!response.ok) {
    if (response.temporary) {
      return {
        check: warn('bimi', 'bimi.logo', `could not fetch the logo: ${response.error}`, 'Run the check again later.'),
      };
    }
    return {
      check: fail(
        'bimi',
        'bimi.logo',
        `the logo cannot be fetched: ${response.error}`,
        `Serve the SVG at ${url} over HTTPS.`,
      ),
    };
  }
  if (response.status !== 200) {
    return {
      check: fail('bimi', 'bimi.logo', `${url} answers HTTP ${response.status}`, `Serve the SVG at ${url} over HTTPS.`),
    };
  }
  const exportTinyPs =
    'Export the logo as SVG Tiny Portable/Secure: baseProfile="tiny-ps", version="1.2", a <title>, no scripts, event attributes, animation, foreignObject or external links, at most 32 KB.';
  try {
    validateSvg(response.body);
  } catch (err) {
    const code = (err as { code?: string }).code;
    return {
      check: fail(
        'bimi',
        'bimi.logo',
        `the logo is not SVG Tiny PS: ${(err as Error).message}${code ? ` (${code})` : ''}`,
        exportTinyPs,
      ),
      body: response.body,
    };
  }
  const beyond = tinyPsProblem(response.body);
  if (beyond !== undefined) {
    return {
      check: fail('bimi', 'bimi.logo', `the logo is not SVG Tiny PS: ${beyond}`, exportTinyPs),
      body: response.body,
    };
  }
  return { check: pass('bimi', 'bimi.logo', `the logo at ${url} is SVG Tiny PS`), body: response.body };
}

/**
 * The VMC at `url`, a= of the record. One check, `bimi.vmc`: the first defect found, else a warning when it
 * expires within two weeks, else a pass that says what was verified.
 */
async function vmcCheck(ctx: CheckContext, url: string, logoUrl: string, logo: Buffer | undefined): Promise<Check> {
  const renew = `Renew the VMC with your Mark Verifying Authority and serve the new PEM file at ${url}.`;
  const issued = `a= must point at the PEM file your Mark Verifying Authority issued (the VMC and its intermediate certificates): an ordinary TLS certificate or a self-made one will not do.`;
  const response = await ctx.fetch(url, { maxBytes: VMC_MAX_BYTES });
  if (!response.ok) {
    if (response.temporary) {
      return warn('bimi', 'bimi.vmc', `could not fetch the VMC: ${response.error}`, 'Run the check again later.');
    }
    return fail(
      'bimi',
      'bimi.vmc',
      `the VMC cannot be fetched: ${response.error}`,
      `Serve the VMC at ${url} over HTTPS.`,
    );
  }
  if (response.status !== 200) {
    return fail('bimi', 'bimi.vmc', `${url} answers HTTP ${response.status}`, `Serve the VMC at ${url} over HTTPS.`);
  }

  // RFC 7468 §5: PEM "CERTIFICATE" blocks, the VMC first and then its issuers.
  const blocks = response.body.toString('latin1').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g);
  if (blocks === null) {
    return fail('bimi', 'bimi.vmc', `${url} is not a PEM certificate chain`, issued);
  }
  let chain: X509Certificate[];
  let leaf: x509.X509Certificate;
  try {
    chain = blocks.map((pem) => new X509Certificate(pem));
    leaf = new x509.X509Certificate(blocks[0] as string);
  } catch (err) {
    return fail('bimi', 'bimi.vmc', `the VMC at ${url} does not parse: ${(err as Error).message}`, issued);
  }
  const first = chain[0] as X509Certificate;

  // RFC 5280 §4.1.2.5: the validity period.
  const notBefore = new Date(first.validFrom);
  const notAfter = new Date(first.validTo);
  if (ctx.now < notBefore) {
    return fail(
      'bimi',
      'bimi.vmc',
      `the VMC is not valid before ${day(notBefore)}`,
      `Serve a VMC valid now at ${url}.`,
    );
  }
  if (ctx.now > notAfter) {
    return fail('bimi', 'bimi.vmc', `the VMC expired on ${day(notAfter)}: receivers show no logo`, renew);
  }

  // RFC 5280 §4.2.1.6: the names are the subjectAltName's dNSNames; a VMC names the domain itself or, for one
  // selector only, <selector>._bimi.<domain> (we publish the default selector).
  const names = (leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [])
    .filter((n) => n.type === 'dns')
    .map((n) => n.value.toLowerCase().replace(/\.$/, ''));
  if (!names.includes(ctx.domain) && !names.includes(`default._bimi.${ctx.domain}`)) {
    return fail(
      'bimi',
      'bimi.vmc',
      `the VMC is for ${names.length > 0 ? names.join(', ') : 'no domain name'}, not ${ctx.domain}`,
      `A VMC covers only the domains in its subjectAltName: ask your Mark Verifying Authority for one that names ${ctx.domain}.`,
    );
  }
  if (leaf.getExtension(LOGOTYPE_OID) === null) {
    return fail(
      'bimi',
      'bimi.vmc',
      `the certificate at ${url} has no logotype extension (RFC 3709, ${LOGOTYPE_OID}): it carries no logo, so it is not a VMC`,
      issued,
    );
  }
  const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [];
  if (!eku.includes(BIMI_EKU_OID)) {
    return fail(
      'bimi',
      'bimi.vmc',
      `the certificate at ${url} lacks the BIMI extended key usage (${BIMI_EKU_OID}), which receivers require of a VMC`,
      issued,
    );
  }

  // Each certificate signed by the next and a CA in its validity period, the last signed by (or being) a Mark
  // Verifying Authority's root (RFC 5280 §6.1.3: signature, validity, issuer name; §4.2.1.9: cA).
  const roots = markVerifyingRoots(ctx);
  for (let i = 0; i + 1 < chain.length; i++) {
    const [child, parent] = [chain[i] as X509Certificate, chain[i + 1] as X509Certificate];
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      return fail(
        'bimi',
        'bimi.vmc',
        `the VMC chain is broken: certificate ${i + 1} at ${url} is not signed by certificate ${i + 2}`,
        issued,
      );
    }
    if (!parent.ca || !inDate(parent, ctx.now)) {
      return fail(
        'bimi',
        'bimi.vmc',
        `certificate ${i + 2} at ${url} (${commonName(parent)}) ${parent.ca ? `is not valid now (${day(new Date(parent.validFrom))} to ${day(new Date(parent.validTo))})` : 'is not a CA certificate'}`,
        issued,
      );
    }
  }
  const top = chain.at(-1) as X509Certificate;
  const anchor = roots.find(
    (root) =>
      root.fingerprint256 === top.fingerprint256 ||
      (top.checkIssued(root) && top.verify(root.publicKey) && root.ca && inDate(root, ctx.now)),
  );
  if (anchor === undefined) {
    return fail(
      'bimi',
      'bimi.vmc',
      `the VMC does not chain to a Mark Verifying Authority root known here (${roots.map(commonName).join('; ')}): receivers will not trust it`,
      `${issued} If your authority is new to the BIMI Group's list, update Postern (the list comes with mailauth).`,
    );
  }

  // The logo inside the VMC, which is what receivers show: its media type, its hash, SVG Tiny PS, and the
  // l= logo the same file (receivers compare them).
  const extension = leaf.getExtension(LOGOTYPE_OID) as x509.Extension;
  const embedded = embeddedLogo(Buffer.from(extension.value));
  if (typeof embedded === 'string') {
    return fail('bimi', 'bimi.vmc', `the logo inside the VMC cannot be read: ${embedded}`, issued);
  }
  let invalid: string | undefined;
  try {
    validateSvg(embedded.svg);
    invalid = tinyPsProblem(embedded.svg);
  } catch (err) {
    invalid = (err as Error).message;
  }
  if (invalid !== undefined) {
    return fail(
      'bimi',
      'bimi.vmc',
      `the logo inside the VMC is not SVG Tiny PS: ${invalid}`,
      `${issued} Ask your authority to reissue it with an SVG Tiny PS logo.`,
    );
  }
  const sameAsPublished = logo === undefined ? undefined : digest(embedded.hashAlgorithm, logo).equals(embedded.hash);
  if (sameAsPublished === false) {
    return fail(
      'bimi',
      'bimi.vmc',
      `the logo at ${logoUrl} is not the one inside the VMC`,
      `Serve at ${logoUrl} exactly the SVG the VMC was issued for, byte for byte.`,
    );
  }

  const daysLeft = Math.floor((notAfter.getTime() - ctx.now.getTime()) / DAY_MS);
  if (daysLeft < EXPIRY_WARN_DAYS) {
    return warn('bimi', 'bimi.vmc', `the VMC expires on ${day(notAfter)}, in ${daysLeft} days`, renew);
  }
  const holds = sameAsPublished ? 'holds the l= logo' : 'holds a valid logo';
  return pass(
    'bimi',
    'bimi.vmc',
    `the VMC at ${url} names ${ctx.domain}, is valid until ${day(notAfter)}, ${holds} and chains to ${commonName(anchor)}`,
  );
}

/** The roots a VMC must chain to: the injected ones, else @postalsys/vmc's (a dependency of mailauth). */
function markVerifyingRoots(ctx: CheckContext): X509Certificate[] {
  if (ctx.vmcRoots !== undefined) return ctx.vmcRoots.map((pem) => new X509Certificate(pem));
  // Resolved from mailauth's own directory: @postalsys/vmc is its dependency, not ours. Only its root list is
  // used: its parser cannot read the logotype in this install (see embeddedLogo).
  const fromMailauth = createRequire(require.resolve('mailauth'));
  const { RootStore } = fromMailauth('@postalsys/vmc') as {
    RootStore: { create(): { rootCerts: X509Certificate[] } };
  };
  return RootStore.create().rootCerts;
}

/** The BIMI group's SVG Tiny PS profile: "The SVG document ... should be no larger than 32 kilobytes". */
const LOGO_MAX_BYTES = 32 * 1024;

/**
 * What SVG Tiny Portable/Secure forbids (draft-svg-tiny-ps-abrotman, the profile BIMI logos follow) that
 * mailauth's validateSvg does not look for: more than 32 KB, a version other than 1.2, foreignObject,
 * event attributes (on*: script by another name), and href or xlink:href to anything that is fetched
 * (http:, https:, a relative URL: the profile allows no external references). undefined: none of these.
 */
function tinyPsProblem(svg: Buffer): string | undefined {
  if (svg.length > LOGO_MAX_BYTES)
    return `it is ${svg.length} bytes, over the 32 KB (${LOGO_MAX_BYTES} bytes) SVG Tiny PS allows`;
  let root: Record<string, unknown>;
  try {
    const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_' }).parse(svg) as {
      svg?: Record<string, unknown>;
    };
    root = parsed.svg ?? {};
  } catch (err) {
    return `it is not well-formed XML (${(err as Error).message})`;
  }
  const version = root['@_version'];
  if (version !== '1.2') {
    return version === undefined
      ? 'the <svg> element has no version="1.2"'
      : `the <svg> element has version="${String(version)}", not "1.2"`;
  }
  const walk = (node: unknown, element: string): string | undefined => {
    if (Array.isArray(node)) {
      for (const entry of node) {
        const found = walk(entry, element);
        if (found) return found;
      }
      return undefined;
    }
    if (node === null || typeof node !== 'object') return undefined;
    for (const [key, value] of Object.entries(node)) {
      if (key.startsWith('@_')) {
        const attribute = key.slice(2);
        if (/^on/i.test(attribute)) return `<${element}> has the event attribute ${attribute}, a script`;
        // A fragment (#id) stays inside the document; a data: URL carries what it names; all else is fetched.
        if (/^(?:[a-z]+:)?href$/i.test(attribute) && !/^\s*(?:#|data:)/i.test(String(value))) {
          return `<${element}> refers to ${String(value)} (${attribute}): external references are not allowed`;
        }
        continue;
      }
      if (key.toLowerCase() === 'foreignobject') return 'it holds a <foreignObject>, which SVG Tiny PS does not allow';
      const found = walk(value, key);
      if (found) return found;
    }
    return undefined;
  };
  return walk(root, 'svg');
}

/** Node's names for the hash algorithms a logotype may use (RFC 3279 §2.1, RFC 5754 §2), by OID content octets. */
const HASHES: Record<string, string> = {
  '2b0e03021a': 'sha1',
  '608648016503040201': 'sha256',
  '608648016503040202': 'sha384',
  '608648016503040203': 'sha512',
};

interface EmbeddedLogo {
  svg: Buffer;
  hashAlgorithm: string;
  hash: Buffer;
}

/**
 * The subject logo of a logotype extension (RFC 9399 §4.1, which replaced RFC 3709; the module uses
 * IMPLICIT tags): LogotypeExtn.subjectLogo [2] EXPLICIT, its `direct` [0] LogotypeData, the first image's
 * LogotypeDetails (mediaType, logotypeHash, logotypeURI), the image in a data: URL (RFC 2397), gzipped as
 * VMCs carry it. Read here with a small DER walker rather than @postalsys/vmc: in this dependency tree its
 * @peculiar/asn1-x509-logotype binds to another copy of @peculiar/asn1-schema than its parser, which then
 * fails on every logotype ("Cannot get schema for 'LogotypeExtn' target"). A string says what is wrong.
 */
function embeddedLogo(extnValue: Buffer): EmbeddedLogo | string {
  const path = (tlv: Tlv | undefined, ...steps: [tag: number, index: number][]): Tlv | undefined => {
    let at = tlv;
    for (const [tag, index] of steps) {
      const children = at === undefined ? undefined : readAll(at.content);
      at = children?.filter((c) => c.tag === tag)[index];
    }
    return at;
  };
  const top = readAll(extnValue)?.[0];
  if (top?.tag !== 0x30) return 'the logotype extension is not a SEQUENCE';
  const subject = path(top, [0xa2, 0]); // subjectLogo [2] EXPLICIT LogotypeInfo
  if (subject === undefined) return 'it has no subject logo';
  const direct = path(subject, [0xa0, 0]); // LogotypeInfo: direct [0] LogotypeData
  if (direct === undefined) return 'the logo is not embedded (an indirect logotype reference)';
  const details = path(direct, [0x30, 0], [0x30, 0], [0x30, 0]); // image SEQUENCE OF LogotypeImage → imageDetails
  const fields = details === undefined ? undefined : readAll(details.content);
  const [mediaType, hashes, uris] = fields ?? [];
  if (mediaType?.tag !== 0x16 || hashes?.tag !== 0x30 || uris?.tag !== 0x30) return 'no image details';
  if (!/^image\/svg\+xml\b/i.test(mediaType.content.toString('latin1'))) {
    return `the image is ${mediaType.content.toString('latin1')}, not image/svg+xml`;
  }
  const hashAlgorithm = HASHES[path(hashes, [0x30, 0], [0x30, 0], [0x06, 0])?.content.toString('hex') ?? ''];
  const hash = path(hashes, [0x30, 0], [0x04, 0])?.content;
  if (hashAlgorithm === undefined || hash === undefined) return 'no logotype hash in a known algorithm';
  const uri = path(uris, [0x16, 0])?.content.toString('latin1') ?? '';
  const data = /^data:[^,]*?(;base64)?,(.*)$/s.exec(uri);
  if (data === null) return 'the logo is not a data: URL';
  let svg = data[1] ? Buffer.from(data[2] as string, 'base64') : Buffer.from(decodeURIComponent(data[2] as string));
  if (svg[0] === 0x1f && svg[1] === 0x8b) {
    try {
      svg = gunzipSync(svg, { maxOutputLength: 1024 * 1024 });
    } catch (err) {
      return `the gzipped logo does not decompress (${(err as Error).message})`;
    }
  }
  if (!digest(hashAlgorithm, svg).equals(hash)) return 'the logo does not match the hash the VMC gives for it';
  return { svg, hashAlgorithm, hash };
}

interface Tlv {
  tag: number;
  content: Buffer;
}

/** X.690 §8.1: the TLVs that fill `buf` exactly (definite lengths, low tag numbers), or undefined if malformed. */
function readAll(buf: Buffer): Tlv[] | undefined {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const tag = buf[offset] as number;
    if ((tag & 0x1f) === 0x1f || offset + 2 > buf.length) return undefined;
    let length = buf[offset + 1] as number;
    let start = offset + 2;
    if (length & 0x80) {
      const octets = length & 0x7f;
      if (octets === 0 || octets > 4 || start + octets > buf.length) return undefined;
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + (buf[start + i] as number);
      start += octets;
    }
    if (start + length > buf.length) return undefined;
    out.push({ tag, content: buf.subarray(start, start + length) });
    offset = start + length;
  }
  return out;
}

function digest(algorithm: string, data: Buffer): Buffer {
  return createHash(algorithm).update(data).digest();
}

function inDate(cert: X509Certificate, now: Date): boolean {
  return now >= new Date(cert.validFrom) && now <= new Date(cert.validTo);
}

function commonName(cert: X509Certificate): string {
  return /^CN=(.*)$/m.exec(cert.subject)?.[1] ?? cert.subject.replace(/\n/g, ', ');
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}
