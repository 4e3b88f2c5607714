/**
 * How much of an HTML body the detector hands to htmlparser2. Its parser keeps open elements in an
 * array it grows at the front (Array#unshift), so every start tag costs as much as the elements still
 * open: 333,000 nested `<b>` in a 1 MB message took 21 s, and the server's one thread with it. Real
 * mail, newsletters included, opens a few thousand tags; the first MAX_TAGS are read.
 */
export const MAX_TAGS = 20_000;

/** `html` cut at `maxChars`, and before its MAX_TAGS-th start tag. One linear scan. */
export function htmlWithinBudget(html: string, maxChars: number, maxTags = MAX_TAGS): string {
  const source = html.length > maxChars ? html.slice(0, maxChars) : html;
  const startTag = /<[A-Za-z]/g;
  let count = 0;
  for (let found = startTag.exec(source); found; found = startTag.exec(source)) {
    if (++count > maxTags) return source.slice(0, found.index);
  }
  return source;
}
