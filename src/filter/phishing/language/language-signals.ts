/**
 * The "Language" signals of the phishing detector (issue 8): what the words of a message ask for and how
 * they press, in English and Russian. Looks at the subject and the first 4 KB of the text only (some
 * 600 words): phishing puts its ask up front, and the bound keeps the cost flat; 8 KB found no more
 * phishing in the evaluation corpus and flagged more ham (quoted threads, newsletters). A message with
 * both a plain and an HTML alternative has the first 4 KB of each read: the reader may be shown either.
 * Quoted text is skipped: a reply that quotes a scam to discuss it is not a scam. In plain text that is
 * the "> " lines, in HTML the <blockquote>s quoting earlier mail (the caller leaves them out: a ">" there
 * is only a character); not when (nearly) the whole message is quoted, or a phish would only need to
 * quote itself. Each signal
 * fires at most once, however many alternatives carry its phrase, with the first such phrase as evidence.
 * Weights are tuned so that language alone rarely passes 4 points on honest mail (SpamAssassin ham
 * corpus); the detector adds sender, link and attachment signals.
 */
import { type Brand, DEFAULT_BRANDS, MIXED_SCRIPT_TRADE_NAMES } from '../brands.ts';
import type { Explanation, Signal } from '../signal.ts';
import { english, englishTitles, type PhraseKey } from './lexicon-en.ts';
import { russian, russianTitles } from './lexicon-ru.ts';
import {
  compileLexicon,
  findPhrases,
  type PhraseMatch,
  phraseText,
  tokenize,
  type Words,
  writtenWord,
} from './match.ts';
import {
  foreignLetterGroups,
  isMixedScript,
  isSuspiciousMixedWord,
  type ScriptName,
  scriptNamesOf,
} from './mixed-script.ts';

/** How much of the text is read; the end is read too, only for a signature (authority check). */
const HEAD = 4 * 1024;
const TAIL = 2 * 1024;
/** Code units of the display name read for a title ("CEO", "Security Service"). */
const NAME = 1024;

type Reported = Exclude<PhraseKey, 'executive-claim' | 'bank-claim'>;
type Definition = {
  weight: number;
  categories?: Signal['categories'];
  explain: (evidence: string) => Explanation;
};

const definitions: Record<Reported, Definition> = {
  urgency: {
    weight: 1,
    explain: (e) => ({
      en: `The message rushes the reader ("${e}"): phishing applies time pressure so that people act before they think.`,
      ru: `Письмо торопит («${e}»): мошенники давят сроками, чтобы человек действовал, не успев подумать.`,
    }),
  },
  'credential-request': {
    weight: 2,
    categories: { password: 1, bank: 0.5 },
    explain: (e) => ({
      en: `The message asks to confirm, update or hand over login or card details ("${e}"); banks and IT teams do not ask for these by e-mail.`,
      ru: `Письмо просит подтвердить, обновить или сообщить данные для входа или карты («${e}»); банки и ИТ-службы не запрашивают их по почте.`,
    }),
  },
  'payment-request': {
    weight: 1.5,
    categories: { executive: 0.5, bank: 0.5 },
    explain: (e) => ({
      en: `The message asks for a payment or a money transfer ("${e}"); confirm such a request by phone with someone you know before paying.`,
      ru: `Письмо требует оплатить или перевести деньги («${e}»); прежде чем платить, проверьте просьбу по телефону у знакомого вам человека.`,
    }),
  },
  'gift-cards': {
    weight: 2,
    categories: { executive: 1 },
    explain: (e) => ({
      en: `The message talks about gift cards ("${e}"): asking to buy gift cards and send their codes is a favourite scam, often in a manager's name.`,
      ru: `В письме речь о подарочных картах («${e}»): просьба купить карты и прислать их коды — излюбленный приём мошенников, часто от имени руководителя.`,
    }),
  },
  threat: {
    weight: 1.5,
    categories: { bank: 0.5, password: 0.5 },
    explain: (e) => ({
      en: `The message threatens consequences ("${e}"), such as a blocked account, a fine or legal action, to frighten the reader into acting.`,
      ru: `Письмо грозит последствиями («${e}»): блокировкой, штрафом или судом, — чтобы напугать и заставить действовать.`,
    }),
  },
  'compromise-threat': {
    weight: 2.5,
    categories: { sextortion: 1 },
    explain: (e) => ({
      en: `The message claims that the reader's device or account was hacked or that they were filmed ("${e}"), as extortion mail does; such claims are almost always a bluff.`,
      ru: `Письмо утверждает, что устройство или аккаунт взломаны или что получателя сняли на видео («${e}»), как пишут вымогатели; почти всегда это блеф.`,
    }),
  },
  secrecy: {
    weight: 1.5,
    categories: { executive: 1 },
    explain: (e) => ({
      en: `The message asks for secrecy or says the sender cannot be reached ("${e}"), so that the reader checks the request with no one.`,
      ru: `Письмо просит сохранить всё в тайне или говорит, что отправитель недоступен («${e}»), — чтобы просьбу было не у кого проверить.`,
    }),
  },
  'plea-for-help': {
    weight: 1.5,
    categories: { plea: 1 },
    explain: (e) => ({
      en: `The message is an urgent plea for help or money ("${e}"); call the person on a number you already know before helping.`,
      ru: `Письмо срочно просит о помощи или деньгах («${e}»); прежде чем помогать, позвоните человеку по известному вам номеру.`,
    }),
  },
  'job-lure': {
    weight: 1,
    categories: { job: 1 },
    explain: (e) => ({
      en: `The message is about a job, a CV or an interview ("${e}"); fake vacancies and "CV" attachments are a common way to deliver malware.`,
      ru: `Письмо о работе, резюме или собеседовании («${e}»); поддельные вакансии и вложения с «резюме» — частый способ доставить вредоносную программу.`,
    }),
  },
  'dating-lure': {
    weight: 1.5,
    categories: { sextortion: 1 },
    explain: (e) => ({
      en: `The message reads like a dating approach ("${e}"), a common opening of scams and blackmail.`,
      ru: `Письмо похоже на предложение познакомиться («${e}»): так часто начинаются мошенничество и шантаж.`,
    }),
  },
  'prize-lure': {
    weight: 1.5,
    categories: { subscription: 0.5 },
    explain: (e) => ({
      en: `The message promises a prize, a refund or compensation ("${e}"); an unexpected windfall is bait for card details or a "fee".`,
      ru: `Письмо обещает выигрыш, возврат денег или компенсацию («${e}»); неожиданная выгода — приманка, чтобы выманить данные карты или «комиссию».`,
    }),
  },
  'subscription-lure': {
    weight: 1,
    categories: { subscription: 1 },
    explain: (e) => ({
      en: `The message reports a problem with a subscription, a payment or a delivery ("${e}"), a usual pretext to send the reader to a fake payment page.`,
      ru: `Письмо сообщает о проблеме с подпиской, платежом или доставкой («${e}») — обычный повод отправить получателя на поддельную страницу оплаты.`,
    }),
  },
};

const reported = Object.keys(definitions) as Reported[];
const lexicon = compileLexicon<PhraseKey>(english, russian);
const titles = compileLexicon(englishTitles, russianTitles);
// Secrecy phrases carry their own negation ("don't tell anyone"); the rest turn into advice after "never".
const negatable = new Set<PhraseKey>(reported.filter((k) => k !== 'secrecy'));

export function languageSignals(input: {
  subject: string;
  text: string;
  fromName: string;
  /**
   * The words of the message's other alternatives, which a reader may be shown instead of `text` (the
   * HTML part's, RFC 2046 §5.1.4): each is read to the same bound, so that a long plain part does not
   * push the HTML's words out of reach.
   */
  alternatives?: readonly string[];
  /** The brands whose own mixed-script names ("ЮMoney") are no disguise; the default list if not given. */
  brands?: readonly Brand[];
  /**
   * `text` is an HTML body's words (htmlTexts' `unquoted`), as `alternatives` always are: read whole,
   * since a line that starts with ">" there is what the reader sees, and its quotations are left out.
   */
  html?: boolean;
}): Signal[] {
  const readings = [input.text, ...(input.alternatives ?? [])];
  // A blank line between them, so that no phrase runs from one alternative into the next.
  const head = readings
    .map((text, i) => (i === 0 && input.html !== true ? withoutQuotes(text.slice(0, HEAD)) : text.slice(0, HEAD)))
    .join('\n\n');
  // The subject and the display name are bounded like the text: a folded Subject can carry megabytes,
  // and a lure is in its first words.
  const words = tokenize(`${input.subject.slice(0, HEAD)}\n\n${head}`);
  const found = findPhrases(words, lexicon, negatable);
  const signals: Signal[] = [];
  for (const name of reported) {
    const match = found.get(name);
    const card =
      name === 'payment-request' && match === undefined ? (cardNumberIn(head) ?? bitcoinAddressIn(head)) : undefined;
    if (match === undefined && card === undefined) continue;
    const { weight, categories, explain } = definitions[name];
    const evidence = card ?? phraseText(words, match!.first, match!.last);
    signals.push({ name, group: 'language', weight, explanation: explain(evidence), categories, evidence });
  }
  // Judged as read (a fullwidth letter is the Latin one it draws), quoted as written.
  const mixed = words.mixed.find((i) => {
    const w = words.text.slice(words.start[i], words.end[i]);
    return isSuspiciousMixedWord(w) && !isTradeName(w, tradeNames(input.brands ?? DEFAULT_BRANDS));
  });
  if (mixed !== undefined) {
    signals.push(mixedScriptSignal(words.text.slice(words.start[mixed], words.end[mixed]), writtenWord(words, mixed)));
  }
  const tails = readings.map((text) => (text.length > HEAD ? text.slice(-TAIL) : ''));
  const claim: Claim | undefined = authorityClaim(input.fromName.slice(0, NAME), found, words);
  if (claim !== undefined && !hasContactDetails([head, ...tails].join('\n'))) signals.push(authoritySignal(claim));
  return signals;
}

const tradeNameSets = new WeakMap<readonly Brand[], ReadonlySet<string>>();

/**
 * The words, in lower case, of brand names and known trade names that mix scripts as the brand writes
 * itself (ЮMoney, ЮKassa), built once per brand list. Exact letters only: ЮMоney with a Cyrillic о is
 * still a disguise.
 */
function tradeNames(brands: readonly Brand[]): ReadonlySet<string> {
  let names = tradeNameSets.get(brands);
  if (!names) {
    const all = [...MIXED_SCRIPT_TRADE_NAMES, ...brands.flatMap((b) => b.names)];
    const words = all.flatMap((n) => n.toLowerCase().split(/[^\p{L}\p{M}]+/u));
    names = new Set(words.filter((w) => isMixedScript(w)));
    tradeNameSets.set(brands, names);
  }
  return names;
}

/** A trade name, alone or with a case ending after an apostrophe ("ЮMoney'ю"). */
function isTradeName(word: string, names: ReadonlySet<string>): boolean {
  return word
    .toLowerCase()
    .split(/['’]/)
    .every((part) => names.has(part) || !isMixedScript(part));
}

/**
 * Drops the quoted lines of plain text (RFC 3676 §4.5 quote marks), keeping the line break so sentences
 * stay apart; unless they are (nearly) the whole text.
 */
function withoutQuotes(text: string): string {
  if (!text.includes('>')) return text;
  const own = text.replace(/^[ \t]*>.*$/gm, '');
  return quotedIsTheMessage(own) ? text : own;
}

/** Words a reply has of its own at least, the attribution line included ("Ivan Petrov wrote:"). */
const OWN_WORDS = 3;
const word = /[\p{L}\p{N}][\p{L}\p{M}\p{N}]*/gu;

/**
 * Whether the text left outside the quotation, `own`, is too little for a reply (fewer than OWN_WORDS
 * words as a reader sees them, invisible characters dropped): the quotation is then the message itself,
 * a phish dressed as a quote, and is read.
 */
export function quotedIsTheMessage(own: string): boolean {
  const head = own.slice(0, HEAD);
  // The first default-ignorable code point is U+00AD (soft hyphen): below it there is nothing to drop.
  const seen = /[^\x00-\xac]/.test(head) ? head.replace(/\p{Default_Ignorable_Code_Point}/gu, '') : head;
  word.lastIndex = 0;
  for (let count = 0; count < OWN_WORDS; count++) if (word.exec(seen) === null) return true;
  return false;
}

// The scripts' names in Russian: plural for "буквы", singular for one letter (буква is feminine).
const ruScripts: Record<ScriptName, { one: string; many: string }> = {
  Latin: { one: 'латинская', many: 'латинские' },
  Cyrillic: { one: 'кириллическая', many: 'кириллические' },
  Greek: { one: 'греческая', many: 'греческие' },
};

/** "a and b", "a, b and c". */
function listed(items: string[], and: string): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} ${and} ${items[items.length - 1]}`;
}

/** `word` as read (NFKC), for its scripts; `written` as the message has it, for the evidence. */
function mixedScriptSignal(word: string, written: string): Signal {
  const scripts = scriptNamesOf(word);
  const groups = foreignLetterGroups(word);
  const en = groups.map(({ letters, script }) => {
    const quoted = letters.map((l) => `'${l}'`).join(', ');
    return `${quoted} ${letters.length > 1 ? 'are' : 'is'} ${script}`;
  });
  const ru = groups.map(({ letters, script }) => {
    const quoted = letters.map((l) => `«${l}»`).join(', ');
    return `${quoted} — ${letters.length > 1 ? ruScripts[script].many : ruScripts[script].one}`;
  });
  const enScripts = listed(scripts, 'and');
  const ruMixed = listed(
    scripts.map((s) => ruScripts[s].many),
    'и',
  );
  return {
    name: 'mixed-script-word',
    group: 'language',
    weight: 2.5,
    evidence: written,
    explanation: {
      en: `The word "${written}" mixes ${enScripts} letters (${en.join('; ')}); ordinary text never does this — it hides words from filters or imitates a name.`,
      ru: `В слове «${written}» смешаны ${ruMixed} буквы (${ru.join('; ')}); в обычном тексте так не бывает: так прячут слова от фильтров или подделывают название.`,
    },
  };
}

const claimants: Record<'executive' | 'bank', { en: string; ru: string }> = {
  executive: { en: 'a company executive', ru: 'руководителя компании' },
  bank: { en: 'a bank or its security service', ru: 'банка или его службы безопасности' },
};

type Claim = { who: 'executive' | 'bank'; evidence: string };

/** The display name's title first ("Ivan Petrov, CEO"), then a claim in the text ("служба безопасности банка"). */
function authorityClaim(fromName: string, found: Map<PhraseKey, PhraseMatch>, words: Words) {
  const title = findPhrases(tokenize(fromName), titles);
  for (const who of ['executive', 'bank'] as const) if (title.has(who)) return { who, evidence: fromName.trim() };
  for (const who of ['executive', 'bank'] as const) {
    const m = found.get(`${who}-claim`);
    if (m !== undefined) return { who, evidence: phraseText(words, m.first, m.last) };
  }
  return undefined;
}

function authoritySignal({ who, evidence }: Claim): Signal {
  const { en, ru } = claimants[who];
  return {
    name: 'authority-claim-without-context',
    group: 'language',
    weight: 1,
    categories: who === 'bank' ? { bank: 1 } : { executive: 1 },
    evidence,
    explanation: {
      en: `The message claims to come from ${en} ("${evidence}") but has no signature, phone number or address, which genuine business mail usually carries.`,
      ru: `Письмо выдаёт себя за письмо ${ru} («${evidence}»), но в нём нет ни подписи, ни телефона, ни адреса, которые обычно есть в настоящей деловой переписке.`,
    },
  };
}

// A payment card number written out (ISO/IEC 7812: 16 digits in groups of four), as a plea gives the
// card to send money to; the Luhn check digit tells it from order, phone and tracking numbers.
const cardNumber = /(?<![\d.])(\d{4})[ -](\d{4})[ -](\d{4})[ -](\d{4})(?![\d.])/g;

function cardNumberIn(text: string): string | undefined {
  for (const m of text.matchAll(cardNumber)) {
    const digits = m.slice(1, 5).join('');
    if (luhn(digits)) return m[0];
  }
  return undefined;
}

// A Bitcoin address: legacy Base58Check (P2PKH "1…", P2SH "3…", 26–35 characters) or bech32 "bc1…"
// (BIP 173); sextortion ends with one.
const bitcoinAddress = /(?<![\w])(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|bc1[02-9ac-hj-np-z]{11,71})(?![\w])/;

function bitcoinAddressIn(text: string): string | undefined {
  const m = bitcoinAddress.exec(text);
  // Base58 text of that length with both cases and digits; plain words and numbers are not addresses.
  return m && /\d/.test(m[0]) && /[a-z]/.test(m[0]) && /[A-Z]/.test(m[0])
    ? m[0]
    : m?.[0].startsWith('bc1')
      ? m[0]
      : undefined;
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

// Seven or more digits in a row, allowing the separators phone numbers are written with.
const phone = /(?:\+|\b)\d(?:[ ()\-.]{0,2}\d){6,14}/;
const address =
  /\b(?:street|avenue|road|suite|floor|blvd|boulevard|p\.? ?o\.? box)\b|\b(?:st|ave|rd)\.\s|(?:^|[\s,])(?:ул\.|улица|пр-т|проспект|пер\.|переулок|шоссе|наб\.|офис|д\.\s?\d|г\.\s?[А-Я])/imu;
const closing =
  /^[ \t]*(?:(?:best|kind|warm|warmest|with) regards|regards|sincerely|yours (?:truly|faithfully|sincerely)|с уважением|с наилучшими пожеланиями|всего доброго|всего наилучшего)/gimu;
const nameAfter = /^[\s,.!:—-]*\p{Lu}/u;
// RFC 3676 §4.3: "-- " alone on a line starts a signature.
const signatureDelimiter = /^-- ?\r?$/m;

/** A phone number, an address line, a formal closing followed by a name, or a signature block. */
function hasContactDetails(text: string): boolean {
  if (phone.test(text) || address.test(text) || signatureDelimiter.test(text)) return true;
  for (const m of text.matchAll(closing)) {
    const after = text.slice(m.index + m[0].length, m.index + m[0].length + 80);
    if (nameAfter.test(after)) return true;
  }
  return false;
}
