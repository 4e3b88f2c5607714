/**
 * The phishing detector (issue 8): every signal group over one parsed message, added into a score
 * and a category (the mask the message wears). Deterministic and explainable: the same message and
 * settings always give the same signals, each with its reason in English and Russian.
 */
import type { ParsedMessage } from '../../mime/message.ts';
import { attachmentSignals } from './attachments/attachment-signals.ts';
import { pdfBudget, readPdf } from './attachments/pdf-content.ts';
import { type AuthenticationSummary, authenticationSignals } from './authentication-signals.ts';
import type { Brand } from './brands.ts';
import { isFreeMail } from './free-mail.ts';
import { languageSignals } from './language/language-signals.ts';
import { linkSignals } from './links/link-signals.ts';
import { joinedDomains } from './lookalike.ts';
import { organisationOf, type ProtectedPerson, senderSignals } from './sender-signals.ts';
import { CATEGORIES, type Category, type Signal } from './signal.ts';

export interface PhishingSettings {
  /** The organisation's domains: local domains and `filter.phishing.protectedDomains`. */
  protectedDomains: readonly string[];
  partnerDomains: readonly string[];
  brands: readonly Brand[];
  people: readonly ProtectedPerson[];
  /** Sender addresses or domains whose mail is never scored (when DMARC does not fail). */
  allowlist: readonly string[];
}

export interface PhishingInput {
  message: ParsedMessage;
  envelopeFrom?: string;
  authentication?: AuthenticationSummary;
  /** Messages seen before from the From address; undefined when unknown. */
  previousMessages?: number;
}

export interface PhishingReport {
  /** Sum of the signal weights, rounded to one decimal. */
  score: number;
  category: Category;
  signals: Signal[];
  /** Set when the allow-list exempted the message. */
  allowlisted?: string;
}

export async function detectPhishing(input: PhishingInput, settings: PhishingSettings): Promise<PhishingReport> {
  const { message } = input;
  const from = message.from[0]?.address ?? '';
  const fromOrg = from === '' ? '' : organisationOf(from);
  const allowed = allowlisted(from, fromOrg, settings.allowlist);
  // An allow-listed domain that fails DMARC is a forgery of it, not the partner: scored as usual.
  if (allowed && input.authentication?.dmarc !== 'fail') {
    return { score: 0, category: 'generic', signals: [], allowlisted: allowed };
  }
  const body = message.text !== '' ? message.text : htmlText(message.html);
  // A PDF that carries the lure (a page of text and a link) is read like the body: its words and links count.
  const budget = pdfBudget(); // shared by the message's PDFs
  const pdfs = message.attachments
    .map((a) => readPdf(a.content, budget))
    .filter((p) => p.text !== '' || p.links.length > 0);
  const pdfText = pdfs.map((p) => [p.text, ...p.links].join('\n')).join('\n');
  const text = pdfText === '' ? body : `${body}\n${pdfText}`;
  const signals = [
    ...senderSignals({
      message,
      ...(input.envelopeFrom !== undefined ? { envelopeFrom: input.envelopeFrom } : {}),
      protectedDomains: settings.protectedDomains,
      partnerDomains: settings.partnerDomains,
      brands: settings.brands,
      people: settings.people,
      ...(input.previousMessages !== undefined ? { previousMessages: input.previousMessages } : {}),
      ...(input.authentication?.dmarc !== undefined ? { dmarc: input.authentication.dmarc } : {}),
    }),
    ...authenticationSignals(input.authentication),
    ...linkSignals({
      html: message.html,
      text: pdfText === '' ? message.text : `${message.text}\n${pdfText}`,
      senderDomain: fromOrg,
      protectedDomains: joinedDomains(settings.protectedDomains, settings.partnerDomains),
      brands: settings.brands,
    }),
    ...languageSignals({ subject: message.subject, text, fromName: message.from[0]?.name ?? '' }),
    ...(await attachmentSignals({ attachments: message.attachments, text, subject: message.subject })),
  ];
  const ask = freeMailAsk(from, signals);
  if (ask) signals.push(ask);
  const secret = secretRequest(signals);
  if (secret) signals.push(secret);
  const score = Math.round(signals.reduce((sum, s) => sum + s.weight, 0) * 10) / 10;
  return { score, category: categoryOf(signals), signals };
}

/** What a stranger's message asks for that honest mail from a free mailbox rarely does. */
const ASKS = new Set([
  'payment-request',
  'credential-request',
  'gift-cards',
  'plea-for-help',
  'compromise-threat',
  'dating-lure',
]);

/**
 * Money, credentials or help asked for from a free mailbox: the "Mum, it's me, new number" plea, the
 * CEO's "quick favour" and most sextortion come this way, with no link or attachment to catch.
 */
function freeMailAsk(from: string, signals: readonly Signal[]): Signal | undefined {
  if (!isFreeMail(from)) return undefined;
  const fromOrg = from.slice(from.lastIndexOf('@') + 1);
  const asks = signals.filter((s) => ASKS.has(s.name));
  if (asks.length === 0) return undefined;
  return {
    name: 'ask-from-free-mail',
    group: 'sender',
    weight: 2,
    evidence: asks.map((s) => s.name).join(', '),
    categories: Object.assign({}, ...asks.map((s) => s.categories ?? {})),
    explanation: {
      en: `A stranger's kind of request (money, passwords, help, a relationship, or a threat) comes from a free mailbox (${fromOrg}): check with the person by another channel.`,
      ru: `Просьба, какие пишут чужие (деньги, пароли, помощь, знакомство или угроза), пришла с бесплатного ящика (${fromOrg}): уточните у человека по другому каналу связи.`,
    },
  };
}

/** What secrecy is asked to cover: money, credentials, help, a windfall. */
const COVERED = new Set(['payment-request', 'credential-request', 'gift-cards', 'plea-for-help', 'prize-lure']);

/**
 * "Keep this between us" around a request for money or credentials: the hallmark of business email
 * compromise and advance-fee fraud; honest requests for payment are not secret from colleagues.
 */
function secretRequest(signals: readonly Signal[]): Signal | undefined {
  if (!signals.some((s) => s.name === 'secrecy')) return undefined;
  const covered = signals.filter((s) => COVERED.has(s.name));
  if (covered.length === 0) return undefined;
  return {
    name: 'secret-request',
    group: 'language',
    weight: 1.5,
    evidence: covered.map((s) => s.name).join(', '),
    categories: { executive: 0.5, plea: 0.5 },
    explanation: {
      en: 'The message asks for money, credentials or help and to keep it secret: genuine requests do not need to be hidden from colleagues.',
      ru: 'Письмо просит денег, данных или помощи и при этом просит держать это в тайне: настоящим просьбам не нужно скрываться от коллег.',
    },
  };
}

function allowlisted(from: string, fromOrg: string, allowlist: readonly string[]): string | undefined {
  for (const entry of allowlist) {
    const e = entry.toLowerCase();
    if (e.includes('@') ? e === from : e === fromOrg || e === from.slice(from.lastIndexOf('@') + 1)) return entry;
  }
  return undefined;
}

/** The mask with the most weight behind it: each signal's hints, scaled by its weight. */
export function categoryOf(signals: readonly Signal[]): Category {
  const votes = new Map<Category, number>();
  for (const s of signals) {
    for (const [category, strength] of Object.entries(s.categories ?? {})) {
      votes.set(category as Category, (votes.get(category as Category) ?? 0) + (strength ?? 0) * s.weight);
    }
  }
  let best: Category = 'generic';
  let most = 0;
  for (const category of CATEGORIES) {
    const v = votes.get(category) ?? 0;
    if (v > most) [best, most] = [category, v];
  }
  return best;
}

/** Visible text of an HTML body, for the language signals when there is no text part. Linear time. */
function htmlText(html: string): string {
  if (html === '') return '';
  const source = html.slice(0, 256 * 1024);
  const lower = source.toLowerCase();
  let visible = '';
  let at = 0;
  // Script and style content is not text; an unclosed block hides the rest, as in a browser.
  for (;;) {
    const open = /<(script|style)\b/g;
    open.lastIndex = at;
    const m = open.exec(lower);
    if (!m) break;
    visible += source.slice(at, m.index);
    const close = lower.indexOf(`</${m[1]}`, m.index);
    if (close < 0) {
      at = source.length;
      break;
    }
    at = close + m[1]!.length + 2;
  }
  visible += source.slice(at);
  return visible
    .replace(/<[^<>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&amp;/gi, '&')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&#(\d{1,7});/g, (_, n: string) => String.fromCodePoint(Math.min(Number(n), 0x10ffff)))
    .replace(/\s+/g, ' ');
}
