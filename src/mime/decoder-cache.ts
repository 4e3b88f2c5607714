/**
 * TextDecoders by charset label, shared by every message. At most MAX_ENTRIES labels are kept, and
 * none longer than a charset name: the labels come from mail, and caching each one a message names
 * (or a 5 MB "charset") kept attacker-chosen strings in memory for the life of the process. A label
 * no decoder reads is kept too, as unknown: trying it again threw and caught an exception for every
 * encoded word that named it.
 */
import type { TextDecoder } from 'node:util';

/** RFC 2978 §2.3: a registered charset name is at most 40 characters; a longer label names none. */
const MAX_LABEL_LENGTH = 40;
/** Far more than the labels real mail uses (utf-8, windows-1251, koi8-r, iso-2022-jp, their aliases). */
const MAX_ENTRIES = 256;

export class DecoderCache {
  /** null: the label names no charset a decoder reads. */
  readonly #decoders = new Map<string, TextDecoder | null>();

  /** The decoder for `label` (already lower-cased and trimmed), made by `make` the first time. */
  get(label: string, make: (label: string) => TextDecoder | undefined): TextDecoder | undefined {
    if (label.length > MAX_LABEL_LENGTH) return undefined;
    const known = this.#decoders.get(label);
    if (known !== undefined) return known ?? undefined;
    const made = make(label);
    if (this.#decoders.size >= MAX_ENTRIES) this.#decoders.clear();
    this.#decoders.set(label, made ?? null);
    return made;
  }

  get size(): number {
    return this.#decoders.size;
  }
}
