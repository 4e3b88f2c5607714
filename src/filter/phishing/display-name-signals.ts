/**
 * Display-name signals (issue 8, "Sender"): a name that shows another address or a known domain, a
 * protected person's name from an address that is not theirs, a department writing from free mail,
 * a brand's name from a domain that is not the brand's.
 */
import type { MessageAddress } from '../../mime/message.ts';
import { BRAND_NAMES_THAT_ARE_WORDS, type Brand } from './brands.ts';
import { isFreeMail } from './free-mail.ts';
import {
  brandIndex,
  brandNamedIn,
  looseNameKey,
  nameKey,
  normalName,
  type ProtectedPerson,
  personNamed,
  sameOrganisation,
  shownForms,
} from './names.ts';
import type { Category, Signal } from './signal.ts';

export interface DisplayNameContext {
  protectedDomains: readonly string[];
  partnerDomains: readonly string[];
  brands: readonly Brand[];
  people: readonly ProtectedPerson[];
  dmarc?: string;
}

/** The character before "@" that makes it an address; the domain after it, label lengths bounded (RFC 1035 §2.3.4). */
const LOCAL_PART_END = /[\p{L}\p{N}._%+-]$/u;
const DOMAIN_AFTER_AT = /[\p{L}\p{N}-]{1,63}(?:\.[\p{L}\p{N}-]{1,63}){1,126}/uy;
const DOMAIN_IN_NAME =
  /(?:^|[\s"'(<[])((?:[\p{L}\p{N}-]+\.)+(?:com|net|org|ru|рф|su|info|biz|io|co|me|gov|edu|uk|de|us))\b/iu;

export function displayNameSignals(from: MessageAddress, fromOrg: string, input: DisplayNameContext): Signal[] {
  const signals: Signal[] = [];
  // Checked as the reader sees the name: zero-width characters, bidi overrides and ideographic dots
  // hide nothing (names.ts shownForms).
  const forms = shownForms(from.name);
  if (forms[0] === '') return signals;
  const named = firstOf(forms, (name) => namedDomain(name, input));
  if (named && !sameOrganisation(named, fromOrg)) {
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
  const person = firstOf(forms, (name) => personNamed(name, input.people));
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
  const role = ROLES.find((r) => forms.some((name) => r.pattern.test(name)));
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
  const brand = brandClaimed(from.name, input.brands);
  if (brand && !brand.domains.some((d) => sameOrganisation(d, fromOrg))) {
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
function namedDomain(name: string, input: DisplayNameContext): string | undefined {
  const address = addressDomainIn(name);
  if (address) return address;
  const domain = DOMAIN_IN_NAME.exec(name)?.[1];
  if (!domain) return undefined;
  const known = [...input.protectedDomains, ...input.partnerDomains, ...input.brands.flatMap((b) => b.domains)];
  return known.some((d) => sameOrganisation(d, domain)) ? domain : undefined;
}

/**
 * The domain of the first address in a name. Found from each "@" with bounded patterns, so that a name
 * of 200 KB without an address costs linear time (an unanchored /[…]+@…/ retried from every letter).
 */
function addressDomainIn(name: string): string | undefined {
  for (let at = name.indexOf('@'); at >= 0; at = name.indexOf('@', at + 1)) {
    if (!LOCAL_PART_END.test(name.slice(Math.max(0, at - 2), at))) continue;
    DOMAIN_AFTER_AT.lastIndex = at + 1;
    const domain = DOMAIN_AFTER_AT.exec(name)?.[0];
    if (domain) return domain;
  }
  return undefined;
}

/**
 * The brand a display name claims. A brand name that is an everyday word or a first name (brands.ts
 * BRAND_NAMES_THAT_ARE_WORDS) claims it only alone or among the words a service signs with ("Chase",
 * "Chase Bank", "Apple Support"); with any other word it is part of another name: a person ("Chase
 * Miller"), a firm ("Apple Tree Catering") or a trade ("VFS Global Visa Application Centre").
 */
function brandClaimedBy(name: string, brands: readonly Brand[]): Brand | undefined {
  const { others, words } = splitBrands(brands);
  const brand = brandNamedIn(name, others);
  if (brand) return originals.get(brand) ?? brand;
  if (words.length === 0) return undefined;
  const shown = nameKey(name).split(' ');
  // A display name is short; a longer one (a sentence, a pasted address list) claims no word-like brand.
  if (shown.length > MAX_NAME_WORDS) return undefined;
  // "AppIe Support" with a capital I (names.ts looseNameKey), when that key splits the name as nameKey does.
  const loose = looseNameKey(name).split(' ');
  const aligned = loose.length === shown.length;
  for (const { brand: b, key, looseKey } of words) {
    let at = shown.indexOf(key);
    if (at < 0 && aligned) at = loose.indexOf(looseKey);
    if (at >= 0 && shown.every((w, i) => i === at || SERVICE_WORDS.has(w))) return b;
  }
  return undefined;
}

const MAX_NAME_WORDS = 6;

/** Words a brand's own service signs its mail with, after or before its name. */
const SERVICE_WORDS: ReadonlySet<string> = new Set([
  ...['support', 'security', 'secure', 'bank', 'banking', 'team', 'account', 'accounts', 'customer', 'care'],
  ...['billing', 'payment', 'payments', 'pay', 'alert', 'alerts', 'notification', 'notifications', 'notice'],
  ...['id', 'help', 'online', 'official', 'store', 'card', 'cards', 'fraud', 'verification', 'update'],
  ...['updates', 'inc', 'com', 'no', 'reply', 'noreply', 'web', 'app', 'access', 'guard', 'music', 'tv', 'mail'],
  ...['поддержка', 'служба', 'безопасность', 'безопасности', 'банк', 'онлайн', 'уведомления', 'уведомление'],
]);

type SplitBrands = { others: readonly Brand[]; words: { brand: Brand; key: string; looseKey: string }[] };
const splits = new WeakMap<readonly Brand[], SplitBrands>();
/** The brand of each copy in SplitBrands.others that lost its word-like names. */
const originals = new WeakMap<Brand, Brand>();

/** The brand list without its word-like names, and those names apart; built once per list. */
function splitBrands(brands: readonly Brand[]): SplitBrands {
  let split = splits.get(brands);
  if (!split) {
    const others: Brand[] = [];
    const words: SplitBrands['words'] = [];
    for (const brand of brands) {
      const plain = brand.names.filter((n) => !BRAND_NAMES_THAT_ARE_WORDS.has(normalName(n)));
      for (const n of brand.names)
        if (!plain.includes(n)) words.push({ brand, key: nameKey(n), looseKey: looseNameKey(n) });
      if (plain.length === brand.names.length) others.push(brand);
      else if (plain.length > 0) {
        const copy = { ...brand, names: plain };
        originals.set(copy, brand);
        others.push(copy);
      }
    }
    split = { others, words };
    splits.set(brands, split);
  }
  return split;
}

/** The brand a display name claims, read in every form a reader may see it (names.ts shownForms). */
export function brandClaimed(name: string, brands: readonly Brand[]): Brand | undefined {
  return firstOf(shownForms(name), (form) => brandClaimedBy(form, brands));
}

function firstOf<T>(forms: readonly string[], find: (form: string) => T | undefined): T | undefined {
  for (const form of forms) {
    const found = find(form);
    if (found) return found;
  }
  return undefined;
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
