/**
 * Lookalike domains (issue 8, "Sender" and "Links"): does a domain imitate one of the protected domains?
 * Compares registrable domains (Public Suffix List, via tldts): equal UTS #39 §4 skeletons in small or
 * in capital letters (homoglyphs, mixed scripts per §5.1, punycode A-labels per RFC 5891 §5.4 / RFC 3492),
 * one-letter edits (Damerau-Levenshtein distance 1), added words or hyphens, and swapped public suffixes.
 * Does not weigh the signal, nor look at display names, subdomain tricks (example.com.evil.net) or brands,
 * beyond leaving out the everyday words next to brands' names (brands.ts WORDS_NEAR_BRANDS).
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import { getDomain, getPublicSuffix } from 'tldts';
import { BRAND_PLATFORM_DOMAINS, WORDS_NEAR_BRANDS } from './brands.ts';
import { isSingleScript, skeleton } from './confusables.ts';
import {
  type Edit,
  type Explanation,
  explainAddedWord,
  explainConfusable,
  explainEdit,
  explainTldSwap,
  type Subject,
  type Swap,
  senderDomainSubject,
} from './lookalike-explanation.ts';

export type LookalikeKind =
  | 'homoglyph'
  | 'mixed-script'
  | 'substitution'
  | 'insertion'
  | 'deletion'
  | 'transposition'
  | 'added-word'
  | 'tld-swap'
  | 'punycode';

export type Lookalike = { protected: string; kind: LookalikeKind; explanation: Explanation };

/** A registrable domain split at its public suffix, in Unicode (U-label) form. */
type Registrable = {
  host: string; // whole host, ASCII (A-label) form
  domain: string; // registrable domain, Unicode
  ascii: string; // registrable domain, ASCII
  label: string; // the label left of the public suffix, Unicode
  suffix: string; // public suffix, Unicode
  skeleton: string; // UTS #39 §4 skeleton of label
  capitals: string; // UTS #39 §4 skeleton of label in capital letters
  unicode: boolean; // whether label has a non-ASCII character: only then are capitals compared (match())
  length: number; // of label, in code points
};

/** Labels at or under this length get no edit-distance or added-word match: too many innocent neighbours. */
const shortLabel = 3;

function registrable(name: string): Registrable | undefined {
  const lower = name.trim().toLowerCase().replace(/\.$/, '');
  // UTS #46 processing (as resolvers do); '' for a name IDNA refuses, which we then read as given.
  const host = domainToASCII(lower) || lower;
  const ascii = getDomain(host);
  const suffixAscii = getPublicSuffix(host);
  if (!ascii || !suffixAscii || ascii.length <= suffixAscii.length) return undefined;
  const domain = domainToUnicode(ascii) || ascii;
  const suffix = domainToUnicode(suffixAscii) || suffixAscii;
  const label = domain.slice(0, domain.length - suffix.length - 1);
  return {
    host,
    domain,
    ascii,
    label,
    suffix,
    skeleton: skeleton(label),
    capitals: skeleton(label.toUpperCase()),
    unicode: !/^[\x00-\x7f]*$/.test(label),
    length: [...label].length,
  };
}

// Parsing a name (IDNA both ways, the Public Suffix List, two skeletons) is the costly part of a check, and
// the same names come again and again: the protected lists with every message, a link's domain once for
// our domains and once for the brands, the same few sites in every newsletter. Bounded: emptied when full.
const cache = new Map<string, Registrable | undefined>();
function entryOf(name: string): Registrable | undefined {
  if (cache.has(name)) return cache.get(name);
  if (cache.size >= 10_000) cache.clear();
  const entry = registrable(name);
  cache.set(name, entry);
  return entry;
}

/** Pair up the stretches of two skeleton-equal strings that differ ('а'/'a', 'rn'/'m', '1'/'l', 'Ρ'/'P'). */
function swaps(got: string, want: string): Swap[] {
  const g = [...got];
  const w = [...want];
  const out: Swap[] = [];
  let [i, j, a, b, ka, kb] = [0, 0, '', '', '', ''];
  while (i < g.length || j < w.length) {
    if ((ka.length <= kb.length && i < g.length) || j >= w.length) {
      const ch = g[i++] ?? '';
      a += ch;
      ka += skeleton(ch);
    } else {
      const ch = w[j++] ?? '';
      b += ch;
      kb += skeleton(ch);
    }
    if (ka === kb) {
      if (a !== b) out.push({ got: a, want: b });
      [a, b, ka, kb] = ['', '', '', ''];
    }
  }
  return out;
}

/** Damerau-Levenshtein (optimal string alignment) distance exactly 1, with the edit that makes it so. */
function oneEdit(got: string, want: string): Edit | undefined {
  // Code points, not UTF-16 units; labels are almost always in the BMP, where the two agree and no
  // arrays need building (this runs for every brand on every message).
  const astral = /[\uD800-\uDFFF]/;
  const g: ArrayLike<string> & { slice(from: number): ArrayLike<string> | string } =
    astral.test(got) || astral.test(want) ? [...got] : got;
  const w: typeof g = g === got ? want : [...want];
  const rest = (x: typeof g, from: number) => {
    const tail = x.slice(from);
    return typeof tail === 'string' ? tail : Array.prototype.join.call(tail, '');
  };
  let i = 0;
  while (i < g.length && i < w.length && g[i] === w[i]) i++;
  if (g.length === w.length) {
    if (i === g.length) return undefined;
    if (rest(g, i + 1) === rest(w, i + 1)) return { kind: 'substitution', got: g[i] ?? '', want: w[i] ?? '' };
    if (g[i] === w[i + 1] && g[i + 1] === w[i] && rest(g, i + 2) === rest(w, i + 2)) {
      return { kind: 'transposition', got: `${g[i]}${g[i + 1]}`, want: `${w[i]}${w[i + 1]}` };
    }
    return undefined;
  }
  if (g.length === w.length + 1 && rest(g, i + 1) === rest(w, i)) return { kind: 'insertion', got: g[i] ?? '' };
  if (g.length + 1 === w.length && rest(g, i) === rest(w, i + 1)) return { kind: 'deletion', want: w[i] ?? '' };
  return undefined;
}

/**
 * The protected label with words or hyphens around it: example-support, secure-example, examplelogin,
 * and the name split by a hyphen (citi-bank-alerts for citibank). The name must stand apart: at an end of
 * the label, or next to a hyphen, a digit or words phishers glue to a name (GLUED_WORDS: paypalsecure,
 * myappleid). Inside or at the end of another word it is chance: pineapple, appleseed, googlegroups,
 * homeoffice. The words are cut from the label as written, not from its skeleton, where 'm' is "rn"
 * (yandex-team adds 'team', not 'tearn').
 */
function addedWords(sender: Registrable, target: Registrable): string[] | undefined {
  if (target.label.length <= shortLabel || !contains(sender, target)) return undefined;
  const letters = [...sender.label];
  // In capitals too (see match()): ΡΑΥΡΑL-SECURE adds a word to PAYPAL.
  for (const capitals of sender.unicode ? [false, true] : [false]) {
    const want = capitals ? target.capitals : target.skeleton;
    const parts = letters.map((ch) => skeleton(capitals ? ch.toUpperCase() : ch));
    for (const withoutHyphens of [false, true]) {
      const kept = letters.flatMap((ch, i) => (withoutHyphens && ch === '-' ? [] : [i]));
      const name = kept.map((i) => parts[i]).join('');
      if (name === want || (withoutHyphens && kept.length === letters.length)) continue;
      // Where each kept letter's skeleton starts and ends in `name`: a match must begin and end on them.
      const startsAt = new Map<number, number>();
      const endsAt = new Map<number, number>();
      let length = 0;
      for (const i of kept) {
        startsAt.set(length, i);
        length += parts[i]!.length;
        endsAt.set(length, i + 1);
      }
      for (let at = name.indexOf(want); at >= 0; at = name.indexOf(want, at + 1)) {
        const from = startsAt.get(at);
        const to = endsAt.get(at + want.length);
        if (from === undefined || to === undefined || !standsApart(letters, from, to)) continue;
        return wordsAround(letters, from, to);
      }
    }
  }
  return undefined;
}

/**
 * Words phishers glue to a brand's name with no hyphen (paypalsecure, amazonsupport, sberbankonline,
 * myaccount-apple): the added word is the lure, so it is one of these. Russian ones as transliterated in
 * domain names (lk for личный кабинет, oplata, vozvrat).
 */
const GLUED_WORDS = [
  ...['secure', 'security', 'safe', 'login', 'logon', 'signin', 'signon', 'auth', 'sso', 'mfa', 'password'],
  ...['account', 'accounts', 'acc', 'verify', 'verification', 'verified', 'confirm', 'confirmation', 'check'],
  ...['update', 'updates', 'unlock', 'unblock', 'recovery', 'recover', 'reset', 'restore', 'access'],
  ...['support', 'help', 'helpdesk', 'service', 'services', 'customer', 'client', 'care', 'team', 'official'],
  ...['billing', 'bill', 'payment', 'payments', 'pay', 'wallet', 'bank', 'banking', 'card', 'cards'],
  ...['refund', 'refunds', 'bonus', 'gift', 'gifts', 'prize', 'reward', 'rewards', 'promo', 'free'],
  ...['online', 'web', 'webmail', 'mail', 'email', 'id', 'my', 'app', 'apps', 'portal', 'cloud', 'docs'],
  ...['alert', 'alerts', 'info', 'notice', 'notification', 'notifications', 'center', 'centre', 'www'],
  ...['lk', 'kabinet', 'oplata', 'vyplata', 'vyplaty', 'vozvrat', 'podderzhka', 'vhod', 'dostup'],
].map((w) => skeleton(w));
const GLUED = new Set(GLUED_WORDS);
const LONGEST_GLUED = Math.max(...GLUED_WORDS.map((w) => w.length));

/** Whether letters[from..to) stands apart from the rest of the label (see addedWords). */
function standsApart(letters: readonly string[], from: number, to: number): boolean {
  const apart = (ch: string | undefined) => ch === undefined || ch === '-' || (ch >= '0' && ch <= '9');
  let start = from;
  while (!apart(letters[start - 1])) start--;
  let end = to;
  while (!apart(letters[end])) end++;
  return isGlued(letters.slice(start, from).join('')) && isGlued(letters.slice(to, end).join(''));
}

/** Whether `word` is empty or GLUED_WORDS run together ("securelogin"), compared by skeleton. Linear. */
function isGlued(word: string): boolean {
  if (word === '') return true;
  const sk = skeleton(word);
  const ends = [true]; // ends[i]: sk.slice(0, i) splits into glued words
  for (let i = 1; i <= sk.length; i++) {
    ends[i] = false;
    for (let j = Math.max(0, i - LONGEST_GLUED); j < i && !ends[i]; j++)
      ends[i] = ends[j]! && GLUED.has(sk.slice(j, i));
  }
  return ends[sk.length]!;
}

/** The words before `from` and from `to` on, without the hyphens that join them to the name. */
function wordsAround(letters: readonly string[], from: number, to: number): string[] {
  return [letters.slice(0, from).join(''), letters.slice(to).join('')]
    .map((w) => w.replace(/^-+|-+$/g, ''))
    .filter((w) => w !== '');
}

/** Whether the target's skeleton is inside the sender's, hyphens left out or not; in capitals too (match()). */
function contains(s: Registrable, t: Registrable): boolean {
  const inside = (name: string, wanted: string) =>
    name.includes(wanted) || (name.includes('-') && name.replaceAll('-', '').includes(wanted));
  return inside(s.skeleton, t.skeleton) || (s.unicode && inside(s.capitals, t.capitals));
}

/** 0 is the strongest match; lower ranks win when several protected domains match. */
function match(s: Registrable, t: Registrable, punycode: boolean, subject: Subject): [number, Lookalike] | undefined {
  // Every kind below needs equal skeletons, labels one edit apart, or the target inside the sender:
  // most pairs fail all three at a glance, and a message is checked against every brand.
  if (Math.abs(s.length - t.length) > 1 && !contains(s, t)) return undefined;
  const found = (kind: LookalikeKind, explanation: Explanation) => ({ protected: t.domain, kind, explanation });
  // UTS #39 §4 compares strings as written, and confusables.txt keeps case: Greek Ρ is P, but ρ is p, Υ is
  // Y but υ is u, Κ is K but κ is ĸ. A domain name has no case of its own (RFC 4343 §2; IDNA maps capitals
  // to small letters, UTS #46 §4), so it may be shown in capitals as well as in small letters: ραυραl.com
  // written ΡΑΥΡΑL.COM is PAYPAL.COM to the eye. Both forms are compared, each with itself. Not for an
  // ASCII name, which has nothing to hide in capitals: they differ from its small letters in I alone,
  // which the skeleton takes for l and 1, so ic.ac.uk would be 1c.ru.
  const inCapitals = s.unicode && s.skeleton !== t.skeleton && s.capitals === t.capitals;
  if (s.label !== t.label && (s.skeleton === t.skeleton || inCapitals)) {
    const pairs = inCapitals ? swaps(s.label.toUpperCase(), t.label.toUpperCase()) : swaps(s.label, t.label);
    const explain = (ascii?: string) =>
      explainConfusable(s.domain, t.domain, pairs, ascii, subject, inCapitals ? 'capitals' : 'as-written');
    if (punycode) return [0, found('punycode', explain(s.ascii))];
    const kind = isSingleScript(s.label) ? 'homoglyph' : 'mixed-script'; // UTS #39 §5.1
    return [0, found(kind, explain())];
  }
  if (s.label === t.label) {
    return [1, found('tld-swap', explainTldSwap(s.domain, t.domain, s.suffix, t.suffix, subject))];
  }
  if ([...s.label].length > shortLabel && [...t.label].length > shortLabel) {
    const edit = oneEdit(s.label, t.label);
    // A word one letter from a brand's name is a name of its own, whatever the suffix (cloud.ru, cloud.com
    // and cloud.microsoft are not icloud.com): see WORDS_NEAR_BRANDS. Nor is its extra letter an added word
    // (analog.com is not nalog.ru with an 'a' before it).
    if (edit && WORDS_NEAR_BRANDS.has(s.label)) return undefined;
    // Under the protected domain's own suffix an edit ranks first: amazom.de is amazon.de misspelt, not amazon.com.
    const rank = s.suffix === t.suffix ? 2 : 2.5;
    if (edit) return [rank, found(edit.kind, explainEdit(s.domain, t.domain, edit, subject))];
  }
  const added = addedWords(s, t);
  if (added) return [3, found('added-word', explainAddedWord(s.domain, t.domain, t.label, added, subject))];
  return undefined;
}

/** `a` and `b` as one list, the same array for the same two lists: preparedTargets() then finds it again. */
const joined = new WeakMap<readonly string[], WeakMap<readonly string[], readonly string[]>>();
export function joinedDomains(a: readonly string[], b: readonly string[]): readonly string[] {
  let inner = joined.get(a);
  if (!inner) {
    inner = new WeakMap();
    joined.set(a, inner);
  }
  let both = inner.get(b);
  if (!both) {
    both = [...a, ...b];
    inner.set(b, both);
  }
  return both;
}

// The same lists (our domains, each brand's) come with every message: keep them parsed, by identity.
const prepared = new WeakMap<readonly string[], Registrable[]>();
function preparedTargets(domains: readonly string[]): Registrable[] {
  let targets = prepared.get(domains);
  if (!targets) {
    targets = domains.map(entryOf).filter((t) => t !== undefined);
    prepared.set(domains, targets);
  }
  return targets;
}

/**
 * Whether `domain` (ASCII or Unicode) imitates one of `protectedDomains`. The protected domains themselves
 * and their subdomains are never lookalikes. `subject` names the domain in the explanation: the sender's
 * unless said otherwise (a link's, for links).
 */
export function lookalikeOf(
  domain: string,
  protectedDomains: readonly string[],
  subject: Subject = senderDomainSubject,
): Lookalike | undefined {
  // The answer depends on these three alone (a list is never changed once made, see preparedTargets()):
  // a link's domain is judged again in every message that links to it. Bounded like `cache`.
  let bySubject = results.get(protectedDomains);
  if (!bySubject) {
    bySubject = new WeakMap();
    results.set(protectedDomains, bySubject);
  }
  let known = bySubject.get(subject);
  if (!known) {
    known = new Map();
    bySubject.set(subject, known);
  }
  if (known.has(domain)) return known.get(domain);
  if (known.size >= 4_000) known.clear();
  const found = findLookalike(domain, protectedDomains, subject);
  known.set(domain, found);
  return found;
}

const results = new WeakMap<readonly string[], WeakMap<Subject, Map<string, Lookalike | undefined>>>();

function findLookalike(domain: string, protectedDomains: readonly string[], subject: Subject): Lookalike | undefined {
  const sender = entryOf(domain);
  // A brand's platform anyone publishes on (googlegroups.com) imitates nothing, though it holds a brand's name.
  if (sender === undefined || BRAND_PLATFORM_DOMAINS.has(sender.ascii)) return undefined;
  const targets = preparedTargets(protectedDomains);
  for (const t of targets) {
    if (sender.ascii === t.ascii || sender.host === t.host || sender.host.endsWith(`.${t.host}`)) return undefined;
  }
  // RFC 5891 §5.4: an A-label the user may see either way; flag it as punycode when it decodes to a lookalike.
  const punycode = sender.ascii.startsWith('xn--') && /(^|\.)xn--/i.test(domain);
  let best: [number, Lookalike] | undefined;
  for (const t of targets) {
    const m = match(sender, t, punycode, subject);
    if (m && (best === undefined || m[0] < best[0])) best = m;
  }
  return best?.[1];
}
