/**
 * The "Links" signals of the phishing detector (issue 8): where a message's links really go, compared with
 * what they show, whom they imitate and how they hide. Wrappers (safe links, open redirectors) are looked
 * through and never scored themselves. Each signal is given at most once per message. Plain http alone is
 * not a signal: most old legitimate mail links over http.
 */
import { domainToASCII } from 'node:url';
import type { Brand } from '../brands.ts';
import { joinedDomains, lookalikeOf } from '../lookalike.ts';
import type { Explanation, Signal } from '../signal.ts';
import { accountWords, type BrandIndex, brandIndex, brandsIn, brandsNamed, ownsHost } from './brand-names.ts';
import { DEFAULT_LIMITS, extractBudget, extractLinks, type Link } from './extract.ts';
import { behind, resolve, type Target } from './link-target.ts';
import { embeddedHosts, isClickTracker, isShortener } from './redirectors.ts';
import {
  brandLookalike,
  disguisedAs,
  domainShownIn,
  harvestingService,
  idnProblem,
  ipLiteral,
  linkDomainSubject,
  parseWebUrl,
  registrableDomain,
  unicodeHost,
} from './url-hosts.ts';

export type LinkInput = {
  html: string;
  text: string;
  /** Registrable domain of the From address ('' if none). */
  senderDomain: string;
  /** Registrable domain of the From address when DMARC passed for it; '' or absent otherwise. */
  authenticatedSenderDomain?: string;
  /** The organisation's own domains (and configured extra ones). */
  protectedDomains: readonly string[];
  brands: readonly Brand[];
  /**
   * The bodies of the messages attached to this one (a forward as message/rfc822, an .eml file) and the
   * web pages attached to it (invoice.html), which the reader opens with a click: their links are checked
   * as the message's own, within the same budget.
   */
  attached?: readonly AttachedBody[];
};

/**
 * An attached message's text and HTML bodies, with its name as shown ("forward.eml"); or, with `file`, an
 * attached HTML file's markup as its browser decodes it ("invoice.html").
 */
export type AttachedBody = { html: string; text: string; name: string; file?: true };

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

export function linkSignals(input: LinkInput): Signal[] {
  const found = new Map<string, Signal>();
  const add = (s: Omit<Signal, 'group'>) => {
    const had = found.get(s.name);
    if (!had || had.weight < s.weight) found.set(s.name, { ...s, group: 'links' });
  };
  // One budget for the message and every message attached to it: nesting cannot multiply the work.
  const budget = extractBudget();
  const { links, forms } = extractLinks(input.html, input.text, DEFAULT_LIMITS, budget);
  for (const attached of input.attached ?? []) {
    if (budget.links <= 0) break;
    const inner = extractLinks(attached.html, attached.text, DEFAULT_LIMITS, budget);
    for (const item of inner.links) {
      item.within = attached.name;
      if (attached.file) item.inFile = true;
    }
    links.push(...inner.links);
    // A form in an attached page is the attachment checks' to judge (html-attachment, for what the page
    // does when opened); its action is judged here as a link.
    if (attached.file) continue;
    for (const item of inner.forms) item.within = attached.name;
    forms.push(...inner.forms);
  }
  const brands = brandIndex(input.brands);
  const hostsSeen = new Set<string>();

  // A form is scored by what it asks for: a password is the classic harvest; e-mail, phone or card
  // details come next; a search box (most forms in newsletters) hardly counts.
  const form = forms.find((f) => f.password) ?? forms.find((f) => f.personal) ?? forms[0];
  if (form) {
    // Whose form: the message's own, or one in a message attached to it.
    const holder = form.within
      ? {
          en: `The attached message ${evidenceOf(form.within)} contains`,
          ru: `Во вложенном письме ${evidenceOf(form.within)}`,
        }
      : { en: 'The message contains', ru: 'В письме' };
    add({
      name: 'html-form',
      weight: form.password ? 4 : form.personal ? 2 : 0.5,
      evidence: evidenceOf(form.action || '<form>'),
      ...(form.password ? { categories: { password: 1 } } : {}),
      explanation: form.password
        ? {
            en: `${holder.en} a form with a password field; a real service never asks you to type your password into an e-mail.`,
            ru: `${holder.ru} есть форма с полем для пароля; настоящие сервисы никогда не просят вводить пароль прямо в письме.`,
          }
        : form.personal
          ? {
              en: `${holder.en} a form asking for personal details; forms in e-mail are a common way to collect data from the reader.`,
              ru: `${holder.ru} есть форма, которая просит личные данные; формы в письмах часто используют, чтобы выманить данные у читателя.`,
            }
          : {
              en: `${holder.en} a fill-in form; forms in e-mail can send what you type to a third party.`,
              ru: `${holder.ru} есть форма для заполнения; то, что в неё вводят, может уйти посторонним.`,
            },
    });
  }

  for (const link of links) {
    const t = resolve(link);
    if (t === undefined) continue;
    if ('script' in t) {
      const where = whereIs(link);
      add({
        name: 'data-or-script-uri',
        weight: 3,
        evidence: evidenceOf(link.href),
        explanation: {
          en: `A link${where.en} uses the ${t.script.slice(0, -1)} scheme: instead of opening a web page it runs code or opens content hidden inside the message.`,
          ru: `Ссылка${where.ru} использует схему ${t.script.slice(0, -1)}: вместо веб-страницы она запускает код или открывает содержимое, спрятанное в самом письме.`,
        },
      });
      continue;
    }
    checkTarget(t, input, brands, add, hostsSeen.has(t.host));
    hostsSeen.add(t.host);
  }
  return [...found.values()];
}

/**
 * Whether the sender owns the domain a link's text shows: its From domain passed DMARC (RFC 7489 §3.1: the
 * domain's owner authorised the message) and is of the same organisation (registrable domain). A mismatch
 * deceives only when someone else shows the domain; an organisation linking between its own sites
 * (www.sberbank.ru shown, sberbank.com linked) does not.
 */
function senderOwns(shown: string, input: LinkInput): boolean {
  const sender = input.authenticatedSenderDomain ?? '';
  return sender !== '' && (domainToASCII(sender) || sender) === shown;
}

/**
 * How a link came to its target, for its explanations: from a relative address completed by the message's
 * <base href>, or one without a scheme; and, for a link in an attached message, which message.
 */
function howResolved(link: Link): Explanation {
  const written = link.written === undefined ? '' : evidenceOf(link.written);
  const resolved =
    link.written === undefined
      ? { en: '', ru: '' }
      : link.bare
        ? {
            en: ` (written in the text as "${written}", without a scheme, which mail programs turn into a link)`,
            ru: ` (в тексте записана как «${written}», без схемы, а почтовые программы делают из этого ссылку)`,
          }
        : link.base !== undefined
          ? {
              en: ` (its address "${written}" is relative, completed from the message's <base href="${evidenceOf(link.base)}">)`,
              ru: ` (её адрес «${written}» относительный и дополнен из <base href="${evidenceOf(link.base)}"> письма)`,
            }
          : {
              en: ` (its address "${written}" has no scheme, and a webmail opens it over https)`,
              ru: ` (её адрес «${written}» записан без схемы, и веб-почта откроет его по https)`,
            };
  return { en: `${resolved.en}${whereIs(link).en}`, ru: `${resolved.ru}${whereIs(link).ru}` };
}

/**
 * " (in the attached message forward.eml)" for a link in an attached message, " (in the attached file
 * invoice.html)" for one in an attached web page; '' for the message's own.
 */
function whereIs(link: Link): Explanation {
  if (link.within === undefined) return { en: '', ru: '' };
  const name = evidenceOf(link.within);
  if (link.inFile) return { en: ` (in the attached file ${name})`, ru: ` (во вложенном файле ${name})` };
  return { en: ` (in the attached message ${name})`, ru: ` (во вложенном письме ${name})` };
}

/** Percent-decoded (`www.paypal.com%2Fsignin` shows as a path), or as it is when that fails. */
function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * The domain or brand a link's userinfo poses as: `https://www.paypal.com@evil.example/` goes to
 * evil.example and hands it "www.paypal.com" as a user name. RFC 3986 §7.6 names this the semantic attack
 * and §3.2.1 deprecates user:password in a URI; a user name that is a domain, or a brand's name with an
 * account word (paypal-login@), has no other use. A person's name is left alone (chase@git.example.net, and
 * john.kim@, though .kim is a TLD): a domain counts when it is ours or a brand's, or is plainly written as
 * a host (www., a scheme, three labels or more). Both the address followed and the one the reader sees (a
 * wrapper's, before unwrapping) are read.
 */
function userinfoPose(
  t: Target,
  input: LinkInput,
  brands: BrandIndex,
): { userinfo: string; brand?: Brand } | undefined {
  const seen = t.via.length > 0 ? parseWebUrl(t.link.href) : undefined;
  for (const url of seen ? [t.url, seen] : [t.url]) {
    if (url.username === '' && url.password === '') continue;
    const raw = url.password === '' ? url.username : `${url.username}:${url.password}`;
    const userinfo = decode(raw);
    for (const part of [userinfo, decode(url.username), decode(url.password)]) {
      const shown = part === '' ? undefined : domainShownIn(part);
      if (!shown || shown === t.domain) continue;
      const brand = brands.byDomain.get(shown);
      if (brand && ownsHost(brand, t.host, t.domain)) continue;
      const ours = input.protectedDomains.some((d) => registrableDomain(domainToASCII(d) || d) === shown);
      const hostLike = /^(?:https?:\/\/|www\.)|^[^.]+\.[^.]+\.[^.]/i.test(part.trim());
      if (brand || ours || hostLike) return { userinfo, ...(brand ? { brand } : {}) };
    }
    const spaced = userinfo.replace(/[._+~:-]+/g, ' ');
    if (!accountWords.test(spaced)) continue;
    const named = brandsIn(spaced, brands).find((n) => !ownsHost(n.brand, t.host, t.domain));
    if (named) return { userinfo, brand: named.brand };
  }
  return undefined;
}

function checkTarget(
  t: Target,
  input: LinkInput,
  brands: BrandIndex,
  add: (s: Omit<Signal, 'group'>) => void,
  hostSeen: boolean,
): void {
  const evidence = evidenceOf(t.href);
  const unwrapped = behind(t.via);
  const how = howResolved(t.link);
  // Every explanation below ends its first clause with this: how the link was read, and where it is.
  const via = { en: `${unwrapped.en}${how.en}`, ru: `${unwrapped.ru}${how.ru}` };
  const shownHost = unicodeHost(t.host);

  const posing = userinfoPose(t, input, brands);
  if (posing) {
    const shown = evidenceOf(posing.userinfo);
    add({
      name: 'lookalike-link',
      weight: 4,
      evidence,
      ...(posing.brand ? { categories: { [posing.brand.category]: 1 } } : {}),
      explanation: {
        en: `A link's address begins with ${shown}, but it really goes to ${shownHost}${via.en}: what stands before the "@" is only a user name handed to that site.`,
        ru: `Адрес ссылки начинается с ${shown}, но на самом деле она ведёт на ${shownHost}${via.ru}: всё, что стоит до «@», — лишь имя пользователя для этого сайта.`,
      },
    });
  }

  const ip = ipLiteral(t.url, t.href);
  if (ip) {
    // The address is said once, but the text of every link to it is compared: a harmless-looking "click
    // here" to it first must not hide a second link to it that shows a bank's domain.
    const written = ip.written !== ip.ip ? ` (written as ${ip.written})` : '';
    const zapis = ip.written !== ip.ip ? ` (записан как ${ip.written})` : '';
    if (!hostSeen) {
      add({
        name: 'ip-literal-link',
        weight: 2.5,
        evidence,
        explanation: {
          en: `A link goes to the bare IP address ${ip.ip}${written} instead of a domain name${via.en}; real services link by name.`,
          ru: `Ссылка ведёт на IP-адрес ${ip.ip}${zapis}, а не на доменное имя${via.ru}; настоящие сервисы так не делают.`,
        },
      });
    }
    // An address has no domain to compare; whatever domain the link text shows, it is not where it goes.
    const shownText = textsOf(t.link)
      .map(domainShownIn)
      .find((d) => d !== undefined);
    if (shownText && !senderOwns(shownText, input)) {
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

  const ownLookalike =
    t.domain && !hostSeen ? lookalikeOf(t.domain, input.protectedDomains, linkDomainSubject) : undefined;
  const brandFake = ownLookalike || !t.domain || hostSeen ? undefined : brandLookalike(t.domain, brands.domains);
  const fake = ownLookalike ?? brandFake;
  const imitated = brandFake && brands.byDomain.get(domainToASCII(brandFake.protected) || brandFake.protected);
  if (fake) {
    add({
      name: 'lookalike-link',
      // A brand's name plus a word (outlooksecure.com) is also how real sites were named, and a brand's
      // name under another TLD (tbank.com, sberbank.org) is often its own defensive registration; letters
      // swapped for look-alikes, or our own name imitated, are not.
      weight: brandFake && (brandFake.kind === 'added-word' || brandFake.kind === 'tld-swap') ? 2.5 : 4,
      evidence,
      ...(imitated ? { categories: { [imitated.category]: 1 } } : {}),
      explanation: {
        en: `A link goes to ${shownHost}${via.en}. ${fake.explanation.en}`,
        ru: `Ссылка ведёт на ${shownHost}${via.ru}. ${fake.explanation.ru}`,
      },
    });
  } else {
    const disguise = hostSeen
      ? undefined
      : disguisedAs(t.host, t.domain, joinedDomains(input.protectedDomains, brands.domains));
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

  // A domain written in plain text is a link only by the mail reader's grace, and often just a name
  // ("see bit.ly", "forms.office.com"): only whom it imitates counts, above.
  if (t.link.bare) return;

  // The link is judged as drawn, and as drawn otherwise (Link.otherwise): what either shows counts. A
  // domain shown in either is judged by the mismatch alone, not again as a brand's name in the other.
  const texts = textsOf(t.link);
  const showsDomain = texts.some((text) => domainShownIn(text) !== undefined);
  for (const text of texts) checkText({ ...t, link: { ...t.link, text } }, input, brands, add, via, showsDomain);

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

/** The texts a link is judged by: as drawn, and as drawn otherwise when that differs (Link.otherwise). */
function textsOf(link: Link): string[] {
  return link.otherwise === undefined ? [link.text] : [link.text, link.otherwise];
}

/** What one text of a link shows, compared with where the link goes: a domain, or a brand's name. */
function checkText(
  t: Target,
  input: LinkInput,
  brands: BrandIndex,
  add: (s: Omit<Signal, 'group'>) => void,
  via: Explanation,
  showsDomain: boolean,
): void {
  const evidence = evidenceOf(t.href);
  const shownHost = unicodeHost(t.host);
  const shown = domainShownIn(t.link.text);
  // A URL or domain as link text is judged by the mismatch alone, not again as a brand's name.
  const { named, label } = showsDomain ? { named: [], label: '' } : brandsNamed(t.link, brands);
  const claimed = named.find((n) => !ownsHost(n.brand, t.host, t.domain));

  // The browser goes to the link's own host (known redirectors were unwrapped above). A URL of the shown
  // site carried inside the link (?destUrl=http%3A%2F%2Fwww.buy.com, or ?ref=https://www.paypal.com/ added
  // to look like one) is only where that host may choose to send the reader: like an opaque click tracker,
  // it leaves the final page unseen, so a mismatch through it counts for less, never for nothing.
  const carried = embeddedHosts(t.href).map((host) => ({ host, domain: registrableDomain(host) }));
  const passedOn = carried.find(
    (c) => (shown !== undefined && c.domain === shown) || (claimed && ownsHost(claimed.brand, c.host, c.domain)),
  );
  const tracker = passedOn !== undefined || (carried.length === 0 && isClickTracker(t.url));
  const viaTracker = passedOn
    ? {
        en: ` (it passes on a link to ${unicodeHost(passedOn.domain)}, but where it really leads is up to ${shownHost})`,
        ru: ` (в ней передаётся ссылка на ${unicodeHost(passedOn.domain)}, но куда она приведёт на самом деле, решает ${shownHost})`,
      }
    : tracker
      ? {
          en: ' (a click-tracking address, so where it finally leads cannot be seen)',
          ru: ' (это адрес для подсчёта переходов, конечная цель не видна)',
        }
      : { en: '', ru: '' };

  if (shown && t.domain && shown !== t.domain && !senderOwns(shown, input)) {
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
}
