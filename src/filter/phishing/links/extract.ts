/**
 * The links a message offers its reader: in HTML every <a href> and <area href> with the text the reader
 * sees, every <form action> (and whether the form asks for a password); in plain text, bare URLs as mail
 * clients linkify them. <img src> and other fetched resources are not links: the reader does not follow them.
 * HTML is read once, into the tree a browser builds from it (parse5, HTML Living Standard §13.2, scripting
 * off as in mail readers), not with regular expressions nor from a tokenizer's start and end tags: what is
 * a link, what text it shows, which form a field belongs to and which <base> counts all depend on tree
 * construction (an <a> left open is carried into the next paragraph, a <head> never closed ends at the
 * first body content, a <noscript> is shown).
 */

import {
  type DefaultTreeAdapterMap,
  type DefaultTreeAdapterTypes,
  defaultTreeAdapter,
  parse,
  type TreeAdapter,
} from 'parse5';
import { DRAWN, type Drawn, drawnChild, isHidden, NOT_DRAWN } from '../hidden-style.ts';
import { type HtmlBudget, htmlBudget, spendHtmlBudget } from '../html-budget.ts';
import { schemelessHost } from './url-hosts.ts';

export type Link = {
  /** Where the link goes: as written, or resolved when it was relative (see `written`). */
  href: string;
  /**
   * What the reader sees as the link: its text and the alt text of images inside it that have no source
   * to load, white space collapsed, invisible characters and text hidden by its inline style left out, as
   * drawn. Its title attribute, a tooltip shown on hover, only when it shows nothing else (an image
   * without alt text): the name it is then known by (W3C Accessible Name Computation 1.2 §4.3.2, step 2I).
   */
  text: string;
  /**
   * The link's text as it may be drawn otherwise, when it differs from `text`: with every image's alt
   * text (mail readers block remote images and show the alt text instead) and the text an inline style
   * hides (a style sheet's `!important` rule can show it again). Either is what the reader may see.
   */
  otherwise?: string;
  /** Text just before the link in the same block, for "Log in to PayPal: <a>here</a>". */
  context: string;
  source: 'a' | 'area' | 'form' | 'text';
  /** The href as written, when it was relative and `href` is what it resolved to. */
  written?: string;
  /** The <base href> a relative href was resolved against; absent for a scheme-relative one without a base. */
  base?: string;
  /** The attached message or file the link is in ("forward.eml"); absent for the message's own links. */
  within?: string;
  /** `within` names an attached file (a web page, "invoice.html"), not an attached message. */
  inFile?: true;
  /**
   * A domain written in plain text without a scheme or www. (`paypa1.com/signin`), which mail readers
   * (Gmail, Apple Mail) make a link of; `href` is it with http://, as they complete it, `written` as written.
   */
  bare?: true;
};

export type Form = {
  action: string;
  /** Has a password field: an <input type=password>, or a text field that says it wants the password. */
  password: boolean;
  /** Asks for personal data (e-mail, login, phone, card), not just a search term. */
  personal: boolean;
  /** The attached message the form is in; absent for the message's own. */
  within?: string;
};

/** Field names and types that ask for who the reader is or how they pay. */
const personalField =
  /mail|user|login|logon|account|phone|tel|card|cvv|cvc|expir|ssn|pin|passport|iban|birth|snils|inn|почт|телефон|карт|логин/i;

/**
 * A field's placeholder, label or name asking for a password, in the languages of the lures: a plain text
 * field (masked by CSS, or not at all) takes the password as well as a type=password one.
 */
const passwordWords =
  /passw|pass(?:code|phrase)|(?<![a-z])(?:pass|pwd)(?![a-z])|kennwort|mot de passe|contrase[nñ]a|senha|wachtwoord|has[lł]o|[sş]ifre|парол|密码|密碼|パスワード|비밀번호/i;

/** Input types that take no typed text (HTML Living Standard §4.10.5): their labels ask for nothing. */
const untyped = new Set([
  'hidden',
  'submit',
  'button',
  'reset',
  'image',
  'checkbox',
  'radio',
  'file',
  'color',
  'range',
  'date',
  'datetime-local',
  'month',
  'week',
  'time',
]);

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
/** Form-associated elements a reader types into (§4.10.2, "listed"). */
const fieldTags = new Set(['input', 'select', 'textarea']);
const maxText = 300;
const maxContext = 100;

const HTML_NAMESPACE = 'http://www.w3.org/1999/xhtml';
const SVG_NAMESPACE = 'http://www.w3.org/2000/svg';
const XLINK_NAMESPACE = 'http://www.w3.org/1999/xlink';

type Element = DefaultTreeAdapterTypes.Element;
type Node = DefaultTreeAdapterTypes.Node;

/**
 * Code points drawn as nothing (Unicode Default_Ignorable_Code_Point, UAX #44: soft hyphen, zero-width
 * spaces and joiners, bidi controls, U+FEFF), as url-hosts.ts's visibleText() leaves them out.
 */
const invisible = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * `text` with `data` added as the reader sees it, at most `max` characters: invisible characters left out
 * and white space collapsed to one space (CSS Text §4.1.1), none at the start. The limit counts what is
 * drawn, so 300 zero-width spaces or line breaks before a URL cannot push the URL out of the text.
 */
function appendShown(text: string, data: string, max: number): string {
  if (text.length >= max) return text;
  let shown = data.replace(invisible, '').replace(/\s+/g, ' ');
  if (shown.startsWith(' ') && (text === '' || text.endsWith(' '))) shown = shown.slice(1);
  return shown === '' ? text : `${text}${shown}`.slice(0, max);
}

/** The last `maxContext` characters of the text before a link, counted as drawn (appendShown). */
function appendContext(context: string, data: string): string {
  const shown = data.replace(invisible, '').replace(/\s+/g, ' ');
  const joined = shown.startsWith(' ') && context.endsWith(' ') ? `${context}${shown.slice(1)}` : `${context}${shown}`;
  return joined.length > maxContext ? joined.slice(-maxContext) : joined;
}

/** An attribute with no namespace (every attribute of an HTML element; `href` of an SVG one). */
function attribute(element: Element, name: string): string | undefined {
  return element.attrs.find((a) => a.name === name && a.namespace === undefined)?.value;
}

/** Where an <a> goes: its href; in SVG, `href` or else the older `xlink:href` (SVG 2 §16.2.2). */
function anchorHref(element: Element): string | undefined {
  const href = attribute(element, 'href');
  if (href !== undefined || element.namespaceURI !== SVG_NAMESPACE) return href;
  return element.attrs.find((a) => a.name === 'href' && a.namespace === XLINK_NAMESPACE)?.value;
}

type Tree = {
  document: DefaultTreeAdapterTypes.Document;
  /** The form a field was associated with as it was parsed (the form element pointer, §13.2.6.1). */
  parsedInto: Map<Element, Element>;
  /** <a> elements that are copies of one opened before (§13.2.4.3, "reconstruct the active formatting elements"). */
  reopened: WeakSet<Element>;
};

const tooManyElements = new Error('too many elements');

/**
 * The tree a browser builds from `html`, with scripting off as in mail readers. Building stops when the
 * budget's elements (MAX_ELEMENTS, html-budget.ts) are spent, which the parser may create many more of
 * than there are tags (an open <b> copied into each paragraph); what was built by then is returned.
 */
function browserTree(html: string, budget: HtmlBudget): Tree {
  let document: DefaultTreeAdapterTypes.Document | undefined;
  const parsedInto = new Map<Element, Element>();
  const reopened = new WeakSet<Element>();
  // An element reconstructed or recreated by the adoption agency is made from the start tag's token,
  // and so with the same attribute list as the element first opened.
  const opened = new WeakSet<object>();
  const adapter: TreeAdapter<DefaultTreeAdapterMap> = {
    ...defaultTreeAdapter,
    createDocument() {
      document = defaultTreeAdapter.createDocument();
      return document;
    },
    createElement(tagName, namespaceURI, attrs) {
      if (budget.elements <= 0) throw tooManyElements;
      budget.elements--;
      const element = defaultTreeAdapter.createElement(tagName, namespaceURI, attrs);
      if (tagName === 'a') {
        if (opened.has(attrs)) reopened.add(element);
        else opened.add(attrs);
      }
      return element;
    },
    onElementCreated(element, { formElement, isInTemplate }) {
      if (formElement !== null && !isInTemplate && fieldTags.has(element.tagName)) parsedInto.set(element, formElement);
    },
  };
  try {
    parse(html, { scriptingEnabled: false, treeAdapter: adapter });
  } catch (e) {
    if (e !== tooManyElements) throw e;
  }
  return { document: document ?? defaultTreeAdapter.createDocument(), parsedInto, reopened };
}

type Field = { element: Element; form: Element | undefined };

/**
 * A form-associated field's form owner (HTML Living Standard §4.10.17.3): with a form attribute, the first
 * element in tree order with that ID when it is a form, else none; without one, the form it was parsed
 * into, else its nearest form ancestor. `<form id=f action=…></form><input type=password form=f>` sends
 * the password to that form wherever the field stands.
 */
function formOwner(field: Field, tree: Tree, ids: ReadonlyMap<string, Element>): Element | undefined {
  const named = attribute(field.element, 'form');
  if (named === undefined) return tree.parsedInto.get(field.element) ?? field.form;
  const owner = ids.get(named);
  return owner?.tagName === 'form' && owner.namespaceURI === HTML_NAMESPACE ? owner : undefined;
}

function noteField(form: Form, element: Element): void {
  const type = attribute(element, 'type')?.trim().toLowerCase() ?? '';
  if (type === 'hidden' || type === 'submit') return;
  const name = attribute(element, 'name') ?? '';
  const label = `${attribute(element, 'placeholder') ?? ''} ${attribute(element, 'aria-label') ?? ''} ${name}`;
  if (type === 'password' || (element.tagName === 'input' && !untyped.has(type) && passwordWords.test(label))) {
    form.password = true;
  } else if (personalField.test(`${type} ${name}`)) {
    form.personal = true;
  }
}

function fromHtml(html: string, budget: ExtractBudget, out: Extracted): void {
  // What the HTML budget lets be read, bounded in characters and start tags (html-budget.ts); parsed once.
  const read = spendHtmlBudget(html, budget.html);
  const tree = browserTree(read, budget.html);
  const links: Link[] = [];
  const fields: Field[] = [];
  const forms = new Map<Element, Form>();
  const ids = new Map<string, Element>();
  // `otherwise`: the text as drawn with images blocked and inline hiding overridden (Link.otherwise).
  const anchors: { element: Element; link: Link; otherwise: string; title: string }[] = [];
  // How each open element draws its content, as inherited (hidden-style.ts): padding a link's text or the
  // words before it with "display:none" text must not change what the link is judged to show, and text a
  // descendant draws again inside a `font-size:0` or `visibility:hidden` wrapper is shown.
  const drawing: Drawn[] = [DRAWN];
  const hiddenHere = () => isHidden(drawing[drawing.length - 1]!);
  const openForms: Element[] = [];
  let context = '';
  let full = false;
  const push = (link: Link) => {
    if (links.length >= budget.links) {
      full = true; // bound the work: nothing after what we would look at is read
      return;
    }
    links.push(link);
  };
  const enter = (element: Element): boolean => {
    const name = element.tagName;
    const id = attribute(element, 'id');
    if (id !== undefined && id !== '' && !ids.has(id)) ids.set(id, element);
    // Never drawn, and no link in it is either (NOT_DRAWN; a <template>'s content is no part of the tree).
    if (NOT_DRAWN.has(name)) return false;
    // Hidden content is still walked: a style sheet may show it, and the links and forms in it are read.
    drawing.push(drawnChild(drawing[drawing.length - 1]!, name, attribute(element, 'style')));
    const inner = anchors.at(-1);
    if (blocks.has(name)) {
      if (!hiddenHere()) context = '';
      // A block starts a line of its own: "www.paypal.com<br>Sign in" shows two words, not one.
      if (inner) shownInLink(inner, ' ');
    }
    if (name === 'a') {
      const href = anchorHref(element);
      if (href === undefined) return true;
      // The title attribute is a tooltip, no part of the link as drawn: added to the text, its words made
      // the text too long to be read as an address (link-text-mismatch lost to padding). It is the text
      // only of a link that shows none (see leave).
      const link: Link = { href, text: '', context: context.trim(), source: 'a' };
      push(link);
      const title = appendShown('', attribute(element, 'title') ?? '', maxText).trimEnd();
      anchors.push({ element, link, otherwise: '', title });
    } else if (element.namespaceURI !== HTML_NAMESPACE) {
      return true;
    } else if (name === 'area') {
      const href = attribute(element, 'href');
      if (href === undefined) return true;
      const text = attribute(element, 'alt') || attribute(element, 'title') || '';
      push({ href, text: appendShown('', text, maxText), context: context.trim(), source: 'area' });
    } else if (name === 'img' && inner) {
      // The alt text is drawn in the image's place when it does not load (HTML Living Standard §4.8.4.4):
      // always without a source; with one, only where remote images are blocked (Link.otherwise).
      const alt = attribute(element, 'alt');
      if (alt) shownInLink(inner, ` ${alt}`, (attribute(element, 'src') ?? '').trim() === '');
    } else if (name === 'form') {
      const form: Form = { action: attribute(element, 'action') ?? '', password: false, personal: false };
      out.forms.push(form);
      forms.set(element, form);
      openForms.push(element);
      if (form.action !== '') push({ href: form.action, text: '', context: '', source: 'form' });
    } else if (fieldTags.has(name)) {
      fields.push({ element, form: openForms.at(-1) });
    }
    return true;
  };
  /** Adds drawn text to the innermost link: to its text unless hidden, and to its text drawn otherwise. */
  const shownInLink = (inner: { link: Link; otherwise: string }, data: string, drawn = true) => {
    if (drawn && !hiddenHere()) inner.link.text = appendShown(inner.link.text, data, maxText);
    inner.otherwise = appendShown(inner.otherwise, data, maxText);
  };
  const leave = (element: Element) => {
    const name = element.tagName;
    const inner = anchors.at(-1);
    if (inner?.element === element) {
      anchors.pop();
      const text = inner.link.text.trimEnd();
      const otherwise = inner.otherwise.trimEnd();
      // A copy of an open <a> around nothing but white space (the line break between two paragraphs)
      // shows no link; one around text is a link of its own, with its own text.
      const at = links.lastIndexOf(inner.link);
      if (text === '' && otherwise === '' && tree.reopened.has(element) && at >= 0) links.splice(at, 1);
      // A link that draws no text (an image without alt text) is known by its title.
      inner.link.text = text || inner.title;
      if ((otherwise || inner.title) !== inner.link.text) inner.link.otherwise = otherwise || inner.title;
    } else if (blocks.has(name)) {
      if (!hiddenHere()) context = '';
      if (inner) shownInLink(inner, ' ');
    }
    if (name === 'form' && openForms.at(-1) === element) openForms.pop();
    drawing.pop();
  };
  // Depth first, in tree order, without recursion: the budget allows 100,000 elements, all nested.
  const pending: (Node | { leave: Element })[] = [tree.document];
  for (let item = pending.pop(); item !== undefined && !full; item = pending.pop()) {
    if ('leave' in item) leave(item.leave);
    else if (item.nodeName === '#text' && 'value' in item) {
      const inner = anchors.at(-1);
      if (inner) shownInLink(inner, item.value);
      else if (!hiddenHere()) context = appendContext(context, item.value);
    } else if ('childNodes' in item && ('tagName' in item ? enter(item) : true)) {
      if ('tagName' in item) pending.push({ leave: item });
      for (let i = item.childNodes.length - 1; i >= 0; i--) pending.push(item.childNodes[i]!);
    }
  }
  for (const field of fields) {
    const form = forms.get(formOwner(field, tree, ids) as Element);
    if (form) noteField(form, field.element);
  }
  budget.links -= links.length;
  out.links.push(...links);
  if (links.length > 0) out.links.push(...resolveRelative(links, documentBases(read, tree.document, budget.html)));
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
function documentBases(html: string, document: DefaultTreeAdapterTypes.Document, budget: HtmlBudget): string[] {
  if (!baseTag.test(html)) return [];
  const found = firstBase(document);
  if (!selectTag.test(html)) return found === undefined ? [] : [found];
  // Renamed, a <select> is an unknown element, whose content is parsed as the Standard now parses its.
  const relaxed = firstBase(
    browserTree(html.replace(/<(\/?)select(?=[\t\n\f\r />])/gi, '<$1postern-select'), budget).document,
  );
  return [found, relaxed].filter((b, i, all): b is string => b !== undefined && all.indexOf(b) === i);
}

/** The href of the first HTML `base` element with one, in tree order; a <template>'s content is not walked. */
function firstBase(document: DefaultTreeAdapterTypes.Document): string | undefined {
  // Depth first, in tree order, without recursion: the budget allows 100,000 elements, all nested.
  const stack: Node[] = [document];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (!('childNodes' in node)) continue;
    if ('tagName' in node && node.tagName === 'base' && node.namespaceURI === HTML_NAMESPACE) {
      const href = attribute(node, 'href');
      if (href !== undefined) return href;
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

/**
 * Labels of letters, digits and hyphens joined by dots (two at least) that start a word, with a path if
 * one follows: a domain written without a scheme, to be checked by schemelessHost(). Not inside a word,
 * an e-mail address (after "@"), a path or a URL (after "/", ":", "."). A word without a dot inside is
 * no candidate, so prose costs one failed attempt a word (before, every word was a match to check).
 * Linear: the dots part the labels, so each character belongs to one label, and the path is greedy.
 */
export const schemelessToken =
  /(?<![\p{L}\p{N}\p{M}_@./:%+=&?#~\\-])[\p{L}\p{N}][\p{L}\p{N}\p{M}-]*(?:\.[\p{L}\p{N}\p{M}-]+)+(?:\/[^\s<>"'`{}|\\^[\]]*)?/gu;

/** schemelessToken anchored where it is tried (sticky). */
const schemelessTokenAt = new RegExp(schemelessToken.source, 'uy');
const labelCharacter = /^[\p{L}\p{N}\p{M}-]$/u;

/** Where the run of label characters (schemelessToken's) that ends at `end` starts; `end` if none does. */
function labelRunStart(text: string, end: number): number {
  let at = end;
  while (at > 0) {
    const c = text.charCodeAt(at - 1);
    if (c < 0x80) {
      // ASCII: letters, digits and "-" only.
      if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d) at--;
      else break;
    } else {
      const width = (c & 0xfc00) === 0xdc00 && at > 1 && (text.charCodeAt(at - 2) & 0xfc00) === 0xd800 ? 2 : 1;
      if (labelCharacter.test(text.slice(at - width, at))) at -= width;
      else break;
    }
  }
  return at;
}

/**
 * The matches of schemelessToken in `text`, as matchAll finds them, but tried only where one can start:
 * every match holds a dot, and starts where the run of label characters before its first dot starts
 * (inside a run the look-behind fails). Scanning each position for the look-behind cost more than all
 * the rest of the link extraction on a 10 KB message of prose.
 */
export function* schemelessTokens(text: string): Generator<{ 0: string; index: number }> {
  let from = 0; // where the last match ended: nothing before it is tried again
  for (let dot = text.indexOf('.'); dot >= 0; dot = text.indexOf('.', dot + 1)) {
    const start = labelRunStart(text, dot);
    if (start === dot || start < from) continue;
    schemelessTokenAt.lastIndex = start;
    const m = schemelessTokenAt.exec(text);
    if (m === null) continue;
    from = start + m[0].length;
    yield { 0: m[0], index: start };
    dot = from - 1;
  }
}

/**
 * Domains written without a scheme that mail readers make links of (Gmail and Apple Mail link
 * "paypa1.com/signin"), outside the URLs already found (`covered`, blanked). Only names under a public
 * suffix in the ICANN section of the Public Suffix List; not file names (report.pdf, setup.py), version
 * numbers (1.2.3) or the domain of an e-mail address (someone@paypa1.com is a mailto: link, no web page).
 */
function schemelessLinks(body: string, covered: string, budget: ExtractBudget, out: Extracted, seen: Set<string>) {
  for (const m of schemelessTokens(covered)) {
    if (budget.links <= 0) return;
    const token = withoutTrailingPunctuation(m[0]);
    const slash = token.indexOf('/');
    const name = (slash < 0 ? token : token.slice(0, slash)).replace(/\.+$/, '');
    // "first.last@example.com": the run before "@" is the address's local part.
    if (slash < 0 && body[m.index + name.length] === '@') continue;
    const host = schemelessHost(name);
    if (host === undefined) continue;
    const written = slash < 0 ? name : token;
    const href = `http://${written}`;
    if (seen.has(href) || seen.has(written)) continue;
    seen.add(href);
    budget.links--;
    out.links.push({ href, written, text: '', context: '', source: 'text', bare: true });
  }
}

function fromText(text: string, budget: ExtractBudget, out: Extracted, seen: Set<string>): void {
  const limit = Math.max(0, budget.textChars);
  const body = text.length > limit ? text.slice(0, limit) : text;
  budget.textChars -= body.length;
  // The text with the URLs found blanked out (same length, same offsets), for the schemeless pass.
  const parts: string[] = [];
  let last = 0;
  for (const m of body.matchAll(bareUrl)) {
    parts.push(body.slice(last, m.index), ' '.repeat(m[0].length));
    last = m.index + m[0].length;
    if (budget.links <= 0) return;
    const href = withoutTrailingPunctuation(m[0]);
    if (seen.has(href)) continue;
    seen.add(href);
    budget.links--;
    out.links.push({ href, text: '', context: '', source: 'text' });
  }
  parts.push(body.slice(last));
  schemelessLinks(body, parts.join(''), budget, out, seen);
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
