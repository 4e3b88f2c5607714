/**
 * How much of an HTML body the detector hands to an HTML parser. htmlparser2 keeps open elements in an
 * array it grows at the front (Array#unshift), so every start tag costs as much as the elements still
 * open: 333,000 nested `<b>` in a 1 MB message took 21 s, and the server's one thread with it. Real
 * mail, newsletters included, opens a few thousand tags; the first MAX_TAGS are read.
 */
export const MAX_TAGS = 20_000;

/**
 * How many elements the link extractor lets parse5 build from what MAX_TAGS lets it read. Tree
 * construction makes elements no tag opens: each formatting element left open (<b>, <a>, <font>) is
 * copied into every later paragraph it is carried over into (HTML Living Standard §13.2.4.3), so 10,000
 * open <b> before 5,000 paragraphs, 170 KB, would build 50 million elements, more memory than a server
 * has. Real mail builds about one element per tag; this leaves five. One budget, like MAX_TAGS, for a
 * message and the messages attached to it (HtmlBudget).
 */
export const MAX_ELEMENTS = 5 * MAX_TAGS;

/** `html` cut at `maxChars`, and before its MAX_TAGS-th start tag. One linear scan. */
export function htmlWithinBudget(html: string, maxChars: number, maxTags = MAX_TAGS): string {
  return cut(html, maxChars, maxTags).source;
}

/**
 * What is left to read of the HTML of one message and of the messages attached to it: one budget for
 * all of them, so that a message that carries messages (each carrying more) costs no more than one
 * with all that HTML in its own body. `elements` is what parse5 may still build from it (MAX_ELEMENTS).
 */
export interface HtmlBudget {
  chars: number;
  tags: number;
  elements: number;
}

export function htmlBudget(chars: number, tags = MAX_TAGS, elements = MAX_ELEMENTS): HtmlBudget {
  return { chars, tags, elements };
}

/** `html` within what is left of `budget`, which is spent by what is returned. */
export function spendHtmlBudget(html: string, budget: HtmlBudget): string {
  const { source, tags } = cut(html, Math.max(0, budget.chars), Math.max(0, budget.tags));
  budget.chars -= source.length;
  budget.tags -= tags;
  return source;
}

function cut(html: string, maxChars: number, maxTags: number): { source: string; tags: number } {
  const source = html.length > maxChars ? html.slice(0, maxChars) : html;
  const startTag = /<[A-Za-z]/g;
  let count = 0;
  for (let found = startTag.exec(source); found; found = startTag.exec(source)) {
    if (++count > maxTags) return { source: source.slice(0, found.index), tags: maxTags };
  }
  return { source, tags: count };
}
