/**
 * Brand names in a link's words (issue 8, "Links"): which brands a link's text, or the words just before a
 * bare "click here", claims it leads to, and whether a host is one of the brand's own. Names are matched as
 * whole words in any script; the brand list is indexed once per list.
 */
import { BRAND_NAMES_THAT_ARE_WORDS, type Brand } from '../brands.ts';
import type { Link } from './extract.ts';
import { isGoogleSearch } from './redirectors.ts';
import { registrableDomain, visibleText } from './url-hosts.ts';

export type BrandIndex = {
  /** Names of four letters or more, matched in any case; shorter ones (VK, ВТБ, UPS) only as written. */
  anyCase?: RegExp;
  exactCase?: RegExp;
  byName: Map<string, Brand>;
  /** Registrable domain (ASCII) → brand. */
  byDomain: Map<string, Brand>;
  /** The first word of every name, lower case: most link texts have none, and skip the long regexes. */
  firstWords: Set<string>;
  domains: string[];
};

const indexes = new WeakMap<readonly Brand[], BrandIndex>();
const literally = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const words = (s: string) => s.toLowerCase().split(/[^\p{L}\p{N}]+/u);
/** Whole words in any script: JavaScript's \b knows only ASCII letters. */
const wholeWords = (names: string[], flags: string) =>
  names.length === 0
    ? undefined
    : new RegExp(`(?<![\\p{L}\\p{N}])(?:${names.map(literally).join('|')})(?![\\p{L}\\p{N}])`, flags);

export function brandIndex(brands: readonly Brand[]): BrandIndex {
  const known = indexes.get(brands);
  if (known) return known;
  const byName = new Map<string, Brand>();
  const anyCase: string[] = [];
  const exactCase: string[] = [];
  const firstWords = new Set<string>();
  for (const brand of brands) {
    for (const name of brand.names) {
      const long = (name.match(/\p{L}/gu)?.length ?? 0) >= 4;
      byName.set(long ? name.toLowerCase() : name, brand);
      (long ? anyCase : exactCase).push(name);
      firstWords.add(words(name).find((w) => w !== '') ?? '');
    }
  }
  const longestFirst = (a: string, b: string) => b.length - a.length;
  const index: BrandIndex = {
    anyCase: wholeWords(anyCase.sort(longestFirst), 'giu'),
    exactCase: wholeWords(exactCase.sort(longestFirst), 'gu'),
    byName,
    byDomain: new Map(brands.flatMap((b) => b.domains.map((d) => [registrableDomain(d) || d, b] as const))),
    firstWords,
    domains: brands.flatMap((b) => b.domains),
  };
  indexes.set(brands, index);
  return index;
}

/** A brand's name found in a text, and where it starts. */
type Named = { brand: Brand; name: string; at: number };

export function brandsIn(text: string, index: BrandIndex): Named[] {
  if (!words(text).some((w) => index.firstWords.has(w))) return [];
  const found: Named[] = [];
  for (const m of index.anyCase ? text.matchAll(index.anyCase) : []) {
    const brand = index.byName.get(m[0].toLowerCase());
    if (brand) found.push({ brand, name: m[0], at: m.index });
  }
  for (const m of index.exactCase ? text.matchAll(index.exactCase) : []) {
    const brand = index.byName.get(m[0]);
    if (brand) found.push({ brand, name: m[0], at: m.index });
  }
  return found;
}

/**
 * A brand named as the means, not the destination: "Log in with Google", "Sign in with Microsoft", "pay
 * with PayPal", "Войти через Госуслуги". Sign-in buttons and shops' checkout mail say this of links to
 * their own site, which then hands the reader to the brand.
 */
const byMeansOf = /(?<![\p{L}\p{N}])(?:with|via|using|through|через|с помощью|с|со)\s+$/iu;

/** The names in a text that claim the link leads to the brand. */
const claims = (named: Named[], text: string) => named.filter((n) => !byMeansOf.test(text.slice(0, n.at)));

/** Text that asks the reader to act on their account: the words of a credential or payment lure. */
export const accountWords =
  /(?<!\p{L})(log ?-?in|log ?on|sign ?-?in|verify|verification|confirm|accounts?|password|billing|payment|unlock|reactivate|validate|update your)(?!\p{L})|(?<!\p{L})(войти|вход|подтверд|аккаунт|учётн|учетн|кабинет|оплат|обновит|парол|разблок|восстанов)/iu;
/** A bare call to action that names nothing, so the words around it say what it is for. */
const bareCallToAction =
  /^(click here|click|here|this link|link|continue|open|view|download|go|start|log ?in|sign ?in|verify|confirm|update|войти|вход|здесь|тут|сюда|по ссылке|ссылка|перейти|продолжить|открыть|скачать|подтвердить|обновить)[.!:]?$/iu;

/**
 * Brands a link claims to lead to, with the words that claim it: named in its text when the text is about
 * little else or speaks of the account ("PayPal", "Log in to PayPal"), or named just before a bare "click
 * here". A headline that merely mentions a brand ("Apple ships a new iPod") is not a claim.
 */
export function brandsNamed(link: Link, index: BrandIndex): { named: Named[]; label: string } {
  // Read as the reader sees it: "Pay\u200BPal" shows as PayPal.
  const text = visibleText(link.text).replace(/\s+/g, ' ').trim();
  if (text !== '') {
    const named = brandsIn(text, index);
    if (named.length > 0) {
      // Only the name ("PayPal"), or the name and an account word; product names and headlines are
      // everywhere in newsletters ("Apple iPod", "Microsoft Office tips"). A name that is an everyday
      // word claims the brand only with an account word: a link "Zoom" or "Live" enlarges a picture or
      // opens a stream ("Log in to Zoom" still claims).
      const names = named.map((n) => n.name.toLowerCase()).join(' ');
      const onlyName = words(text).every((w) => w === '' || names.includes(w));
      if (accountWords.test(text)) return { named: claims(named, text), label: text };
      const brandOnly = named.filter((n) => !BRAND_NAMES_THAT_ARE_WORDS.has(n.name.toLowerCase()));
      return { named: onlyName ? claims(brandOnly, text) : [], label: text };
    }
  }
  if (link.context !== '' && (text === '' || bareCallToAction.test(text))) {
    const context = visibleText(link.context).replace(/\s+/g, ' ').trim();
    return { named: claims(brandsIn(context, index), context), label: `${context} ${text}`.trim() };
  }
  return { named: [], label: text };
}

/**
 * Domains a brand links from but does not mail from, keyed by one of its own: short and sister domains
 * (wa.me, aka.ms, amzn.to, youtu.be) and newer homes (zoom.com, cloud.microsoft). They are kept here, not in
 * the brand list, because they are only for judging where a link that names the brand goes: short names
 * like these would make poor models for the lookalike checks. A brand an admin configures with one of the
 * keys among its domains gets them too.
 */
const sisterDomains: Readonly<Partial<Record<string, readonly string[]>>> = {
  'facebook.com': ['fb.com', 'fb.me', 'fb.watch', 'm.me', 'messenger.com'],
  'instagram.com': ['instagr.am', 'threads.net'],
  'whatsapp.com': ['wa.me', 'whatsapp.net'],
  'google.com': ['g.co', 'g.page', 'youtube.com', 'youtu.be', 'withgoogle.com'],
  'microsoft.com': ['aka.ms', 'cloud.microsoft', 'microsoft365.com', 'azure.com'],
  'onedrive.com': ['1drv.ms'],
  'amazon.com': ['amzn.to', 'amzn.eu', 'amzn.asia', 'a.co'],
  'apple.com': ['apple.co', 'apple.news', 'itunes.com'],
  'spotify.com': ['spoti.fi', 'spotify.link'],
  'zoom.us': ['zoom.com', 'zoomgov.com'],
  'vk.com': ['vk.me', 'vkvideo.ru'],
  'mastercard.com': ['priceless.com'],
  'linkedin.com': ['lnkd.in'],
  'telegram.org': ['telegram.me'],
  'dropbox.com': ['db.tt'],
};

const owned = new WeakMap<Brand, { domains: string[]; googleSearch: boolean }>();

function ownedBy(brand: Brand): { domains: string[]; googleSearch: boolean } {
  const known = owned.get(brand);
  if (known) return known;
  const made = {
    domains: [...brand.domains, ...brand.domains.flatMap((d) => sisterDomains[d] ?? [])],
    // Google's search sites in every country (google.de, google.co.uk), as its redirector is known by.
    googleSearch: brand.domains.includes('google.com'),
  };
  owned.set(brand, made);
  return made;
}

export function ownsHost(brand: Brand, host: string, domain: string): boolean {
  const { domains, googleSearch } = ownedBy(brand);
  if (googleSearch && domain !== '' && isGoogleSearch(domain)) return true;
  return domains.some((d) => d === domain || d === host || host.endsWith(`.${d}`));
}
