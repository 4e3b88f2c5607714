/**
 * Names as the sender checks compare them: organisational domains, display names, brands and
 * protected people, each prepared once per list and remembered, because every message is compared
 * with the same few hundred brand names and domains.
 */
import { domainToUnicode } from 'node:url';
import { getDomain } from 'tldts';
import type { Brand } from './brands.ts';

/** A protected person (executive, VIP): the names people know them by and their real addresses. */
export interface ProtectedPerson {
  names: string[];
  addresses: string[];
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

/** A brand list by organisational domain and by domain as lookalikeOf names it, built once per list. */
export interface BrandIndex {
  byOrganisation: Map<string, Brand>;
  byDomain: Map<string, Brand>;
  domains: readonly string[];
}
const brandIndexes = new WeakMap<readonly Brand[], BrandIndex>();

export function brandIndex(brands: readonly Brand[]): BrandIndex {
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

export function normalName(s: string): string {
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
export function personNamed(shown: string, people: readonly ProtectedPerson[]): ProtectedPerson | undefined {
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

export function brandNamedIn(name: string, brands: readonly Brand[]): Brand | undefined {
  const hay = ` ${normalName(name)} `;
  for (const b of brandNames(brands)) {
    if (b.needle !== '  ' && hay.includes(b.needle) && (!b.exactCase || b.exactCase.test(name))) return b.brand;
  }
  return undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
