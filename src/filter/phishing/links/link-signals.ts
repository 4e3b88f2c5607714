/**
 * The "Links" signals of the phishing detector (issue 8): where a message's links really go, compared with
 * what they show, whom they imitate and how they hide. Wrappers (safe links, open redirectors) are looked
 * through and never scored themselves. Each signal is given at most once per message. Plain http alone is
 * not a signal: most old legitimate mail links over http.
 */
import { domainToASCII } from 'node:url';
import type { Brand } from '../brands.ts';
import { type Lookalike, lookalikeOf } from '../lookalike.ts';
import type { Explanation, Signal } from '../signal.ts';
import { extractLinks, type Link } from './extract.ts';
import { embeddedHosts, isClickTracker, isShortener, unwrap } from './redirectors.ts';
import {
  brandLookalike,
  disguisedAs,
  domainShownIn,
  harvestingService,
  idnProblem,
  ipLiteral,
  parseWebUrl,
  registrableDomain,
  schemeOf,
  unicodeHost,
} from './url-hosts.ts';

export type LinkInput = {
  html: string;
  text: string;
  /** Registrable domain of the From address ('' if none). */
  senderDomain: string;
  /** The organisation's own domains (and configured extra ones). */
  protectedDomains: readonly string[];
  brands: readonly Brand[];
};

/** A link resolved to where the reader lands, after any wrappers. */
type Target = { link: Link; url: URL; href: string; host: string; domain: string; via: string[] };

/**
 * A sign-in, account or payment page by its path. Not "update" or "secure" alone: mailing lists are full of
 * /listinfo/updates and /secure-programs.
 */
const loginPath =
  /(?<!\p{L})(log-?in|log-?on|sign-?in|verify|accounts?|password|passwd|wallet|billing|payments?|webscr)(?!\p{L})|(?<!\p{L})(вход|войти|подтверд|оплат)/iu;

/** The URL for the admin: control characters (a header may carry it) blanked, cut to about 120 characters. */
function evidenceOf(href: string): string {
  const clean = href.replace(/\p{Cc}+/gu, ' ').trim();
  return clean.length > 120 ? `${clean.slice(0, 117)}...` : clean;
}

const scriptNames: Partial<Record<string, string>> = {
  Latin: 'латиница',
  Cyrillic: 'кириллица',
  Greek: 'греческий',
  Armenian: 'армянский',
  Georgian: 'грузинский',
  Arabic: 'арабский',
  Hebrew: 'иврит',
};

/** " (unwrapped from Microsoft Safe Links (…))" when the link was wrapped, so the admin sees what was looked through. */
function behind(via: string[]): Explanation {
  if (via.length === 0) return { en: '', ru: '' };
  return { en: ` (unwrapped from ${via.join(', ')})`, ru: ` (ссылка обёрнута через ${via.join(', ')})` };
}

/** Reword lookalike.ts's sender explanation for a link. */
function forLink(found: Lookalike): Explanation {
  return {
    en: found.explanation.en.replace(/^The sender's domain/, "The link's domain"),
    ru: found.explanation.ru.replace(/^Домен отправителя/, 'Домен ссылки'),
  };
}

type BrandIndex = {
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

function brandIndex(brands: readonly Brand[]): BrandIndex {
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

type Named = { brand: Brand; name: string };

function brandsIn(text: string, index: BrandIndex): Named[] {
  if (!words(text).some((w) => index.firstWords.has(w))) return [];
  const found: Named[] = [];
  for (const m of index.anyCase ? text.matchAll(index.anyCase) : []) {
    const brand = index.byName.get(m[0].toLowerCase());
    if (brand) found.push({ brand, name: m[0] });
  }
  for (const m of index.exactCase ? text.matchAll(index.exactCase) : []) {
    const brand = index.byName.get(m[0]);
    if (brand) found.push({ brand, name: m[0] });
  }
  return found;
}

/** Text that asks the reader to act on their account: the words of a credential or payment lure. */
const accountWords =
  /(?<!\p{L})(log ?-?in|log ?on|sign ?-?in|verify|verification|confirm|accounts?|password|billing|payment|unlock|reactivate|validate|update your)(?!\p{L})|(?<!\p{L})(войти|вход|подтверд|аккаунт|учётн|учетн|кабинет|оплат|обновит|парол|разблок|восстанов)/iu;
/** A bare call to action that names nothing, so the words around it say what it is for. */
const bareCallToAction =
  /^(click here|click|here|this link|link|continue|open|view|download|go|start|log ?in|sign ?in|verify|confirm|update|войти|вход|здесь|тут|сюда|по ссылке|ссылка|перейти|продолжить|открыть|скачать|подтвердить|обновить)[.!:]?$/iu;

/**
 * Brands a link claims to lead to, with the words that claim it: named in its text when the text is about
 * little else or speaks of the account ("PayPal", "Log in to PayPal"), or named just before a bare "click
 * here". A headline that merely mentions a brand ("Apple ships a new iPod") is not a claim.
 */
function brandsNamed(link: Link, index: BrandIndex): { named: Named[]; label: string } {
  const text = link.text.replace(/\s+/g, ' ').trim();
  if (text !== '') {
    const named = brandsIn(text, index);
    if (named.length > 0) {
      // Only the name ("PayPal"), or the name and an account word; product names and headlines are
      // everywhere in newsletters ("Apple iPod", "Microsoft Office tips").
      const names = named.map((n) => n.name.toLowerCase()).join(' ');
      const onlyName = words(text).every((w) => w === '' || names.includes(w));
      return onlyName || accountWords.test(text) ? { named, label: text } : { named: [], label: text };
    }
  }
  if (link.context !== '' && (text === '' || bareCallToAction.test(text))) {
    const label = `${link.context.replace(/\s+/g, ' ').trim()} ${text}`.trim();
    return { named: brandsIn(link.context, index), label };
  }
  return { named: [], label: text };
}

function ownsHost(brand: Brand, host: string, domain: string): boolean {
  return brand.domains.some((d) => d === domain || d === host || host.endsWith(`.${d}`));
}

/** Schemes that run code or carry their own content (data:, RFC 2397) instead of naming a page. */
const scriptSchemes = new Set(['javascript:', 'vbscript:', 'data:']);

function resolve(link: Link): Target | { script: string } | undefined {
  const scheme = schemeOf(link.href);
  if (scriptSchemes.has(scheme)) return { script: scheme };
  const url = parseWebUrl(link.href);
  if (!url) return undefined;
  const unwrapped = unwrap(link.href, url);
  if (unwrapped.kind === 'opaque') return undefined;
  const innerScheme = schemeOf(unwrapped.href);
  if (scriptSchemes.has(innerScheme)) return { script: innerScheme };
  const final = unwrapped.via.length === 0 ? url : parseWebUrl(unwrapped.href);
  if (!final) return undefined;
  const host = final.hostname;
  return { link, url: final, href: unwrapped.href, host, domain: registrableDomain(host), via: unwrapped.via };
}

export function linkSignals(input: LinkInput): Signal[] {
  const found = new Map<string, Signal>();
  const add = (s: Omit<Signal, 'group'>) => {
    const had = found.get(s.name);
    if (!had || had.weight < s.weight) found.set(s.name, { ...s, group: 'links' });
  };
  const { links, forms } = extractLinks(input.html, input.text);
  const brands = brandIndex(input.brands);
  const hostsSeen = new Set<string>();

  // A form is scored by what it asks for: a password is the classic harvest; e-mail, phone or card
  // details come next; a search box (most forms in newsletters) hardly counts.
  const form = forms.find((f) => f.password) ?? forms.find((f) => f.personal) ?? forms[0];
  if (form) {
    add({
      name: 'html-form',
      weight: form.password ? 4 : form.personal ? 2 : 0.5,
      evidence: evidenceOf(form.action || '<form>'),
      ...(form.password ? { categories: { password: 1 } } : {}),
      explanation: form.password
        ? {
            en: 'The message contains a form with a password field; a real service never asks you to type your password into an e-mail.',
            ru: 'В письме есть форма с полем для пароля; настоящие сервисы никогда не просят вводить пароль прямо в письме.',
          }
        : form.personal
          ? {
              en: 'The message contains a form asking for personal details; forms in e-mail are a common way to collect data from the reader.',
              ru: 'В письме есть форма, которая просит личные данные; формы в письмах часто используют, чтобы выманить данные у читателя.',
            }
          : {
              en: 'The message contains a fill-in form; forms in e-mail can send what you type to a third party.',
              ru: 'В письме есть форма для заполнения; то, что в неё вводят, может уйти посторонним.',
            },
    });
  }

  for (const link of links) {
    const t = resolve(link);
    if (t === undefined) continue;
    if ('script' in t) {
      add({
        name: 'data-or-script-uri',
        weight: 3,
        evidence: evidenceOf(link.href),
        explanation: {
          en: `A link uses the ${t.script.slice(0, -1)} scheme: instead of opening a web page it runs code or opens content hidden inside the message.`,
          ru: `Ссылка использует схему ${t.script.slice(0, -1)}: вместо веб-страницы она запускает код или открывает содержимое, спрятанное в самом письме.`,
        },
      });
      continue;
    }
    checkTarget(t, input, brands, add, hostsSeen.has(t.host));
    hostsSeen.add(t.host);
  }
  return [...found.values()];
}

function checkTarget(
  t: Target,
  input: LinkInput,
  brands: BrandIndex,
  add: (s: Omit<Signal, 'group'>) => void,
  hostSeen: boolean,
): void {
  const evidence = evidenceOf(t.href);
  const via = behind(t.via);
  const shownHost = unicodeHost(t.host);

  const ip = ipLiteral(t.url, t.href);
  if (ip && hostSeen) return;
  if (ip) {
    const written = ip.written !== ip.ip ? ` (written as ${ip.written})` : '';
    const zapis = ip.written !== ip.ip ? ` (записан как ${ip.written})` : '';
    add({
      name: 'ip-literal-link',
      weight: 2.5,
      evidence,
      explanation: {
        en: `A link goes to the bare IP address ${ip.ip}${written} instead of a domain name${via.en}; real services link by name.`,
        ru: `Ссылка ведёт на IP-адрес ${ip.ip}${zapis}, а не на доменное имя${via.ru}; настоящие сервисы так не делают.`,
      },
    });
    // An address has no domain to compare; whatever domain the link text shows, it is not where it goes.
    const shownText = domainShownIn(t.link.text);
    if (shownText) {
      add({
        name: 'link-text-mismatch',
        weight: 3,
        evidence,
        explanation: {
          en: `The link text shows ${unicodeHost(shownText)} but it leads to the IP address ${ip.ip}${via.en}.`,
          ru: `Текст ссылки показывает ${unicodeHost(shownText)}, а ведёт она на IP-адрес ${ip.ip}${via.ru}.`,
        },
      });
    }
    return;
  }

  // What depends on the host alone was said the first time it was seen (each signal is given once).
  const idn = hostSeen ? undefined : idnProblem(t.host);
  if (idn) {
    const scripts = idn.scripts.join(', ');
    const pismennosti = idn.scripts.map((name) => scriptNames[name] ?? name).join(', ');
    add({
      name: 'punycode-link',
      weight: 2,
      evidence,
      explanation:
        idn.kind === 'mixed-script'
          ? {
              en: `A link goes to ${idn.unicode} (${idn.ascii}), a name that mixes letters of different alphabets (${scripts})${via.en}, as look-alike addresses do.`,
              ru: `Ссылка ведёт на ${idn.unicode} (${idn.ascii}): в имени смешаны буквы разных алфавитов (${pismennosti})${via.ru}, как в поддельных адресах.`,
            }
          : {
              en: `A link goes to ${idn.ascii}, a punycode name shown as ${idn.unicode}${via.en}; such names can imitate familiar ones letter for letter.`,
              ru: `Ссылка ведёт на ${idn.ascii} — имя в punycode, которое выглядит как ${idn.unicode}${via.ru}; так можно подделать знакомый адрес буква в букву.`,
            },
    });
  }

  const ownLookalike = t.domain && !hostSeen ? lookalikeOf(t.domain, input.protectedDomains) : undefined;
  const brandFake = ownLookalike || !t.domain || hostSeen ? undefined : brandLookalike(t.domain, brands.domains);
  const fake = ownLookalike ?? brandFake;
  const imitated = brandFake && brands.byDomain.get(domainToASCII(brandFake.protected) || brandFake.protected);
  if (fake) {
    const text = forLink(fake);
    add({
      name: 'lookalike-link',
      // A brand's name plus a word (outlooksecure.com) is also how real sites were named; letters
      // swapped for look-alikes, or our own name imitated, are not.
      weight: brandFake && (brandFake.kind === 'added-word' || brandFake.kind === 'tld-swap') ? 2.5 : 4,
      evidence,
      ...(imitated ? { categories: { [imitated.category]: 1 } } : {}),
      explanation: {
        en: `A link goes to ${shownHost}${via.en}. ${text.en}`,
        ru: `Ссылка ведёт на ${shownHost}${via.ru}. ${text.ru}`,
      },
    });
  } else {
    const disguise = hostSeen
      ? undefined
      : disguisedAs(t.host, t.domain, [...input.protectedDomains, ...brands.domains]);
    if (disguise) {
      add({
        name: 'lookalike-link',
        weight: 4,
        evidence,
        explanation: {
          en: `A link's address begins with ${disguise}, but it really goes to ${t.domain}${via.en}: the familiar name is only a subdomain.`,
          ru: `Адрес ссылки начинается с ${disguise}, но на самом деле она ведёт на ${t.domain}${via.ru}: знакомое имя — лишь поддомен.`,
        },
      });
    }
  }

  // A redirect that carries its target inside (?destUrl=…) is judged by that target; an opaque click
  // tracker hides it, so a mismatch through one weighs less.
  const carried = embeddedHosts(t.href).map((h) => ({ host: h, domain: registrableDomain(h) }));
  const tracker = carried.length === 0 && isClickTracker(t.url);
  const viaTracker = tracker
    ? {
        en: ' (a click-tracking address, so where it finally leads cannot be seen)',
        ru: ' (это адрес для подсчёта переходов, конечная цель не видна)',
      }
    : { en: '', ru: '' };

  const shown = domainShownIn(t.link.text);
  if (shown && t.domain && shown !== t.domain && !carried.some((c) => c.domain === shown)) {
    const shownBrand = brands.byDomain.get(shown);
    add({
      name: 'link-text-mismatch',
      weight: tracker ? 1.5 : 3,
      evidence,
      ...(shownBrand ? { categories: { [shownBrand.category]: 1 } } : {}),
      explanation: {
        en: `The link text shows ${unicodeHost(shown)} but it leads to ${shownHost}${via.en}${viaTracker.en}.`,
        ru: `Текст ссылки показывает ${unicodeHost(shown)}, а ведёт она на ${shownHost}${via.ru}${viaTracker.ru}.`,
      },
    });
  }

  // A URL or domain as link text is judged by the mismatch alone, not again as a brand's name.
  const { named, label } = shown ? { named: [], label: '' } : brandsNamed(t.link, brands);
  const claimed = named.find(
    (n) => !ownsHost(n.brand, t.host, t.domain) && !carried.some((c) => ownsHost(n.brand, c.host, c.domain)),
  );
  if (claimed && !claimed.brand.domains.includes(input.senderDomain)) {
    const quoted = label.length > 80 ? `${label.slice(0, 77)}...` : label;
    add({
      name: 'brand-link-elsewhere',
      weight: tracker ? 1 : 2,
      evidence,
      categories: { [claimed.brand.category]: 1 },
      explanation: {
        en: `The link "${quoted}" names ${claimed.name} but goes to ${shownHost}${via.en}, which is not one of ${claimed.name}'s addresses${viaTracker.en}.`,
        ru: `Ссылка «${quoted}» упоминает ${claimed.name}, но ведёт на ${shownHost}${via.ru} — это не адрес бренда «${claimed.name}»${viaTracker.ru}.`,
      },
    });
  }

  if (isShortener(t.host)) {
    add({
      name: 'url-shortener',
      weight: 1,
      evidence,
      explanation: {
        en: `A link goes through the URL shortener ${t.host}${via.en}, which hides where it really leads.`,
        ru: `Ссылка идёт через сокращатель ${t.host}${via.ru}, который скрывает, куда она ведёт на самом деле.`,
      },
    });
  }

  if (t.url.protocol === 'http:' && /^http:/i.test(t.href.trim())) {
    let path = t.url.pathname;
    try {
      path = decodeURIComponent(path); // Cyrillic paths come percent-encoded
    } catch {}
    if (loginPath.test(path) || accountWords.test(t.link.text)) {
      add({
        name: 'insecure-login-link',
        weight: 1,
        evidence,
        explanation: {
          en: `A link to what looks like a sign-in, account or payment page on ${shownHost} is not encrypted (http, not https)${via.en}.`,
          ru: `Ссылка на страницу входа, учётной записи или оплаты на ${shownHost} не защищена шифрованием (http, а не https)${via.ru}.`,
        },
      });
    }
  }

  const service = harvestingService(t.url);
  if (service) {
    add({
      name: 'link-to-attachment-host',
      weight: 1,
      evidence,
      explanation: {
        en: `A link goes to ${service}, a free hosting or forms service where fake sign-in pages are easy to put up${via.en}.`,
        ru: `Ссылка ведёт на ${service} — бесплатный хостинг или сервис форм, где легко разместить поддельную страницу входа${via.ru}.`,
      },
    });
  }
}
