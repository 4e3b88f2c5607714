/**
 * Whether an element's own inline style keeps its content from the reader: `display: none`,
 * `visibility: hidden` or `collapse`, a zero font size, zero opacity. Phishers pad link text and
 * lures with such text (the "ZeroFont" technique) so that a reader sees one thing and a filter reads
 * another; mail readers apply inline styles (most drop <style> sheets, which we do not evaluate).
 * A leaf: the link extraction and the text reading both use it.
 */

/** The declarations of a style attribute, property names lower-cased, last one of a name wins (CSS cascade order). */
function declarations(style: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const declaration of style.slice(0, 4096).split(';')) {
    const colon = declaration.indexOf(':');
    if (colon < 0) continue;
    const name = declaration.slice(0, colon).trim().toLowerCase();
    const value = declaration
      .slice(colon + 1)
      .replace(/!\s*important\s*$/i, '')
      .trim()
      .toLowerCase();
    if (name !== '') found.set(name, value);
  }
  return found;
}

/** A length or number that is zero: "0", "0px", "0.0em", "0%". */
function isZero(value: string): boolean {
  return /^[+-]?0*(?:\.0*)?(?:px|pt|em|rem|ex|ch|%|vw|vh|cm|mm|in|pc|q)?$/.test(value) && /0/.test(value);
}

/** True when an element with this `style` attribute draws none of its content (CSS Display 3 §2.7, CSS2 §11.2, CSS Color 4 §5.1). */
export function hiddenByStyle(style: string | undefined): boolean {
  if (style === undefined || style === '') return false;
  const found = declarations(style);
  const display = found.get('display');
  if (display === 'none') return true;
  const visibility = found.get('visibility');
  if (visibility === 'hidden' || visibility === 'collapse') return true;
  const fontSize = found.get('font-size');
  if (fontSize !== undefined && isZero(fontSize)) return true;
  const opacity = found.get('opacity');
  if (opacity !== undefined && isZero(opacity)) return true;
  return false;
}

/** True when an element with this `style` attribute is laid out inline (`display: inline` …) whatever its tag. */
export function inlineByStyle(style: string | undefined): boolean {
  if (style === undefined || style === '') return false;
  const display = declarations(style).get('display');
  return display === 'inline' || display === 'inline-block' || display === 'contents';
}
