/**
 * The phishing detector (issue 8): every signal group over one parsed message, added into a score
 * and a category (the mask the message wears). Deterministic and explainable: the same message and
 * settings always give the same signals, each with its reason in English and Russian.
 */
import { domainToASCII } from 'node:url';
import { Parser } from 'htmlparser2';
import type { MessageAttachment, ParsedMessage } from '../../mime/message.ts';
import { attachmentSignals, isWebPage } from './attachments/attachment-signals.ts';
import { decodeHtml } from './attachments/html-content.ts';
import { pdfBudget, readPdf } from './attachments/pdf-content.ts';
import { type AuthenticationSummary, authenticationSignals } from './authentication-signals.ts';
import type { Brand } from './brands.ts';
import { attachedBudget, attachedMessages, shownName } from './embedded.ts';
import { isFreeMail } from './free-mail.ts';
import { DRAWN, type Drawn, drawnChild, inlineByStyle, isHidden, styleValue } from './hidden-style.ts';
import { htmlWithinBudget } from './html-budget.ts';
import { languageSignals, quotedIsTheMessage } from './language/language-signals.ts';
import { DEFAULT_LIMITS } from './links/extract.ts';
import { type AttachedBody, linkSignals } from './links/link-signals.ts';
import { joinedDomains } from './lookalike.ts';
import { organisationOf, type ProtectedPerson, senderSignals } from './sender-signals.ts';
import { CATEGORIES, type Category, type Signal } from './signal.ts';

export interface PhishingSettings {
  /** The organisation's domains: local domains and `filter.phishing.protectedDomains`. */
  protectedDomains: readonly string[];
  partnerDomains: readonly string[];
  brands: readonly Brand[];
  people: readonly ProtectedPerson[];
  /** Sender addresses or domains whose mail is not scored when its From domain is authenticated. */
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
  /**
   * Attached messages left unopened, past the MAX_ATTACHED_MESSAGES (embedded.ts) that the checks open;
   * absent when none were. Their attachments and links were not looked at.
   */
  unopenedAttachedMessages?: number;
}

export async function detectPhishing(input: PhishingInput, settings: PhishingSettings): Promise<PhishingReport> {
  const { message } = input;
  const from = message.from[0]?.address ?? '';
  const fromOrg = from === '' ? '' : organisationOf(from);
  const allowed = allowlisted(from, fromOrg, settings.allowlist);
  if (allowed && fromAuthenticated(input, from)) {
    return { score: 0, category: 'generic', signals: [], allowlisted: allowed };
  }
  // Readers show the last alternative they can display, the HTML one in practice (RFC 2046 §5.1.4), so
  // its words are read even when a plain one comes first: a lure there is what the reader sees.
  const html = htmlTexts(message.html);
  const shownHtml = html.shown;
  const body = message.text !== '' ? message.text : shownHtml;
  const alternatives = message.text !== '' && shownHtml !== '' ? [shownHtml] : [];
  // A PDF that carries the lure (a page of text and a link) is read like the body: its words and links count.
  const budget = pdfBudget(); // shared by the message's PDFs
  const pdfs = message.attachments
    .map((a) => readPdf(a.content, budget))
    .filter((p) => p.text !== '' || p.links.length > 0);
  const pdfText = pdfs.map((p) => [p.text, ...p.links].join('\n')).join('\n');
  const text = pdfText === '' ? body : `${body}\n${pdfText}`;
  // A phish forwarded as an attachment, or saved as an .eml file, is one click away: its links count.
  // The attachment checks open the same ones, within the same budget (embedded.ts). So is a web page
  // attached to the message or to those (htmlFiles).
  const opening = attachedBudget();
  const opened = attachedMessages(message.attachments, opening);
  const attached: AttachedBody[] = [
    ...opened.map(({ message: m, name }) => ({ html: m.html, text: m.text, name })),
    ...htmlFiles([
      { attachments: message.attachments, within: '' },
      ...opened.map(({ message: m, name }) => ({ attachments: m.attachments, within: `${name} → ` })),
    ]),
  ];
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
      ...(input.authentication ? { authentication: input.authentication } : {}),
    }),
    ...authenticationSignals(input.authentication),
    ...linkSignals({
      html: message.html,
      text: pdfText === '' ? message.text : `${message.text}\n${pdfText}`,
      senderDomain: fromOrg,
      // DMARC's result is for the domain it evaluated (RFC 7489 §3.1): it vouches for the From
      // organisation only when that is the same one.
      authenticatedSenderDomain:
        input.authentication?.dmarc === 'pass' && organisationOf(input.authentication.dmarcDomain ?? from) === fromOrg
          ? fromOrg
          : '',
      protectedDomains: joinedDomains(settings.protectedDomains, settings.partnerDomains),
      brands: settings.brands,
      attached,
    }),
    ...languageSignals({
      subject: message.subject,
      // Quotations are skipped: "> " lines in plain text (RFC 3676 §4.5), quoting <blockquote>s in HTML (left
      // out of html.unquoted), where a ">" is only a character.
      ...(message.text !== ''
        ? { text, alternatives: alternatives.length > 0 ? [html.unquoted] : [] }
        : { text: pdfText === '' ? html.unquoted : `${html.unquoted}\n${pdfText}`, html: true }),
      fromName: message.from[0]?.name ?? '',
      // A brand's own mixed-script name (ЮMoney) is its name, an admin's brands' too.
      brands: settings.brands,
    }),
    ...(await attachmentSignals({
      attachments: message.attachments,
      text: [text, ...alternatives].join('\n'),
      subject: message.subject,
      attached: opening,
    })),
  ];
  const ask = freeMailAsk(from, signals);
  if (ask) signals.push(ask);
  const secret = secretRequest(signals);
  if (secret) signals.push(secret);
  const score = Math.round(signals.reduce((sum, s) => sum + s.weight, 0) * 10) / 10;
  const unopened = opening.unopened > 0 ? { unopenedAttachedMessages: opening.unopened } : {};
  return { score, category: categoryOf(signals), signals, ...unopened };
}

/**
 * What of the HTML files attached to a message is decoded for their links: as much as the link extraction
 * may read of HTML (DEFAULT_LIMITS), at two bytes a character (UTF-16). The extraction's budget, shared
 * with the body, bounds what is parsed.
 */
const HTML_FILE_BYTES = 2 * DEFAULT_LIMITS.maxHtmlBytes;

/**
 * The web pages attached to a message and to the messages attached to it, decoded as the browser that
 * opens one decodes it (decodeHtml), the first HTML_FILE_BYTES of them together: "open the attached
 * invoice.html" puts its links one click away, as the message's own. A file is a web page as the
 * attachment checks tell it (attachment-signals.ts): by a name, else by its type or first bytes when it is
 * a file; not an inline part the reader shows as the text (alsoText), which the body already holds.
 */
function htmlFiles(holders: readonly { attachments: readonly MessageAttachment[]; within: string }[]): AttachedBody[] {
  const files: AttachedBody[] = [];
  let left = HTML_FILE_BYTES;
  for (const { attachments, within } of holders) {
    for (const a of attachments) {
      if (left <= 0) return files;
      if (!isWebPage(a)) continue;
      const bytes = a.content.subarray(0, left);
      left -= bytes.length;
      const name = shownName(a, within);
      for (const html of decodeHtml(bytes)) files.push({ html, text: '', name, file: true });
    }
  }
  return files;
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

/**
 * Whether the From domain is proven, for the allow-list to trust it: DMARC passed for it (RFC 7489 §3.1:
 * SPF or DKIM passed for a domain aligned with it); or, where DMARC gave no verdict (no record, or a
 * temporary or permanent error), SPF passed for a MAIL FROM in the From's organisational domain (relaxed
 * alignment, RFC 7489 §3.1.2). A forged partner proves neither and is scored as usual, DMARC record or
 * not. DKIM alone cannot stand in here: the summary does not say which domain a passing signature was for.
 * Without any authentication results (the checks are off) nothing can be proven, and the allow-list
 * applies as it always did: `serve` and `postern check` warn about that setup.
 */
function fromAuthenticated(input: PhishingInput, from: string): boolean {
  const { authentication, envelopeFrom = '' } = input;
  if (authentication === undefined) return true;
  const fromOrg = organisationOf(from);
  if (authentication.dmarc === 'pass') return organisationOf(authentication.dmarcDomain ?? from) === fromOrg;
  if (authentication.dmarc === 'fail') return false;
  return authentication.spf === 'pass' && envelopeFrom.includes('@') && organisationOf(envelopeFrom) === fromOrg;
}

function allowlisted(from: string, fromOrg: string, allowlist: readonly string[]): string | undefined {
  // A U-label and its A-label are one domain (RFC 5890 §2.3.2.1), in the list and in the From alike.
  const sender = asciiForm(from.toLowerCase());
  const domain = sender.slice(sender.lastIndexOf('@') + 1);
  const organisation = asciiForm(fromOrg);
  for (const entry of allowlist) {
    const e = asciiForm(entry.toLowerCase());
    if (e.includes('@') ? e === sender : e === organisation || e === domain) return entry;
  }
  return undefined;
}

/** An address or domain with its domain as an A-label (as written when it is none). */
function asciiForm(addressOrDomain: string): string {
  const at = addressOrDomain.lastIndexOf('@');
  const domain = addressOrDomain.slice(at + 1);
  if (/^[\x00-\x7f]*$/.test(domain)) return addressOrDomain;
  return `${addressOrDomain.slice(0, at + 1)}${domainToASCII(domain) || domain}`;
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

// Elements a reader sees on a line of their own (HTML Living Standard §15.3, "display: block", plus
// table rows and <br>); inline ones such as <b> or <span> join the text around them, so
// "p<b>a</b>ssword" reads as the one word the reader sees. An inline style can make any of them inline.
const ownLine = new Set(
  [
    'address article aside blockquote body br caption center dd details dialog div dl dt fieldset figcaption',
    'figure footer form h1 h2 h3 h4 h5 h6 header hr html legend li main menu nav ol p pre section summary',
    'table tbody tfoot thead tr ul',
  ]
    .join(' ')
    .split(' '),
);
// Cells of a row stand side by side, not on lines of their own (HTML Living Standard §15.3.8).
const cells = new Set(['td', 'th']);
// Row groups, rows and the table itself: white space directly inside them is not drawn (CSS 2.1 §17.2.1).
const tableParts = new Set(['table', 'tbody', 'thead', 'tfoot', 'tr']);
const HTML_READ = 256 * 1024;

/** What an open element passes on to its content: how it is drawn (hidden-style.ts), and how it is laid out. */
interface Shown extends Drawn {
  name: string;
  /** The element put a line break before it, so puts one after it. */
  line: boolean;
  /** Inside a <blockquote> quoting earlier mail (quotesMail). */
  quoted: boolean;
}

/** How `name` with attributes `attrs` inside `parent` is drawn. */
function shownAs(name: string, attrs: Record<string, string>, parent: Shown): Shown {
  return {
    ...drawnChild(parent, name, attrs.style),
    name,
    line: ownLine.has(name) && !inlineByStyle(attrs.style),
    quoted: parent.quoted || (name === 'blockquote' && quotesMail(attrs)),
  };
}

/**
 * A <blockquote> that quotes earlier mail: `type="cite"` (Apple Mail, Thunderbird, Roundcube) or Gmail's
 * `class="gmail_quote"`. Other blockquotes are the message's own words (a LinkedIn InMail shows the
 * recruiter's message in one) and are read.
 */
function quotesMail(attrs: Record<string, string>): boolean {
  return attrs.type?.trim().toLowerCase() === 'cite' || /(?:^|\s)gmail_quote(?:\s|$)/.test(attrs.class ?? '');
}

/** Zero written as an HTML length attribute ("0", "0px"). */
function zeroAttribute(value: string | undefined): boolean {
  return value !== undefined && /^\s*0*(?:\.0*)?\s*(?:px)?\s*$/i.test(value) && value.includes('0');
}

/**
 * A table whose cells touch: no spacing and no padding between them (`cellspacing="0" cellpadding="0"`,
 * the usual layout table of mail templates). Text split across two such cells ("Сроч</td><td>но") draws
 * as one word; any other table leaves a gap between cells (2px spacing and 1px padding by default, HTML
 * Living Standard §15.3.8), a space to the reader. Padding set by a <style> sheet is not evaluated.
 */
function touchingCells(attrs: Record<string, string>): boolean {
  return zeroAttribute(attrs.cellspacing) && zeroAttribute(attrs.cellpadding);
}

/** A cell's own style that puts padding at the sides of its text. */
function padded(attrs: Record<string, string>): boolean {
  const style = attrs.style ?? '';
  if (style === '') return false;
  return ['padding', 'padding-left', 'padding-right'].some((p) =>
    (styleValue(style, p) ?? '0').split(/\s+/).some((length) => !/^[+-]?(?:0+\.?0*|\.0+)(?:[a-z]+|%)?$/.test(length)),
  );
}

/**
 * The text an HTML body shows its reader, for the language signals: character references decoded as
 * browsers do (HTML Living Standard §13.2.5.72-80: every named reference, decimal and hex numeric ones,
 * U+0000, surrogates and values past U+10FFFF as U+FFFD, 0x80-0x9F as windows-1252), by htmlparser2 as
 * the link extractor reads it; a line per block; other white space collapsed to a space as rendered,
 * keeping U+FEFF (a JavaScript \s) for the language signals to drop as the invisible character it is.
 * Text an inline style hides (hidden-style.ts: the "ZeroFont" padding and fake sentence ends) is left
 * out, so it neither splits a word nor pushes the lure past the language signals' window.
 * Linear time.
 */
export function htmlText(html: string): string {
  return htmlTexts(html).shown;
}

/**
 * htmlText, and the same without the earlier mail an HTML reply quotes in <blockquote>s (HTML Living
 * Standard §4.4.4; quotesMail), unless that is (nearly) all there is: `unquoted`, for the language signals.
 */
export function htmlTexts(html: string): { shown: string; unquoted: string } {
  if (html === '') return { shown: '', unquoted: '' };
  let shown = '';
  let unquoted = '';
  const top: Shown = { ...DRAWN, name: '', line: false, quoted: false };
  const open: Shown[] = [top];
  // Per open table: whether its cells touch, and whether the last cell closed in it was padded.
  const tables: { touching: boolean; paddedBefore: boolean }[] = [];
  const add = (s: string, at: Shown) => {
    shown += s;
    if (!at.quoted) unquoted += s;
  };
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        const parent = open[open.length - 1]!;
        const element = shownAs(name, attrs, parent);
        open.push(element);
        const table = tables[tables.length - 1];
        if (name === 'table') tables.push({ touching: touchingCells(attrs), paddedBefore: false });
        else if (name === 'tr' && table !== undefined) table.paddedBefore = false;
        if (element.gone) return;
        if (element.line) add('\n', element);
        else if (name === 'img') add(' ', element);
        else if (cells.has(name)) {
          // A row's cells follow each other on its line, touching only in a table without gaps.
          const pad = padded(attrs);
          if (!(table?.touching && !table.paddedBefore && !pad)) add(' ', element);
          if (table !== undefined) table.paddedBefore = pad;
        }
      },
      ontext(data) {
        const at = open[open.length - 1]!;
        if (isHidden(at)) return;
        // White space in the source, line breaks included, shows as one space (CSS Text §4.1.1); none
        // at all between a table's cells and rows (CSS 2.1 §17.2.1).
        if (tableParts.has(at.name) && /^[^\S\uFEFF]*$/.test(data)) return;
        add(data.replace(/[^\S\uFEFF]+/g, ' '), at);
      },
      onclosetag(name) {
        // htmlparser2 closes every element it opened, implied closes and void elements included.
        if (open.length === 1) return;
        const element = open.pop()!;
        if (name === 'table') tables.pop();
        if (!element.gone && element.line) add('\n', element);
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.write(htmlWithinBudget(html, HTML_READ));
  parser.end();
  const own = tidy(unquoted);
  const all = tidy(shown);
  return { shown: all, unquoted: quotedIsTheMessage(own) ? all : own };
}

// A single line break, never a blank line: the block structure does not end a sentence, as before.
function tidy(text: string): string {
  return text
    .replace(/ {2,}/g, ' ')
    .replace(/ ?\n[\n ]*/g, '\n')
    .trim();
}
