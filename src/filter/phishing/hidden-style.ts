/**
 * What an element's inline style keeps from the reader, as the element's content inherits it:
 * `display: none`, zero opacity, `visibility: hidden` or `collapse`, a zero font size. Phishers pad link
 * text and lures with such text (the "ZeroFont" technique) so that a reader sees one thing and a filter
 * reads another; mail readers apply inline styles (most drop <style> sheets, which we do not evaluate).
 * A leaf: the text reading (detector.ts) and the link extraction (links/extract.ts) both walk the
 * elements with drawnChild(), so that the two judge the same text hidden.
 */

/** How an element draws its content, as its children inherit it. */
export interface Drawn {
  /** Nothing inside is drawn, whatever it says: `display: none`, `opacity: 0`, a <script>… */
  gone: boolean;
  /** `visibility: hidden` or `collapse`: a descendant's `visibility: visible` draws again (CSS 2.1 §11.2). */
  invisible: boolean;
  /** A zero font size: a descendant's own absolute size draws again, a relative one stays 0 (CSS Fonts 4 §2.5). */
  zeroFont: boolean;
}

/** The document itself: everything drawn. */
export const DRAWN: Drawn = Object.freeze({ gone: false, invisible: false, zeroFont: false });

/**
 * Elements whose content is never drawn (HTML Living Standard §15.3.1 `display: none`, and the raw text of
 * <iframe>, <noembed> and <noframes>, §13.2.6.4.7). Not <head>: a browser leaves it at the first body
 * content even when it is never closed, and a reader that waited for </head> would hide the whole
 * message. Not <noscript>: with scripting off, as in mail readers, its content is shown (§4.12.2).
 */
export const NOT_DRAWN: ReadonlySet<string> = new Set([
  'script',
  'style',
  'title',
  'template',
  'iframe',
  'noembed',
  'noframes',
]);

/** The drawing state of an element named `tag` (lower case) with this style attribute, inside `parent`. */
export function drawnChild(parent: Drawn, tag: string, style: string | undefined): Drawn {
  const found = style === undefined || style === '' ? undefined : declarations(style);
  // display: none takes the element and its subtree out of the rendering (CSS Display 3 §2.7); opacity
  // is applied to the element and its descendants as a group, which no descendant can undo (CSS Color 4 §5.1).
  const display = found?.get('display');
  const opacity = found?.get('opacity');
  const gone = parent.gone || NOT_DRAWN.has(tag) || display === 'none' || (opacity !== undefined && isZero(opacity));
  return { gone, invisible: invisibleWith(parent, found?.get('visibility')), zeroFont: zeroFontWith(parent, found) };
}

/** Whether an element in this state draws none of its own text. */
export function isHidden(drawn: Drawn): boolean {
  return drawn.gone || drawn.invisible || drawn.zeroFont;
}

/** True when an element with this style attribute, standing alone, draws none of its content. */
export function hiddenByStyle(style: string | undefined): boolean {
  return isHidden(drawnChild(DRAWN, '', style));
}

/** True when an element with this `style` attribute is laid out inline (`display: inline` …) whatever its tag. */
export function inlineByStyle(style: string | undefined): boolean {
  if (style === undefined || style === '') return false;
  const display = declarations(style).get('display');
  return display === 'inline' || display === 'inline-block' || display === 'contents';
}

/** The value a style attribute gives `property` (lower case), as the cascade picks it; undefined when none. */
export function styleValue(style: string, property: string): string | undefined {
  return declarations(style).get(property);
}

/**
 * `visibility` is inherited (CSS 2.1 §11.2): a value of the element's own decides, `inherit`, `unset`
 * and the `revert`s (to the UA's inheritance) keep the parent's, `initial` is visible.
 */
function invisibleWith(parent: Drawn, visibility: string | undefined): boolean {
  if (visibility === 'hidden' || visibility === 'collapse') return true;
  if (visibility === 'visible' || visibility === 'initial') return false;
  return parent.invisible;
}

/**
 * `font-size` is inherited as a computed length (CSS Fonts 4 §2.5): a zero one hides the text, an
 * absolute length or keyword of the element's own draws it again, and one relative to the parent's
 * (em, ex, ch, %, `smaller`, `larger`, `inherit`…) stays zero under a zero. `rem` is relative to the
 * root, not the parent.
 */
function zeroFontWith(parent: Drawn, found: Map<string, string> | undefined): boolean {
  const fontSize = found?.get('font-size');
  if (fontSize === undefined) return parent.zeroFont;
  if (isZero(fontSize)) return true;
  // A math function (calc(0em + 14px)) is relative only with no absolute length in it.
  const relative = /^(?:calc|min|max|clamp)\(/.test(fontSize)
    ? !/\d(?:px|pt|pc|in|cm|mm|q|rem|vw|vh|vmin|vmax|vi|vb)(?![a-z])/.test(fontSize)
    : /\d(?:em|ex|ch|cap|ic|lh|%)$|^(?:inherit|unset|revert|revert-layer|smaller|larger)$/.test(fontSize);
  return relative && parent.zeroFont;
}

/** A length or number that is zero: "0", "0px", "0.0em", "0%". */
function isZero(value: string): boolean {
  return /^[+-]?0*(?:\.0*)?(?:px|pt|em|rem|ex|ch|%|vw|vh|cm|mm|in|pc|q)?$/.test(value) && /0/.test(value);
}

/** Values a property read here may take (CSS-wide keywords apart); a declaration with another is ignored. */
const valid: Partial<Record<string, RegExp>> = {
  display: /^[a-z-]+(?:\s+[a-z-]+){0,2}$/,
  visibility: /^(?:visible|hidden|collapse)$/,
  opacity: /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?%?$/,
  'font-size': /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?(?:[a-z]+|%)?|[a-z-]+|(?:calc|min|max|clamp)\(.*\))$/,
};
const cssWide = /^(?:inherit|initial|unset|revert|revert-layer)$/;

/**
 * The declarations of a style attribute (CSS Style Attributes §3: a declaration list), property names
 * lower-cased, the value the cascade picks for each: comments dropped (CSS Syntax 3 §4.3.2), a declaration
 * the property cannot take ignored, not read as unset (CSS 2.1 §4.2, "illegal values"), an `!important` one
 * kept over later normal ones (CSS Cascade 4 §6.4), else the last one. The one parser of inline styles.
 */
function declarations(style: string): Map<string, string> {
  const found = new Map<string, string>();
  const important = new Set<string>();
  for (const declaration of withoutComments(style.slice(0, 4096)).split(';')) {
    const colon = declaration.indexOf(':');
    if (colon < 0) continue;
    const name = declaration.slice(0, colon).trim().toLowerCase();
    let value = declaration
      .slice(colon + 1)
      .trim()
      .toLowerCase();
    const bang = /\s*!\s*important$/.exec(value);
    if (bang) value = value.slice(0, bang.index);
    if (name === '' || value === '') continue;
    const grammar = valid[name];
    if (grammar !== undefined && !grammar.test(value) && !cssWide.test(value)) continue;
    if (important.has(name) && !bang) continue;
    if (bang) important.add(name);
    found.set(name, value);
  }
  return found;
}

/** `style` without its /* comments *\/, as the tokenizer drops them; an unclosed one runs to the end. */
function withoutComments(style: string): string {
  if (!style.includes('/*')) return style;
  let out = '';
  let at = 0;
  for (let open = style.indexOf('/*'); open >= 0; open = style.indexOf('/*', at)) {
    out += style.slice(at, open);
    const close = style.indexOf('*/', open + 2);
    if (close < 0) return out;
    at = close + 2;
  }
  return out + style.slice(at);
}
