/**
 * The links a message offers its reader: in HTML every <a href> and <area href> with the text the reader
 * sees, every <form action> (and whether the form asks for a password); in plain text, bare URLs as mail
 * clients linkify them. <img src> and other fetched resources are not links: the reader does not follow them.
 * HTML is read with htmlparser2 (a forgiving, streaming HTML tokenizer that decodes entities as browsers
 * do), not with regular expressions. Does not resolve relative links against <base href>.
 */

import { Parser } from 'htmlparser2';
import { htmlWithinBudget } from '../html-budget.ts';

export type Link = {
  href: string;
  /** What the reader sees as the link: its text and the alt text of images inside it. */
  text: string;
  /** Text just before the link in the same block, for "Log in to PayPal: <a>here</a>". */
  context: string;
  source: 'a' | 'area' | 'form' | 'text';
};

export type Form = {
  action: string;
  /** Has an <input type=password>. */
  password: boolean;
  /** Asks for personal data (e-mail, login, phone, card), not just a search term. */
  personal: boolean;
};

/** Field names and types that ask for who the reader is or how they pay. */
const personalField =
  /mail|user|login|logon|account|phone|tel|card|cvv|cvc|expir|ssn|pin|passport|iban|birth|snils|inn|почт|телефон|карт|логин/i;

export type Extracted = { links: Link[]; forms: Form[] };

export type ExtractLimits = { maxLinks: number; maxHtmlBytes: number };

export const DEFAULT_LIMITS: ExtractLimits = { maxLinks: 200, maxHtmlBytes: 512 * 1024 };

/** Elements that end a run of text, so context does not reach into another paragraph or cell. */
const blocks = new Set([
  'p',
  'div',
  'br',
  'td',
  'th',
  'tr',
  'li',
  'ul',
  'ol',
  'table',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'blockquote',
  'section',
  'article',
  'header',
  'footer',
  'form',
]);
const hidden = new Set(['style', 'script', 'head', 'title', 'template', 'noscript']);
const maxText = 300;
const maxContext = 100;

function fromHtml(html: string, limits: ExtractLimits, out: Extracted): void {
  let anchor: Link | undefined;
  let form: Form | undefined;
  let context = '';
  let hiddenDepth = 0;
  let full = false;
  const push = (link: Link) => {
    if (out.links.length >= limits.maxLinks) {
      full = true;
      parser.pause(); // bound the work: nothing after the last link we would look at is read
      return;
    }
    out.links.push(link);
  };
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        if (full) return;
        if (hidden.has(name)) hiddenDepth++;
        if (blocks.has(name)) context = '';
        if (name === 'a' || name === 'area') {
          if (attrs.href === undefined) return;
          const link: Link = { href: attrs.href, text: attrs.title ?? '', context: context.trim(), source: name };
          push(link);
          anchor = name === 'a' ? link : undefined;
          if (name === 'area' && attrs.alt) link.text = attrs.alt;
        } else if (name === 'img' && anchor && attrs.alt) {
          anchor.text = `${anchor.text} ${attrs.alt}`.slice(0, maxText);
        } else if (name === 'form') {
          form = { action: attrs.action ?? '', password: false, personal: false };
          out.forms.push(form);
          if (form.action !== '') push({ href: form.action, text: '', context: '', source: 'form' });
        } else if ((name === 'input' || name === 'select' || name === 'textarea') && form) {
          const type = attrs.type?.trim().toLowerCase() ?? '';
          if (type === 'password') form.password = true;
          else if (type !== 'hidden' && type !== 'submit' && personalField.test(`${type} ${attrs.name ?? ''}`)) {
            form.personal = true;
          }
        }
      },
      ontext(data) {
        if (hiddenDepth > 0 || full) return;
        if (anchor && anchor.text.length < maxText) anchor.text = `${anchor.text}${data}`.slice(0, maxText);
        else if (!anchor) context = `${context}${data}`.slice(-maxContext);
      },
      onclosetag(name) {
        if (hidden.has(name) && hiddenDepth > 0) hiddenDepth--;
        if (blocks.has(name)) context = '';
        if (name === 'a') anchor = undefined;
        if (name === 'form') form = undefined;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(htmlWithinBudget(html, limits.maxHtmlBytes));
  if (!full) parser.end();
}

/** Bare URLs as clients linkify them; ends before whitespace, angle brackets and quotes. */
const bareUrl = /\b(?:https?:\/\/|www\.)[^\s<>"'`{}|\\^[\]]+/gi;

/** Punctuation that ends the sentence around a URL, not the URL: clients leave it out of the link. */
const sentencePunctuation = new Set(['.', ',', ';', ':', '!', '?', "'", '"', '*']);

/**
 * A bare URL without the sentence's punctuation after it. A closing parenthesis belongs to the URL only
 * when it closes one opened inside (Wikipedia links). Parentheses are counted once and the end is walked
 * back once: a URL ending in 500 KB of ')' or '.' must not cost a scan of the URL per character.
 */
function withoutTrailingPunctuation(url: string): string {
  let opened = 0;
  let closed = 0;
  for (const c of url) {
    if (c === '(') opened++;
    else if (c === ')') closed++;
  }
  let end = url.length;
  for (;;) {
    while (end > 0 && sentencePunctuation.has(url[end - 1] ?? '')) end--;
    if (end === 0 || url[end - 1] !== ')' || opened >= closed) return url.slice(0, end);
    end--;
    closed--;
  }
}

function fromText(text: string, limits: ExtractLimits, out: Extracted, seen: Set<string>): void {
  const body = text.length > limits.maxHtmlBytes ? text.slice(0, limits.maxHtmlBytes) : text;
  for (const m of body.matchAll(bareUrl)) {
    if (out.links.length >= limits.maxLinks) return;
    const href = withoutTrailingPunctuation(m[0]);
    if (seen.has(href)) continue;
    seen.add(href);
    out.links.push({ href, text: '', context: '', source: 'text' });
  }
}

/** Links of the HTML body, then those of the text body that the HTML did not already have. */
export function extractLinks(html: string, text: string, limits: ExtractLimits = DEFAULT_LIMITS): Extracted {
  const out: Extracted = { links: [], forms: [] };
  if (/<(a|area|form)\b/i.test(html)) fromHtml(html, limits, out); // without one there is nothing to parse for
  if (text !== '') fromText(text, limits, out, new Set(out.links.map((l) => l.href.trim())));
  return out;
}
