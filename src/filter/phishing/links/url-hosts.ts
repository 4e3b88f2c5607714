/**
 * What a link's host says about it: parsed as browsers do (WHATWG URL Standard), its registrable domain
 * (Public Suffix List, via tldts), IP literals in any notation, punycode and mixed-script names, and free
 * hosting or forms services that phishing pages live on. Weighs nothing; link-signals.ts does.
 */
import { domainToUnicode } from 'node:url';
import { getDomain, getPublicSuffix, parse } from 'tldts';
import { isSingleScript, scriptOf, skeleton } from '../confusables.ts';
import { type Lookalike, lookalikeOf } from '../lookalike.ts';
import type { Subject } from '../lookalike-explanation.ts';

/** How a lookalike's explanation names a link's domain (a sender's is the default). */
export const linkDomainSubject: Subject = { en: "The link's domain", ru: 'Домен ссылки' };

/**
 * An http(s) URL as a browser would open it, or undefined. `www.` without a scheme is read as http, as mail
 * clients linkify it. The WHATWG parser drops tabs and newlines, reads userinfo (`paypal.com@evil.net`
 * goes to evil.net) and turns IPv4 in decimal, hex or octal into dotted form (URL Standard §3.5, IPv4 parser).
 */
export function parseWebUrl(href: string): URL | undefined {
  const trimmed = href.trim();
  const withScheme = /^www\./i.test(trimmed) ? `http://${trimmed}` : trimmed;
  if (!URL.canParse(withScheme)) return undefined;
  const url = new URL(withScheme);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
}

/**
 * C0 control or space (U+0000 to U+0020), which browsers strip; other white space (U+00A0, U+FEFF) too, as
 * String.prototype.trim would: an href that is a script link only to a lenient reader is still suspect.
 */
const strippedAtEnds = (c: string) => c <= ' ' || /\s/.test(c);

/**
 * The scheme of an href as a browser reads it, or ''. The URL Standard's basic URL parser (§4.4) first
 * removes leading and trailing C0 controls and spaces, then every ASCII tab and newline, so
 * `\x01javascript:` and `java&#9;script:` are both `javascript:`. Index scans, not regexes anchored at the
 * end: an href of 500 KB of control characters must not cost quadratic time.
 */
export function schemeOf(href: string): string {
  let start = 0;
  let end = href.length;
  while (start < end && strippedAtEnds(href[start] ?? '')) start++;
  while (end > start && strippedAtEnds(href[end - 1] ?? '')) end--;
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(href.slice(start, end).replace(/[\t\n\r]/g, ''));
  return m ? `${m[1]?.toLowerCase()}:` : '';
}

/** The host as written in the href, before the URL parser normalised it (for explanations). */
export function writtenHost(href: string): string {
  const m = /^\s*(?:[a-z][a-z0-9+.-]*:)?\/\/(?:[^@/?#\\]*@)?(\[[^\]]*\]|[^/?#:\\]*)/i.exec(href);
  return m?.[1] ?? '';
}

/** Registrable domain (eTLD+1) of an ASCII host; '' for IP literals and bare public suffixes. */
export function registrableDomain(host: string): string {
  return getDomain(host) ?? '';
}

/** File names that end in a country-code TLD; shown without a scheme they are files, not domains. */
const fileExtensions = new Set([
  'py',
  'sh',
  'pl',
  'pm',
  'md',
  'rs',
  'ps',
  'ai',
  'so',
  'ml',
  'mk',
  'in',
  'am',
  'ac',
  'cc',
  'zip',
  'mov',
]);

/**
 * Code points a reader does not see (Unicode Default_Ignorable_Code_Point, UAX #44: soft hyphen, zero-width
 * spaces and joiners, bidi controls, U+FEFF): mail clients draw nothing for them, so `pay&shy;pal.com`
 * reads as paypal.com.
 */
const invisible = /\p{Default_Ignorable_Code_Point}/gu;

/** Text as the reader sees it: without the code points that are drawn as nothing. */
export function visibleText(text: string): string {
  return text.replace(invisible, '');
}

/**
 * The registrable domain a link's visible text shows when the text is a URL or a bare domain
 * ("https://www.paypal.com/signin", "sberbank.ru"); undefined for words, e-mail addresses and file names.
 */
export function domainShownIn(text: string): string | undefined {
  const t = visibleText(text)
    .trim()
    .replace(/^[<([{"'«]+|[>)\]}"'».,;:!?]+$/gu, '');
  if (t.length > 300 || /\s/.test(t)) return undefined;
  const m = /^(https?:\/\/)?([\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+)\.?(?::\d+)?(?:[/?#]\S*)?$/iu.exec(t);
  const name = m?.[2];
  if (!m || !name) return undefined;
  if (!m[1] && !/^www\./i.test(name) && fileExtensions.has(name.slice(name.lastIndexOf('.') + 1).toLowerCase())) {
    return undefined;
  }
  const host = parseWebUrl(`http://${name}`)?.hostname;
  if (!host) return undefined;
  const info = parse(host);
  return info.isIcann && info.domain ? info.domain : undefined;
}

/** Unicode (U-label) form of an ASCII host, for people to read. */
export function unicodeHost(host: string): string {
  return domainToUnicode(host) || host;
}

/** The IP address a URL's host is, with the notation it was written in; undefined for a name. */
export function ipLiteral(url: URL, href: string): { ip: string; written: string } | undefined {
  const host = url.hostname;
  const isV4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
  if (!isV4 && !host.startsWith('[')) return undefined;
  return { ip: host, written: writtenHost(href) || host };
}

export type IdnProblem = {
  kind: 'punycode' | 'mixed-script';
  ascii: string;
  unicode: string;
  /** Scripts seen in the name, e.g. ['Latin', 'Cyrillic']. */
  scripts: string[];
};

/**
 * A host with an A-label (RFC 5891 §5.4, `xn--`) that is not consistently one non-Latin script. A name all
 * in one non-Latin script (пример.рф) is an ordinary IDN; mixing scripts (UTS #39 §5.1), or a Latin name
 * that needs punycode for look-alike letters (ṗaypal.com), is how homograph attacks look.
 */
export function idnProblem(host: string): IdnProblem | undefined {
  if (!/(^|\.)xn--/i.test(host)) return undefined;
  const unicode = domainToUnicode(host);
  if (!unicode || unicode === host) return { kind: 'punycode', ascii: host, unicode: host, scripts: [] };
  const letters = unicode.replace(/^www\./, '').replaceAll('.', '');
  const scripts = [...new Set([...letters].map(scriptOf).filter((s) => s !== undefined))];
  const single = isSingleScript(letters);
  if (single && !scripts.includes('Latin')) return undefined;
  return { kind: single ? 'punycode' : 'mixed-script', ascii: host, unicode, scripts };
}

/**
 * Free hosting, file and forms services where credential-harvesting pages are put up in minutes, under a
 * name that mail filters trust. Legitimate mail links to them too, so the signal stays light.
 */
const harvestingSuffixes = [
  '.web.app',
  '.firebaseapp.com',
  '.pages.dev',
  '.workers.dev',
  '.r2.dev',
  '.blob.core.windows.net',
  '.web.core.windows.net',
  '.glitch.me',
  '.000webhostapp.com',
  '.ipfs.dweb.link',
  '.ipfs.w3s.link',
];
const harvestingHosts = new Set([
  'forms.gle',
  'sites.google.com',
  'storage.googleapis.com',
  'firebasestorage.googleapis.com',
  'forms.office.com',
  'forms.yandex.ru',
  'ipfs.io',
  'dweb.link',
  'cloudflare-ipfs.com',
  'gateway.pinata.cloud',
]);

/** The service's name when a URL points to a free hosting or forms service; undefined otherwise. */
export function harvestingService(url: URL): string | undefined {
  const host = url.hostname;
  if (harvestingHosts.has(host)) return host;
  if (host === 'docs.google.com' && url.pathname.startsWith('/forms')) return 'docs.google.com/forms';
  const suffix = harvestingSuffixes.find((s) => host.endsWith(s));
  if (suffix) return suffix.slice(1);
  if (/^\/ipfs\/[a-z0-9]{20,}/i.test(url.pathname)) return `${host} (IPFS)`;
  return undefined;
}

/** Words phishing adds to a brand's name: paypal-secure-login.net, apple-id-verify.com. */
const luringWords =
  /secur|log-?in|sign-?in|verif|account|support|update|servic|help|auth|billing|pay|confirm|alert|customer|client|wallet|online|unlock|recover|restore|refund|bonus|gift|prize|deliver|track|portal|cabinet|kabinet|bank|official|safe|protect|access|^id$|^id-|-id$|^lk|lk$/i;

/**
 * A lookalike of a brand's domain, stricter than for the organisation's own domains: brands' names are
 * often plain words (live, mail, visa, steam) and brands own their names under many country TLDs
 * (amazon.de, google.ru), so a one-letter edit counts only for names of six letters or more, a swapped TLD
 * or an added word for five or more, a swap only to a generic TLD, and an added word only when it is one phishing uses
 * (amazonaws.com and googleapis.com are not fakes). Confusable letters always count.
 */
export function brandLookalike(domain: string, brandDomains: readonly string[]): Lookalike | undefined {
  const index = brandLabels(brandDomains);
  if (index.results.has(domain)) return index.results.get(domain);
  if (index.results.size > 10_000) index.results.clear();
  const found = strictLookalike(domain, index.labels);
  index.results.set(domain, found);
  return found;
}

/** A brand's label with its UTS #39 §4 skeletons in small and in capital letters (lookalike.ts match()). */
type BrandLabel = { domain: string; label: string; length: number; skeleton: string; capitals: string };
type BrandLabels = { labels: BrandLabel[]; results: Map<string, Lookalike | undefined> };
const brandLabelCache = new WeakMap<readonly string[], BrandLabels>();

/** The label left of the public suffix, in Unicode: 'paypal' of paypal.co.uk. */
function labelOf(domain: string): string {
  const ascii = registrableDomain(domain) || domain;
  const suffix = getPublicSuffix(ascii) ?? '';
  return unicodeHost(suffix ? ascii.slice(0, ascii.length - suffix.length - 1) : ascii);
}

function brandLabels(domains: readonly string[]): BrandLabels {
  const known = brandLabelCache.get(domains);
  if (known) return known;
  const labels = domains.map((domain) => {
    const label = labelOf(domain);
    return {
      domain,
      label,
      length: [...label].length,
      skeleton: skeleton(label),
      capitals: skeleton(label.toUpperCase()),
    };
  });
  const made = { labels, results: new Map() };
  brandLabelCache.set(domains, made);
  return made;
}

function strictLookalike(domain: string, labels: BrandLabel[]): Lookalike | undefined {
  // lookalikeOf tries every kind against every domain; hand it only those a lookalike could be of:
  // equal skeletons or one edit need near-equal lengths, an added word needs the name inside.
  const own = labelOf(domain);
  const length = [...own].length;
  const sk = skeleton(own);
  const capitals = skeleton(own.toUpperCase());
  const near = labels.filter(
    (b) => Math.abs(b.length - length) <= 1 || sk.includes(b.skeleton) || capitals.includes(b.capitals),
  );
  if (near.length === 0) return undefined;
  const found = lookalikeOf(
    domain,
    near.map((b) => b.domain),
    linkDomainSubject,
  );
  if (!found) return undefined;
  const label = found.protected.slice(0, found.protected.indexOf('.'));
  const letters = [...label].length;
  const long = letters >= 5;
  switch (found.kind) {
    case 'homoglyph':
    case 'mixed-script':
    case 'punycode':
      return found;
    case 'tld-swap':
      return long && domain.slice(domain.lastIndexOf('.') + 1).length > 2 ? found : undefined;
    case 'added-word': {
      const rest = own.replace(label, '-');
      return long && luringWords.test(rest.replace(/^-+|-+$/g, '')) ? found : undefined;
    }
    case 'substitution':
    case 'insertion':
    case 'deletion':
    case 'transposition':
      return letters >= 6 ? found : undefined; // five-letter names have word neighbours: qmail, apply, stream
    default:
      return found.kind satisfies never;
  }
}

/** The protected or brand domain whose full name a host wears as a subdomain: paypal.com.secure-login.net. */
export function disguisedAs(host: string, domain: string, candidates: readonly string[]): string | undefined {
  if (domain === '' || host.length <= domain.length) return undefined;
  const sub = host.slice(0, host.length - domain.length - 1); // 'paypal.com.secure' of paypal.com.secure.net
  if (!sub.includes('.')) return undefined; // a domain name needs a dot
  const dotted = `.${sub}.`;
  return candidates.find((d) => dotted.includes(`.${d}.`));
}
