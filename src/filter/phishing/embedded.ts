/**
 * Messages attached to a message: a forward as message/rfc822 (RFC 2046 §5.2.1), message/global (RFC 6532
 * §3.5), or a file saved as .eml. The parser unpacks inline ones into the message; attached ones stay
 * files, which a reader opens with one click, attachments, links and all. They are opened a few levels
 * deep, and each is parsed once for every check that looks into it.
 */
import { type MessageAttachment, type ParsedMessage, parseMessageSync } from '../../mime/message.ts';
import { extensionOf } from './attachments/file-types.ts';

/** Messages attached to messages are opened this deep (1: a message attached to the one scored). */
export const MAX_ATTACHED_DEPTH = 3;

export function isAttachedMessage(a: MessageAttachment): boolean {
  return a.contentType === 'message/rfc822' || a.contentType === 'message/global' || extensionOf(a.filename) === 'eml';
}

// The attachment checks and the link checks open the same attached messages: parse each once. Keyed by
// the attachment's bytes, which live as long as the parsed message that holds them.
const parsed = new WeakMap<Uint8Array, ParsedMessage>();

/** The attached message, parsed. */
export function parseAttachedMessage(a: MessageAttachment): ParsedMessage {
  let message = parsed.get(a.content);
  if (message === undefined) {
    message = parseMessageSync(a.content);
    parsed.set(a.content, message);
  }
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

/** The messages attached to a message, and to those, MAX_ATTACHED_DEPTH levels deep, in order. */
export function attachedMessages(attachments: readonly MessageAttachment[]): AttachedMessage[] {
  const out: AttachedMessage[] = [];
  const open = (list: readonly MessageAttachment[], depth: number, within: string) => {
    for (const a of list) {
      if (!isAttachedMessage(a) || depth >= MAX_ATTACHED_DEPTH) continue;
      try {
        const message = parseAttachedMessage(a);
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
