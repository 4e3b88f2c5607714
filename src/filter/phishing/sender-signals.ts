/**
 * The "Sender" signals of the phishing detector (issue 8): who the message says it is from against
 * who really sent it — lookalike domains, display names that carry another address, a brand or a
 * protected person's name, a Reply-To elsewhere, a sender never seen before, the envelope.
 */
import { domainToUnicode } from 'node:url';
import { getDomain } from 'tldts';
import type { MessageAddress, ParsedMessage } from '../../mime/message.ts';
import type { Brand } from './brands.ts';
import { isFreeMail } from './free-mail.ts';
import { joinedDomains, type Lookalike, lookalikeOf } from './lookalike.ts';
import type { Category, Signal } from './signal.ts';

/** A protected person (executive, VIP): the names people know them by and their real addresses. */
export interface ProtectedPerson {
  names: string[];
  addresses: string[];
}

export interface SenderInput {
  message: ParsedMessage;
  /** MAIL FROM ('' for the null sender; undefined when unknown, e.g. `postern scan`). */
  envelopeFrom?: string;
  /** The organisation's domains (the local domains plus configured ones). */
  protectedDomains: readonly string[];
  /** Partners and frequent correspondents whose lookalikes are suspicious too. */
  partnerDomains: readonly string[];
  brands: readonly Brand[];
  people: readonly ProtectedPerson[];
  /** Messages seen before from this From address (undefined when unknown). */
  previousMessages?: number;
  /** DMARC result for the From domain, when authentication ran. */
  dmarc?: string;
}

/** Registrable domain (organisational domain) of an address or host, lower case; '' when none. */
export function organisationOf(addressOrHost: string): string {
  return memo(organisations, addressOrHost, () => {
    const host = addressOrHost.slice(addressOrHost.lastIndexOf('@') + 1).toLowerCase();
    return getDomain(host) ?? host;
  });
}

// Every message compares its sender with the same few hundred brand names and domains: remember them.
const organisations = new Map<string, string>();
const normalNames = new Map<string, string>();
function memo(cache: Map<string, string>, key: string, compute: () => string): string {
  let value = cache.get(key);
  if (value === undefined) {
    if (cache.size >= 20_000) cache.clear();
    value = compute();
    cache.set(key, value);
  }
  return value;
}

export function senderSignals(input: SenderInput): Signal[] {
  const { message } = input;
  const signals: Signal[] = [];
  const from = message.from[0];
  if (!from || from.address === '') return signals;
  const fromOrg = organisationOf(from.address);
  const ours = new Set(input.protectedDomains.map(organisationOf));

  const claimed = from.name === '' ? undefined : brandNamedIn(from.name.normalize('NFKC'), input.brands);
  const lookalike = senderLookalike(fromOrg, input, claimed);
  if (lookalike) signals.push(lookalike);

  if (ours.has(fromOrg) && input.dmarc !== undefined && input.dmarc !== 'pass') {
    // Our own domain in From without DMARC pass: someone outside wrote it (RFC 7489 §3.1 alignment).
    signals.push({
      name: 'own-domain-spoof',
      group: 'sender',
      weight: 5,
      evidence: from.address,
      categories: { executive: 0.5, password: 0.5 },
      explanation: {
        en: `The message claims to be from ${from.address}, an address of our own organisation, but it did not pass DMARC (${input.dmarc}): it was not sent by our servers.`,
        ru: `Письмо выдаёт себя за отправленное с ${from.address} — адреса нашей организации, но не прошло проверку DMARC (${input.dmarc}): его отправили не наши серверы.`,
      },
    });
  }

  signals.push(...displayNameSignals(from, fromOrg, input));

  // RFC 2369 / RFC 2919: a mailing list sends with its own envelope and often its own Reply-To.
  const list = message.headers.some(
    (h) => h.name === 'list-id' || h.name === 'list-unsubscribe' || h.name === 'list-post',
  );
  const replyTo = list
    ? undefined
    : message.replyTo.find((r) => r.address !== '' && organisationOf(r.address) !== fromOrg);
  if (replyTo) {
    const free = isFreeMail(replyTo.address) && !isFreeMail(from.address);
    signals.push({
      name: free ? 'reply-to-free-mail' : 'reply-to-elsewhere',
      group: 'sender',
      // Mail services often route replies elsewhere; a free mailbox there is what a fraudster needs.
      weight: free ? 2.5 : 0.5,
      evidence: replyTo.address,
      categories: free ? { executive: 0.5 } : {},
      explanation: free
        ? {
            en: `Replies would go to ${replyTo.address}, a free mailbox, not to the sender ${from.address}.`,
            ru: `Ответ уйдёт на ${replyTo.address} — бесплатный почтовый ящик, а не отправителю ${from.address}.`,
          }
        : {
            en: `Replies would go to ${replyTo.address}, another domain than the sender's (${fromOrg}).`,
            ru: `Ответ уйдёт на ${replyTo.address} — в другой домен, чем у отправителя (${fromOrg}).`,
          },
    });
  }

  if (input.previousMessages === 0 && !ours.has(fromOrg)) {
    signals.push({
      name: 'first-contact',
      group: 'sender',
      weight: 1,
      evidence: from.address,
      explanation: {
        en: `This is the first message from ${from.address} to our organisation.`,
        ru: `Это первое письмо от ${from.address} в нашу организацию.`,
      },
    });
  }

  const envelope = input.envelopeFrom;
  if (envelope && !list && input.dmarc !== 'pass' && organisationOf(envelope) !== fromOrg) {
    // Mailing lists and mail services differ here legitimately; only without DMARC pass is it a hint.
    signals.push({
      name: 'envelope-mismatch',
      group: 'sender',
      weight: 0.5,
      evidence: envelope,
      explanation: {
        en: `The envelope sender (${envelope}) is another domain than the From address (${from.address}).`,
        ru: `Отправитель в конверте (${envelope}) из другого домена, чем адрес в поле From (${from.address}).`,
      },
    });
  }
  return signals;
}

/** A brand label this short collides with ordinary words under one edit (visa/vista, chase/chaser). */
const SHORT_BRAND_LABEL = 5;

function senderLookalike(fromOrg: string, input: SenderInput, claimed: Brand | undefined): Signal | undefined {
  const ownAndPartners = joinedDomains(input.protectedDomains, input.partnerDomains);
  const own = lookalikeOf(fromOrg, ownAndPartners);
  if (own) {
    const partner = !input.protectedDomains.some((d) => organisationOf(d) === organisationOf(own.protected));
    return lookalikeSignal(own, partner ? { executive: 0.5 } : { executive: 0.5, password: 0.5 });
  }
  const index = brandIndex(input.brands);
  if (index.byOrganisation.has(fromOrg)) return undefined;
  const found = lookalikeOf(fromOrg, index.domains);
  const brand = found && index.byDomain.get(found.protected);
  if (found && brand && (brand === claimed || strongEnoughForBrand(found, fromOrg))) return brandSignal(found, brand);
  // A short name inside a domain is chance (helpdesk-mail), unless the display name claims that brand too.
  const forClaimed = claimed && brand !== claimed ? lookalikeOf(fromOrg, claimed.domains) : undefined;
  return forClaimed ? brandSignal(forClaimed, claimed!) : undefined;
}

function brandSignal(found: Lookalike, brand: Brand): Signal {
  return lookalikeSignal(found, { [brand.category]: 1 }, found.kind === 'added-word' ? 2.5 : undefined);
}

/** A brand list by organisational domain and by domain as lookalikeOf names it, built once per list. */
interface BrandIndex {
  byOrganisation: Map<string, Brand>;
  byDomain: Map<string, Brand>;
  domains: readonly string[];
}
const brandIndexes = new WeakMap<readonly Brand[], BrandIndex>();

function brandIndex(brands: readonly Brand[]): BrandIndex {
  let index = brandIndexes.get(brands);
  if (!index) {
    index = { byOrganisation: new Map(), byDomain: new Map(), domains: brands.flatMap((b) => b.domains) };
    for (const brand of brands) {
      for (const d of brand.domains) {
        if (!index.byOrganisation.has(organisationOf(d))) index.byOrganisation.set(organisationOf(d), brand);
        const unicode = domainToUnicode(organisationOf(d)) || organisationOf(d);
        if (!index.byDomain.has(unicode)) index.byDomain.set(unicode, brand);
      }
    }
    brandIndexes.set(brands, index);
  }
  return index;
}

function strongEnoughForBrand(found: Lookalike, fromOrg: string): boolean {
  const dot = found.protected.indexOf('.');
  const label = found.protected.slice(0, dot);
  // A brand's other country domains are real (apple.fr): a swapped TLD alone is no lookalike of a brand.
  if (found.kind === 'tld-swap') return false;
  // Short labels (mail, visa, ozon) sit inside and next to many innocent names (helpdesk-mail, vista).
  if (['substitution', 'insertion', 'deletion', 'transposition', 'added-word'].includes(found.kind)) {
    if ([...label].length < SHORT_BRAND_LABEL) return false;
  }
  // One letter off under another suffix is mostly another word (analog.com is not nalog.ru).
  if (['substitution', 'insertion', 'deletion', 'transposition'].includes(found.kind)) {
    return fromOrg.endsWith(found.protected.slice(dot));
  }
  return true;
}

function lookalikeSignal(found: Lookalike, categories: Signal['categories'], weight?: number): Signal {
  return {
    name: 'lookalike-sender',
    group: 'sender',
    weight: weight ?? (found.kind === 'added-word' || found.kind === 'tld-swap' ? 3.5 : 4.5),
    evidence: found.protected,
    categories,
    explanation: found.explanation,
  };
}

const EMAIL_IN_NAME = /[\p{L}\p{N}._%+-]+@([\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+)/u;
const DOMAIN_IN_NAME =
  /(?:^|[\s"'(<[])((?:[\p{L}\p{N}-]+\.)+(?:com|net|org|ru|рф|su|info|biz|io|co|me|gov|edu|uk|de|us))\b/iu;

function displayNameSignals(from: MessageAddress, fromOrg: string, input: SenderInput): Signal[] {
  const signals: Signal[] = [];
  const name = from.name.normalize('NFKC').trim();
  if (name === '') return signals;
  const named = namedDomain(name, input);
  if (named && organisationOf(named) !== fromOrg) {
    signals.push({
      name: 'display-name-address',
      group: 'sender',
      weight: 3,
      evidence: from.name,
      explanation: {
        en: `The sender's name shows "${named}", but the message comes from ${from.address}.`,
        ru: `В имени отправителя написано «${named}», но письмо пришло с адреса ${from.address}.`,
      },
    });
  }
  const person = personNamed(name, input.people);
  // "Anna Smirnova (via SharePoint Online)": services mail for people under their name, from their own domain.
  const service =
    input.dmarc !== 'fail' && !isFreeMail(from.address) && brandIndex(input.brands).byOrganisation.has(fromOrg);
  if (person && !service && !person.addresses.some((a) => a.toLowerCase() === from.address)) {
    signals.push({
      name: 'protected-person-impersonation',
      group: 'sender',
      weight: isFreeMail(from.address) ? 4.5 : 4,
      evidence: `${from.name} <${from.address}>`,
      categories: { executive: 1.5 },
      explanation: {
        en: `The sender calls themselves "${from.name}", one of the protected people of our organisation, but writes from ${from.address}, which is not their address.`,
        ru: `Отправитель называет себя «${from.name}» — это защищённое лицо нашей организации, но пишет с адреса ${from.address}, который ему не принадлежит.`,
      },
    });
  }
  const role = ROLES.find((r) => r.pattern.test(name));
  if (role && isFreeMail(from.address)) {
    signals.push({
      name: 'role-from-free-mail',
      group: 'sender',
      weight: 2.5,
      evidence: `${from.name} <${from.address}>`,
      categories: { [role.category]: 1 },
      explanation: {
        en: `The sender presents as "${from.name}", a department or office, but writes from a free mailbox (${fromOrg}) that anyone can open.`,
        ru: `Отправитель представляется как «${from.name}» — отдел или должность, но пишет с бесплатного ящика (${fromOrg}), который может завести кто угодно.`,
      },
    });
  }
  const brand = brandNamedIn(name, input.brands);
  if (brand && !brand.domains.some((d) => organisationOf(d) === fromOrg)) {
    signals.push({
      name: 'display-name-brand',
      group: 'sender',
      weight: 2.5,
      evidence: from.name,
      categories: { [brand.category]: 1 },
      explanation: {
        en: `The sender's name says "${from.name}", but the message comes from ${fromOrg}, not from a domain of ${brand.names[0]} (${brand.domains[0]}).`,
        ru: `В имени отправителя указано «${from.name}», но письмо пришло из домена ${fromOrg}, а не из домена ${brand.names[0]} (${brand.domains[0]}).`,
      },
    });
  }
  return signals;
}

/**
 * The domain a display name shows: an address in it always counts ("it@example.com" <x@evil.example>);
 * a bare domain only when it is ours, a partner's or a brand's — newsletters put their site in the name.
 */
function namedDomain(name: string, input: SenderInput): string | undefined {
  const address = EMAIL_IN_NAME.exec(name)?.[1];
  if (address) return address;
  const domain = DOMAIN_IN_NAME.exec(name)?.[1];
  if (!domain) return undefined;
  const org = organisationOf(domain);
  const known = [...input.protectedDomains, ...input.partnerDomains, ...input.brands.flatMap((b) => b.domains)];
  return known.some((d) => organisationOf(d) === org) ? domain : undefined;
}

/** Departments and offices that write from the organisation's own domain, never from free mail. */
const ROLES: { pattern: RegExp; category: Category }[] = [
  {
    pattern:
      /\b(it|helpdesk|help desk|service desk|support|tech support|administrator|admin|security|postmaster|webmaster|mail ?admin)\b|(техподдержк|поддержк|администратор|служба безопасности|служб[аы] информационн|ит[- ]отдел|отдел ит|сисадмин)/iu,
    category: 'password',
  },
  {
    pattern:
      /\b(ceo|cfo|director|managing director|president|chairman|accounting|accounts payable|payroll|finance|hr|human resources)\b|(генеральн|директор|руководител|бухгалтери|отдел кадров|финансов)/iu,
    category: 'executive',
  },
  { pattern: /\b(bank|banking|billing)\b|(банк|биллинг)/iu, category: 'bank' },
];

function normalName(s: string): string {
  return memo(normalNames, s, () =>
    s
      .normalize('NFKC')
      .toLowerCase()
      .replaceAll('ё', 'е')
      .replace(/[^\p{L}\p{N}]+/gu, ' ')
      .trim(),
  );
}

/** Each person's names as word lists, built once per list. */
const preparedPeople = new WeakMap<readonly ProtectedPerson[], { person: ProtectedPerson; words: string[] }[]>();

/** "Ivan Petrov" matches "Petrov Ivan", "IVAN PETROV (CEO)" and "Ivan Petrov via Gmail". */
function personNamed(shown: string, people: readonly ProtectedPerson[]): ProtectedPerson | undefined {
  if (people.length === 0) return undefined;
  let names = preparedPeople.get(people);
  if (!names) {
    names = people.flatMap((person) =>
      person.names.map((n) => ({ person, words: normalName(n).split(' ').filter(Boolean) })),
    );
    preparedPeople.set(people, names);
  }
  const got = new Set(normalName(shown).split(' '));
  return names.find(({ words }) => words.length > 0 && words.every((w) => got.has(w)))?.person;
}

/** A brand's names as the display-name check needs them, prepared once per brand list. */
type BrandName = { brand: Brand; needle: string; exactCase?: RegExp };
const preparedBrands = new WeakMap<readonly Brand[], BrandName[]>();

function brandNames(brands: readonly Brand[]): BrandName[] {
  let prepared = preparedBrands.get(brands);
  if (!prepared) {
    prepared = brands.flatMap((brand) =>
      brand.names.map((n) => {
        const needle = normalName(n);
        // Short brand names (UPS, VK, ВТБ) only in their own case, so "ups" in a sentence is not UPS.
        const exactCase =
          needle.length < 4 ? new RegExp(`(^|[^\\p{L}])${escapeRegExp(n)}($|[^\\p{L}])`, 'u') : undefined;
        return { brand, needle: ` ${needle} `, ...(exactCase ? { exactCase } : {}) };
      }),
    );
    preparedBrands.set(brands, prepared);
  }
  return prepared;
}

function brandNamedIn(name: string, brands: readonly Brand[]): Brand | undefined {
  const hay = ` ${normalName(name)} `;
  for (const b of brandNames(brands)) {
    if (b.needle !== '  ' && hay.includes(b.needle) && (!b.exactCase || b.exactCase.test(name))) return b.brand;
  }
  return undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
