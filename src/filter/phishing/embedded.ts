/**
 * Messages attached to a message: a forward as message/rfc822 (RFC 2046 §5.2.1), message/global (RFC 6532
 * §3.5), or a file saved as .eml. The parser unpacks inline ones into the message; attached ones stay
 * files, which a reader opens with one click, attachments, links and all. They are opened a few levels
 * deep, at most MAX_ATTACHED_MESSAGES of them, and each is parsed once for every check that looks into it.
 */
import { type MessageAttachment, type ParsedMessage, parseMessageSync } from '../../mime/message.ts';
import { extensionOf } from './attachments/file-types.ts';

/** Messages attached to messages are opened this deep (1: a message attached to the one scored). */
export const MAX_ATTACHED_DEPTH = 3;

export function isAttachedMessage(a: MessageAttachment): boolean {
  return a.contentType === 'message/rfc822' || a.contentType === 'message/global' || extensionOf(a.filename) === 'eml';
}

/**
 * How many attached messages are opened for one message, at every depth, by the attachment checks and the
 * link checks together. A message of 470 attached .eml files that each carry 470 more had 221,370 of them
 * parsed, seconds of the server's one thread; real forwards carry a few.
 */
export const MAX_ATTACHED_MESSAGES = 100;

/**
 * What opening attached messages may still spend, shared by the checks of one message. The checks walk the
 * attachments in the same order (depth first, as attachedMessages does), so they open the same messages:
 * one opened already costs nothing more.
 */
export interface AttachedBudget {
  /** Messages that may still be opened. */
  left: number;
  /** Those opened, each counted once. */
  readonly opened: WeakSet<Uint8Array>;
  /** Those left closed for want of budget, each counted once. */
  readonly closed: WeakSet<Uint8Array>;
  /** How many were left closed. */
  unopened: number;
}

export function attachedBudget(max = MAX_ATTACHED_MESSAGES): AttachedBudget {
  return { left: max, opened: new WeakSet(), closed: new WeakSet(), unopened: 0 };
}

// The attachment checks and the link checks open the same attached messages: parse each once. Keyed by
// the attachment's bytes, which live as long as the parsed message that holds them. One that cannot be
// parsed is remembered as such, and not parsed again.
const parsed = new WeakMap<Uint8Array, ParsedMessage | Error>();

/** The attached message, parsed; undefined when the budget is spent. Throws for one that cannot be read. */
export function openAttachedMessage(a: MessageAttachment, budget: AttachedBudget): ParsedMessage | undefined {
  if (!budget.opened.has(a.content)) {
    if (budget.left <= 0) {
      if (!budget.closed.has(a.content)) {
        budget.closed.add(a.content);
        budget.unopened++;
      }
      return undefined;
    }
    budget.left--;
    budget.opened.add(a.content);
  }
  return parseAttachedMessage(a);
}

function parseAttachedMessage(a: MessageAttachment): ParsedMessage {
  let message = parsed.get(a.content);
  if (message === undefined) {
    try {
      message = parseMessageSync(a.content);
    } catch (error) {
      message = error instanceof Error ? error : new Error(String(error));
    }
    parsed.set(a.content, message);
  }
  if (message instanceof Error) throw message;
  return message;
}

/** An attachment's name as shown: its file name, or its type in parentheses; bidi controls written out. */
export function shownName(a: MessageAttachment, within = ''): string {
  return shown(within + (a.filename || `(${a.contentType})`));
}

/** A name as admins and users should see it: bidi controls named rather than obeyed. */
export function shown(name: string): string {
  return name.replace(
    /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu,
    (c) => `[U+${c.codePointAt(0)!.toString(16).toUpperCase()}]`,
  );
}

export interface AttachedMessage {
  message: ParsedMessage;
  /** "forward.eml", or "outer.eml → inner.eml" for one attached to an attached message. */
  name: string;
}

/**
 * The messages attached to a message, and to those, MAX_ATTACHED_DEPTH levels deep, in order (depth first),
 * as many as `budget` lets open; `budget.unopened` says how many more there were.
 */
export function attachedMessages(
  attachments: readonly MessageAttachment[],
  budget: AttachedBudget = attachedBudget(),
): AttachedMessage[] {
  const out: AttachedMessage[] = [];
  const open = (list: readonly MessageAttachment[], depth: number, within: string) => {
    for (const a of list) {
      if (!isAttachedMessage(a) || depth >= MAX_ATTACHED_DEPTH) continue;
      try {
        const message = openAttachedMessage(a, budget);
        if (message === undefined) continue;
        const name = shownName(a, within);
        out.push({ message, name });
        open(message.attachments, depth + 1, `${name} → `);
      } catch {
        // A message we cannot read says nothing; the others still count.
      }
    }
  };
  open(attachments, 0, '');
  return out;
}
