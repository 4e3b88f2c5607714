/**
 * What a link's host says about it: parsed as browsers do (WHATWG URL Standard), its registrable domain
 * (Public Suffix List, via tldts), IP literals in any notation, punycode and mixed-script names, and free
 * hosting or forms services that phishing pages live on. Weighs nothing; link-signals.ts does.
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import { getDomain, getPublicSuffix, parse } from 'tldts';
import { OTHER_DOTS } from '../../../dns/a-labels.ts';
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
 * Words of link text up to which any domain in it is the link's address, past which it is prose. A call to
 * action that shows where it goes is short ("View your statement at www.paypal.com", "Sign in: https://…
 * (secure)", five words or fewer); a linked sentence or paragraph may mention other sites ("we moved from
 * www.old.example to our new shop, see the details below") while it leads somewhere else, as it should.
 * In longer text a URL with its scheme still shows the address wherever it stands, and a www. name or a
 * name with a path does at the text's start or end: words added after "https://www.paypal.com/signin"
 * must not make it prose.
 */
const shortLinkText = 8;

/** Characters of text read for a domain: link text is cut at 300 drawn characters (extract.ts), a URL's user name is not. */
const maxShownText = 2048;

/**
 * The registrable domain a link's visible text shows when the text is a URL or a bare domain
 * ("https://www.paypal.com/signin", "sberbank.ru"), or short text with a URL in it ("Log in at
 * www.paypal.com", "https://www.paypal.com/ →"), or longer text with one where it reads as the address
 * (shortLinkText); undefined for words, e-mail addresses and file names. Read as drawn: NFKC, so that
 * compatibility forms are the characters they look like (`www.paypal\u2024com`, a one dot leader, shows
 * www.paypal.com; fullwidth letters show ASCII ones; UAX #15), as names.ts reads display names; and, as
 * browsers and resolvers do (UTS #46 §2.3), the ideographic and halfwidth ideographic full stops as dots.
 */
export function domainShownIn(text: string): string | undefined {
  // Cut before NFKC and after it: a compatibility form may stand for up to 18 characters (U+FDFA).
  const t = visibleText(text.slice(0, maxShownText))
    .normalize('NFKC')
    .slice(0, maxShownText)
    .replace(OTHER_DOTS, '.')
    .trim();
  const words = t.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)); // not arrows, bullets, dashes
  if (words.length <= shortLinkText) {
    for (const word of words) {
      const shown = domainOfWord(word, words.length === 1);
      if (shown) return shown;
    }
    return undefined;
  }
  const last = words.length - 1;
  for (const [i, word] of words.entries()) {
    if (!word.includes('.')) continue;
    const atEdge = i === 0 || i === last;
    if (!atEdge && !/^[<([{"'«]*https?:\/\//iu.test(word)) continue;
    const shown = domainOfWord(word, false);
    if (shown) return shown;
  }
  return undefined;
}

/**
 * The registrable domain one word of link text shows. Among other words, a name with neither a scheme,
 * nor www., nor a path is more often a thing's name than an address (ASP.NET, Socket.IO, Booking.com).
 */
function domainOfWord(word: string, alone: boolean): string | undefined {
  const t = word.replace(/^[<([{"'«]+|[>)\]}"'».,;:!?]+$/gu, '');
  const m = /^(https?:\/\/)?([\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+)\.?(?::\d+)?([/?#]\S*)?$/iu.exec(t);
  const name = m?.[2];
  if (!m || !name) return undefined;
  const www = /^www\./i.test(name);
  if (!m[1] && !www && fileExtensions.has(name.slice(name.lastIndexOf('.') + 1).toLowerCase())) return undefined;
  if (!alone && !m[1] && !www && !m[3]) return undefined;
  const host = parseWebUrl(`http://${name}`)?.hostname;
  if (!host) return undefined;
  const info = parse(host);
  return info.isIcann && info.domain ? info.domain : undefined;
}

/**
 * The host a name written without a scheme in plain text goes to when a mail reader links it
 * ("paypa1.com"), or undefined: its public suffix must be in the ICANN section of the Public Suffix List
 * (tldts), so that "report.pdf", "1.2.3" or "node.js" are no hosts, and its last label no file
 * extension that is also a country's TLD ("setup.py", "notes.md", "archive.zip").
 */
export function schemelessHost(name: string): string | undefined {
  if (name.length > 253 || !name.includes('.')) return undefined; // RFC 1035 §2.3.4: 255 octets with the root
  const tld = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  if (!/^(?:\p{L}{2,63}|xn--[a-z0-9-]+)$/u.test(tld) || fileExtensions.has(tld)) return undefined;
  const host = parseWebUrl(`http://${name}`)?.hostname;
  if (!host) return undefined;
  const info = parse(host);
  return info.isIcann && info.domain ? host : undefined;
}

/** Unicode (U-label) form of an ASCII host, for people to read. */
export function unicodeHost(host: string): string {
  // UTS #46 ToUnicode is costly and every explanation of a link says its host: the same few hosts recur.
  const known = unicodeHosts.get(host);
  if (known !== undefined) return known;
  if (unicodeHosts.size >= 4_000) unicodeHosts.clear(); // bounded: emptied when full
  const unicode = domainToUnicode(host) || host;
  unicodeHosts.set(host, unicode);
  return unicode;
}
const unicodeHosts = new Map<string, string>();

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
 * A host with an A-label (RFC 5891 §5.4, `xn--`) that mixes scripts (UTS #39 §5.1), or a Latin one whose
 * letters outside ASCII pass for plain ones: each such label has an all-ASCII skeleton (UTS #39 §4), as
 * ɡoogle.com (Latin script ɡ) and ıcloud.com (dotless ı) have, and shows a name it is not. A name in one
 * script whose letters show what they are is an ordinary IDN, as UTS #39 §5.2 "Highly Restrictive" allows:
 * пример.рф, münchen.de, łódź.pl. Whether such a name imitates a brand's (pаypal, päypal) is for the
 * lookalike checks (brandLookalike), which compare it with the brands'.
 */
export function idnProblem(host: string): IdnProblem | undefined {
  if (!/(^|\.)xn--/i.test(host)) return undefined;
  const unicode = domainToUnicode(host);
  if (!unicode || unicode === host) return { kind: 'punycode', ascii: host, unicode: host, scripts: [] };
  const letters = unicode.replace(/^www\./, '').replaceAll('.', '');
  const scripts = [...new Set([...letters].map(scriptOf).filter((s) => s !== undefined))];
  if (!isSingleScript(letters)) return { kind: 'mixed-script', ascii: host, unicode, scripts };
  if (!scripts.includes('Latin')) return undefined;
  const passes = unicode
    .split('.')
    .some((label) => /[^\x00-\x7f]/.test(label) && /^[\x00-\x7f]*$/.test(skeleton(label)));
  return passes ? { kind: 'punycode', ascii: host, unicode, scripts } : undefined;
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
  const host = url.hostname.replace(/\.$/, ''); // forms.gle. is forms.gle: the root's empty label (RFC 1034 §3.1)
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
 * (amazonaws.com and googleapis.com are not fakes). A one-letter edit counts only under the brand's own
 * suffix or, both being generic, another generic one (paypai.xyz): under a country's suffix a name one
 * letter off is that country's own word or service (telegra.ph is Telegram's Telegraph, paypay.ne.jp a
 * Japanese payment app), as sender-signals.ts also holds; a five-letter name with an accent added (ạpple.com)
 * counts there too. Confusable letters always count.
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
      // Five-letter names have word neighbours (qmail, apply, stream), not the name itself with an accent (ạpple).
      if (letters < 6 && withoutMarks(own) !== label) return undefined;
      return sameSuffixFamily(domain, found.protected) ? found : undefined;
    default:
      return found.kind satisfies never;
  }
}

/** A label with its combining marks taken off (NFD): päypal is paypal. */
function withoutMarks(label: string): string {
  return label.normalize('NFD').replace(/\p{M}/gu, '');
}

/** Two-letter TLDs (ISO 3166-1, RFC 1591 §2) and IDN ones, most of which are countries' (рф, бел). */
const countryTld = /(^|\.)([a-z]{2}|xn--[a-z0-9-]+)$/i;

/** Whether two domains have the same public suffix, or both generic ones (com and xyz, not com and ru). */
function sameSuffixFamily(a: string, b: string): boolean {
  const [sa, sb] = [getPublicSuffix(domainToASCII(a) || a) ?? '', getPublicSuffix(domainToASCII(b) || b) ?? ''];
  return sa === sb || (!countryTld.test(sa) && !countryTld.test(sb));
}

/**
 * The protected or brand domain whose full name a host wears in its subdomains, whole (paypal.com.secure-login.net)
 * or run into the next label with a hyphen (appleid.apple.com-verify.info, www.paypal.com-login.evil.example):
 * the eye stops at the familiar name. Not when the host is that domain's own, or another protected or brand one.
 */
export function disguisedAs(host: string, domain: string, candidates: readonly string[]): string | undefined {
  // A scan over every protected and brand domain, for each new host of each message; the list is the same
  // array each time (joinedDomains), so the answer is kept per list, bounded: emptied when full.
  let known = disguises.get(candidates);
  if (!known) {
    known = new Map();
    disguises.set(candidates, known);
  }
  const key = `${host} ${domain}`; // a host has no space
  if (known.has(key)) return known.get(key);
  if (known.size >= 4_000) known.clear();
  const found = findDisguise(host, domain, candidates);
  known.set(key, found);
  return found;
}
const disguises = new WeakMap<readonly string[], Map<string, string | undefined>>();

function findDisguise(host: string, domain: string, candidates: readonly string[]): string | undefined {
  const name = `.${host.replace(/\.$/, '')}`;
  if (domain === '' || name.length <= domain.length + 1 || candidates.includes(domain)) return undefined;
  const sub = `${name.slice(0, name.length - domain.length - 1)}.`; // '.paypal.com.secure.' of paypal.com.secure.net
  // Either form has `d` inside the name: that test allocates nothing, and rules out nearly every candidate.
  return candidates.find((d) => name.includes(d) && (sub.includes(`.${d}.`) || name.includes(`.${d}-`)));
}
