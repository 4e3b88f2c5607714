/**
 * What an HTML attachment does when it is opened: a web page opened from mail runs in the browser, with
 * scripts on and no address bar. The page is decoded as a browser decodes it (a byte order mark, else
 * the <meta> charset its first 1024 bytes declare) and read into the tree a browser builds (parse5, HTML
 * Living Standard §13.2), not matched with regular expressions: "<form/action=…>" is a form, a tag name
 * split by ISO-2022-JP escape sequences is whole once decoded, and a tag inside a comment is no tag.
 */
import {
  type DefaultTreeAdapterMap,
  type DefaultTreeAdapterTypes,
  defaultTreeAdapter,
  parse,
  type TreeAdapter,
} from 'parse5';
import { type HtmlBudget, htmlBudget, spendHtmlBudget } from '../html-budget.ts';

/**
 * What the HTML attachments of one message (and of the messages attached to it) may have parsed: parse5
 * reads about 2 MB a second of text-heavy markup, so a megabyte, as much as was scanned before. A page
 * longer than that is searched beyond it for the same marks, as text (activeText).
 */
export function htmlAttachmentBudget(): HtmlBudget {
  return htmlBudget(1024 * 1024);
}

/**
 * The page as a browser decodes it (HTML Living Standard §13.2.3.2, "the encoding sniffing algorithm"):
 * a mail attachment carries no transport charset, so a BOM, then the prescan, then a default. One text,
 * or two when the browser may guess.
 */
export function decodeHtml(bytes: Uint8Array): string[] {
  const bom = bomEncoding(bytes);
  // A BOM decides, and the decoder drops it (WHATWG Encoding §6, "decode").
  if (bom) return [new TextDecoder(bom).decode(bytes)];
  const declared = prescan(bytes.subarray(0, 1024));
  if (declared) return [new TextDecoder(declared).decode(bytes)];
  const fallback = new TextDecoder('windows-1252').decode(bytes);
  // Without a declaration a browser may guess from the bytes (§13.2.3.2 allows it; Chrome and Firefox
  // recognise ISO-2022-JP by its escape sequences), so a page with an ESC is read that way too.
  return bytes.includes(0x1b) ? [fallback, new TextDecoder('iso-2022-jp').decode(bytes)] : [fallback];
}

function bomEncoding(b: Uint8Array): string | undefined {
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return 'utf-8';
  if (b[0] === 0xfe && b[1] === 0xff) return 'utf-16be';
  if (b[0] === 0xff && b[1] === 0xfe) return 'utf-16le';
  return undefined;
}

/**
 * Whether the page holds what credential-phishing pages are made of: a form or a password field (which
 * sends what is typed elsewhere), a script or an event handler attribute (onerror, onload: code run
 * without a <script>), a frame or an embedded object (the phishing page itself shown full-size inside
 * the harmless one), a javascript: URL, or a redirect (a meta refresh, HTML §4.2.5.3). Elements in a
 * <template> are inert and do not count.
 */
export function activeHtml(bytes: Uint8Array, budget: HtmlBudget): boolean {
  for (const text of decodeHtml(bytes)) {
    const read = spendHtmlBudget(text, budget);
    const parsed = activeTree(read, budget);
    if (parsed === true) return true;
    // What the budget left unparsed is searched as text: a megabyte of comment before the form hid it.
    const rest = parsed === 'cut' ? text : text.slice(read.length);
    if (rest !== '' && activeText(rest)) return true;
  }
  return false;
}

const found = new Error('active');
const cut = new Error('cut');

const activeTags: ReadonlySet<string> = new Set([
  ...['form', 'script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet'],
]);

function activeElement(element: DefaultTreeAdapterTypes.Element): boolean {
  if (activeTags.has(element.tagName)) return true;
  for (const { name, value } of element.attrs) {
    if (name.length > 2 && name.startsWith('on')) return true;
    const v = value.trim().toLowerCase();
    if (name === 'type' && element.tagName === 'input' && v === 'password') return true;
    if (name === 'http-equiv' && element.tagName === 'meta' && v === 'refresh') return true;
    // URL parsing strips leading C0 controls and spaces and removes tabs and newlines (WHATWG URL §4.4).
    if (urlAttributes.has(name) && /^javascript:/.test(v.replace(/[\t\n\r]/g, ''))) return true;
  }
  return false;
}

const urlAttributes: ReadonlySet<string> = new Set(['href', 'src', 'action', 'formaction', 'data']);

/** true when an active element was built; 'cut' when the element budget stopped the parser first. */
function activeTree(html: string, budget: HtmlBudget): boolean | 'cut' {
  const adapter: TreeAdapter<DefaultTreeAdapterMap> = {
    ...defaultTreeAdapter,
    createElement(tagName, namespaceURI, attrs) {
      if (budget.elements <= 0) throw cut;
      budget.elements--;
      return defaultTreeAdapter.createElement(tagName, namespaceURI, attrs);
    },
    onElementCreated(element, { isInTemplate }) {
      if (!isInTemplate && activeElement(element)) throw found;
    },
    // Only elements are judged: the page's text is not kept.
    insertText() {},
    insertTextBefore() {},
  };
  try {
    // Scripting on, as in the browser that opens the file: <noscript> content is text there.
    parse(html, { scriptingEnabled: true, treeAdapter: adapter });
  } catch (e) {
    if (e === found) return true;
    if (e === cut) return 'cut';
    throw e;
  }
  return false;
}

/**
 * The same marks found as text, for what the parse budget did not reach, with a script's redirects and
 * base64 decoding. Every repetition is bounded by what follows it, so the search is linear.
 */
function activeText(text: string): boolean {
  return /<(?:form|script|iframe|frame|object|embed)[\s>/]|\son[a-z]+\s*=|type\s*=\s*["']?password|http-equiv\s*=\s*["']?refresh|(?:window|document|top|self|parent)\.location|location\.(?:href|replace|assign)\b|(?:^|[^\w?&.$-])location\s*=(?!=)|\batob\s*\(/i.test(
    text,
  );
}

/**
 * The encoding a page's first 1024 bytes declare in a <meta> (HTML Living Standard §13.2.3.2, "prescan a
 * byte stream to determine its encoding"), as an encoding name TextDecoder takes; undefined when none.
 */
export function prescan(b: Uint8Array): string | undefined {
  const s = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  let at = 0;
  while (at < s.length) {
    if (s.startsWith('<!--', at)) {
      const end = s.indexOf('-->', at + 2);
      if (end < 0) return undefined;
      at = end + 3;
    } else if (/^<meta[\t\n\f\r /]/i.test(s.slice(at, at + 6))) {
      at += 5;
      const seen = new Set<string>();
      let gotPragma = false;
      let needPragma: boolean | undefined;
      let charset: string | undefined;
      for (let attr = attribute(s, at); attr; attr = attribute(s, at)) {
        at = attr.end;
        if (seen.has(attr.name)) continue;
        seen.add(attr.name);
        if (attr.name === 'http-equiv') gotPragma ||= attr.value.toLowerCase() === 'content-type';
        else if (attr.name === 'content' && charset === undefined) {
          const named = charsetInContent(attr.value);
          if (named !== undefined) {
            charset = encodingOf(named);
            needPragma = true;
          }
        } else if (attr.name === 'charset') {
          charset = encodingOf(attr.value);
          needPragma = false;
        }
      }
      if (needPragma === undefined || (needPragma && !gotPragma) || charset === undefined) continue;
      // A page cannot declare itself UTF-16 in ASCII bytes; x-user-defined is read as windows-1252.
      if (charset === 'utf-16le' || charset === 'utf-16be') return 'utf-8';
      if (charset === 'x-user-defined') return 'windows-1252';
      return charset;
    } else if (/^<\/?[A-Za-z]/.test(s.slice(at, at + 3))) {
      while (at < s.length && !/[\t\n\f\r >]/.test(s[at]!)) at++;
      for (let attr = attribute(s, at); attr; attr = attribute(s, at)) at = attr.end;
    } else if (/^<[!/?]/.test(s.slice(at, at + 2))) {
      const end = s.indexOf('>', at + 2);
      if (end < 0) return undefined;
      at = end + 1;
    } else at++;
  }
  return undefined;
}

/** "Get an attribute" of the prescan (§13.2.3.2): the next name and value from `at`, or none at ">". */
function attribute(s: string, from: number): { name: string; value: string; end: number } | undefined {
  let at = from;
  while (at < s.length && /[\t\n\f\r /]/.test(s[at]!)) at++;
  if (at >= s.length || s[at] === '>') return undefined;
  let name = '';
  for (; at < s.length; at++) {
    const c = s[at]!;
    if (c === '=' && name !== '') break;
    if (/[\t\n\f\r />]/.test(c)) break;
    name += c.toLowerCase();
  }
  while (at < s.length && /[\t\n\f\r ]/.test(s[at]!)) at++;
  if (s[at] !== '=') return { name, value: '', end: at };
  at++;
  while (at < s.length && /[\t\n\f\r ]/.test(s[at]!)) at++;
  const quote = s[at];
  if (quote === '"' || quote === "'") {
    const end = s.indexOf(quote, at + 1);
    if (end < 0) return { name, value: s.slice(at + 1), end: s.length };
    return { name, value: s.slice(at + 1, end), end: end + 1 };
  }
  let end = at;
  while (end < s.length && !/[\t\n\f\r >]/.test(s[end]!)) end++;
  return { name, value: s.slice(at, end), end };
}

/** The HTML Living Standard's "extracting a character encoding from a meta element", from a content attribute. */
function charsetInContent(content: string): string | undefined {
  const match = /charset[\t\n\f\r ]*=[\t\n\f\r ]*(?:"([^"]*)"|'([^']*)'|([^\t\n\f\r ;"']+))/i.exec(content);
  return match ? (match[1] ?? match[2] ?? match[3]) : undefined;
}

/** The encoding a label names (WHATWG Encoding §4.2, "get an encoding"), as TextDecoder resolves it. */
function encodingOf(label: string): string | undefined {
  try {
    return new TextDecoder(label.trim()).encoding;
  } catch {
    // Unknown, or one of the labels of "replacement" (iso-2022-kr …) Node does not decode: read on.
    return undefined;
  }
}
