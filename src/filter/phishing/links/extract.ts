/**
 * The links a message offers its reader: in HTML every <a href> and <area href> with the text the reader
 * sees, every <form action> (and whether the form asks for a password); in plain text, bare URLs as mail
 * clients linkify them. <img src> and other fetched resources are not links: the reader does not follow them.
 * HTML is read with htmlparser2 (a forgiving, streaming HTML tokenizer that decodes entities as browsers
 * do), not with regular expressions. Relative links are resolved against the document's <base href>, which
 * is found in the tree a browser builds (parse5), since which <base> counts depends on where it stands.
 */

import { Parser } from 'htmlparser2';
import { type DefaultTreeAdapterTypes, parse } from 'parse5';
import { type HtmlBudget, htmlBudget, spendHtmlBudget } from '../html-budget.ts';

export type Link = {
  /** Where the link goes: as written, or resolved when it was relative (see `written`). */
  href: string;
  /** What the reader sees as the link: its text and the alt text of images inside it. */
  text: string;
  /** Text just before the link in the same block, for "Log in to PayPal: <a>here</a>". */
  context: string;
  source: 'a' | 'area' | 'form' | 'text';
  /** The href as written, when it was relative and `href` is what it resolved to. */
  written?: string;
  /** The <base href> a relative href was resolved against; absent for a scheme-relative one without a base. */
  base?: string;
  /** The attached message the link is in ("forward.eml"); absent for the message's own links. */
  within?: string;
};

export type Form = {
  action: string;
  /** Has an <input type=password>. */
  password: boolean;
  /** Asks for personal data (e-mail, login, phone, card), not just a search term. */
  personal: boolean;
  /** The attached message the form is in; absent for the message's own. */
  within?: string;
};

/** Field names and types that ask for who the reader is or how they pay. */
const personalField =
  /mail|user|login|logon|account|phone|tel|card|cvv|cvc|expir|ssn|pin|passport|iban|birth|snils|inn|почт|телефон|карт|логин/i;

export type Extracted = { links: Link[]; forms: Form[] };

export type ExtractLimits = { maxLinks: number; maxHtmlBytes: number };

export const DEFAULT_LIMITS: ExtractLimits = { maxLinks: 200, maxHtmlBytes: 512 * 1024 };

/**
 * What extraction may still spend: links kept, HTML read (characters and start tags, html-budget.ts) and
 * plain text read. One budget is passed to every extractLinks() of a message and of the messages attached
 * to it, so that nesting adds no work beyond the limits of one message.
 */
export type ExtractBudget = { links: number; html: HtmlBudget; textChars: number };

export function extractBudget(limits: ExtractLimits = DEFAULT_LIMITS): ExtractBudget {
  return { links: limits.maxLinks, html: htmlBudget(limits.maxHtmlBytes), textChars: limits.maxHtmlBytes };
}

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

function fromHtml(html: string, budget: ExtractBudget, out: Extracted): void {
  let anchor: Link | undefined;
  let form: Form | undefined;
  let context = '';
  let hiddenDepth = 0;
  let paused = false;
  const links: Link[] = [];
  const push = (link: Link) => {
    if (budget.links <= 0) {
      paused = true;
      parser.pause(); // bound the work: nothing after what we would look at is read
      return;
    }
    budget.links--;
    links.push(link);
    out.links.push(link);
  };
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        if (paused) return;
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
        if (hiddenDepth > 0 || paused) return;
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
  // The same text is parsed again for the <base>, which applies wherever it stands (after the links
  // too): what the HTML budget lets be read, bounded in characters and start tags (html-budget.ts).
  const read = spendHtmlBudget(html, budget.html);
  parser.write(read);
  if (!paused) parser.end();
  if (links.length > 0) out.links.push(...resolveRelative(links, documentBases(read)));
}

/** A `<base` start tag: its name ends at whitespace, "/" or ">" (HTML Living Standard §13.2.5.8). */
const baseTag = /<base[\t\n\f\r />]/i;
const selectTag = /<select[\t\n\f\r />]/i;

/**
 * The href of the document's base element as browsers find it (HTML Living Standard §4.2.3): the first
 * `base` element with an href in tree order, after tree construction (§13.2.6), not the first `<base>`
 * tag in the source. A `<base>` in <svg> or <math> is an SVG or MathML element, none in HTML; one in a
 * <template> is in its content, no part of the document; one in a <table> is moved before the table
 * (foster parenting, §13.2.6.1), ahead of a base written earlier inside a cell. Scripting off, as in mail
 * readers. A `<select>` is read in two ways, since browsers differ: the parser that parse5 implements
 * drops every tag in it but <option>, <optgroup> and <hr> ("in select" insertion mode), and so did all
 * browsers, but the Standard now parses its content as any other (whatwg/html#10548, in Chrome since version 134),
 * which keeps a <base> there. When the two give different bases, both are returned, the parse5 one first.
 */
function documentBases(html: string): string[] {
  if (!baseTag.test(html)) return [];
  const found = firstBase(html);
  if (!selectTag.test(html)) return found === undefined ? [] : [found];
  // Renamed, a <select> is an unknown element, whose content is parsed as the Standard now parses its.
  const relaxed = firstBase(html.replace(/<(\/?)select(?=[\t\n\f\r />])/gi, '<$1postern-select'));
  return [found, relaxed].filter((b, i, all): b is string => b !== undefined && all.indexOf(b) === i);
}

const HTML_NAMESPACE = 'http://www.w3.org/1999/xhtml';

/** The href of the first HTML `base` element with one, in tree order; a <template>'s content is not walked. */
function firstBase(html: string): string | undefined {
  const document = parse(html, { scriptingEnabled: false });
  // Depth first, in tree order, without recursion: the budget allows 20,000 elements nested.
  const stack: DefaultTreeAdapterTypes.Node[] = [document];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (!('childNodes' in node)) continue;
    if ('tagName' in node && node.tagName === 'base' && node.namespaceURI === HTML_NAMESPACE) {
      const href = node.attrs.find((a) => a.name === 'href' && a.namespace === undefined);
      if (href !== undefined) return href.value;
    }
    for (let i = node.childNodes.length - 1; i >= 0; i--) stack.push(node.childNodes[i]!);
  }
  return undefined;
}

/**
 * Relative hrefs as a browser resolves them: against the document base URL, the href of the first base
 * element with one (documentBases) parsed against the document's fallback base URL (HTML Living Standard
 * §2.4.1 and §4.2.3). A message has no URL of its own on the web to fall back on: only an absolute base
 * gives a remote one, or a scheme-relative one (WHATWG URL Standard §4.3, "//host/path"), which names its
 * host and which a webmail, served over https, completes with https. `<base href="https://evil.example/">`
 * (or "//evil.example/") then sends `<a href="login">` to https://evil.example/login whatever its text shows
 * (the "baseStriker" trick against link scanners). Without such a base a path-relative link lands on the
 * mail program's own page: no remote target; a scheme-relative one still names its host. An href that
 * resolves as it is written keeps its written form, which the checks read (the notation of an IP address).
 * Links are resolved in place against the first base; the links a second base (documentBases) takes
 * elsewhere are returned, to be judged as well.
 */
function resolveRelative(links: readonly Link[], bases: readonly string[]): Link[] {
  const [first, ...others] = bases;
  const extra: Link[] = [];
  for (const link of links) {
    const primary = resolvedAgainst(link.href, first);
    for (const other of others) {
      const elsewhere = resolvedAgainst(link.href, other);
      if (elsewhere !== undefined && elsewhere.href !== (primary?.href ?? link.href))
        extra.push({ ...link, ...elsewhere });
    }
    if (primary !== undefined) Object.assign(link, primary);
  }
  return extra;
}

/** Where `written` leads with this base href (or none), when not where it says as written. */
function resolvedAgainst(
  written: string,
  baseHref: string | undefined,
): { href: string; written: string; base?: string } | undefined {
  const base = baseHref === undefined ? undefined : baseUrl(baseHref);
  if (base !== undefined && baseHref !== undefined) {
    if (!URL.canParse(written, base.href)) return undefined;
    const href = new URL(written, base).href;
    if (URL.canParse(written) && new URL(written).href === href) return undefined;
    return { href, written, base: baseHref };
  }
  if (!schemeRelative(written) || !URL.canParse(written, WEBMAIL)) return undefined;
  return { href: new URL(written, WEBMAIL).href, written };
}

/** A base href as a URL: absolute, or scheme-relative read as a webmail reads it; else none (see above). */
function baseUrl(href: string): URL | undefined {
  if (URL.canParse(href)) return new URL(href);
  return schemeRelative(href) && URL.canParse(href, WEBMAIL) ? new URL(href, WEBMAIL) : undefined;
}

/**
 * "//host/path", as the URL parser reads it: leading C0 controls and spaces and every tab or newline
 * dropped, "\\" as "/" in a special scheme's URL (WHATWG URL Standard §4.4, "relative slash state").
 */
function schemeRelative(href: string): boolean {
  return /^[\\/]{2}/.test(href.replace(/[\t\n\r]/g, '').replace(/^[\x00-\x20]+/, ''));
}

/** Where a webmail shows the message: only its scheme is used, for scheme-relative links (RFC 2606 .invalid). */
const WEBMAIL = 'https://webmail.invalid/';

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

function fromText(text: string, budget: ExtractBudget, out: Extracted, seen: Set<string>): void {
  const limit = Math.max(0, budget.textChars);
  const body = text.length > limit ? text.slice(0, limit) : text;
  budget.textChars -= body.length;
  for (const m of body.matchAll(bareUrl)) {
    if (budget.links <= 0) return;
    const href = withoutTrailingPunctuation(m[0]);
    if (seen.has(href)) continue;
    seen.add(href);
    budget.links--;
    out.links.push({ href, text: '', context: '', source: 'text' });
  }
}

/**
 * Links of the HTML body, then those of the text body that the HTML did not already have. `budget` is
 * what may still be spent, shared with the other parts of the same message (ExtractBudget).
 */
export function extractLinks(
  html: string,
  text: string,
  limits: ExtractLimits = DEFAULT_LIMITS,
  budget: ExtractBudget = extractBudget(limits),
): Extracted {
  const out: Extracted = { links: [], forms: [] };
  if (/<(a|area|form)\b/i.test(html)) fromHtml(html, budget, out); // without one there is nothing to parse for
  if (text !== '') fromText(text, budget, out, new Set(out.links.map((l) => l.href.trim())));
  return out;
}
