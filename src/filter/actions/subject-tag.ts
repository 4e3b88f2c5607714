/**
 * Tagging the Subject of a suspected phishing message (issue 8), e.g. "[PHISHING?] ". The tag goes
 * in front of the field body as written, so the sender's encoded-words (RFC 2047) stay as they
 * were; a tag that is not printable ASCII is itself an encoded-word. Every other byte of the
 * message is kept.
 */
import libmime from 'libmime';
import { decodeEncodedWords } from '../../mime/encoded-word.ts';
import { lineEndOf, readRawFields, replaceRanges, splitEntity } from './mime-parts.ts';

/** RFC 5322 §2.1.1: lines SHOULD be at most 78 characters. */
const LINE_LIMIT = 78;
/** RFC 2047 §2: an encoded-word is at most 75 characters. */
const WORD_LIMIT = 75;

export function tagSubject(message: Buffer, tag: string): Buffer {
  const word = tag.trim();
  if (word === '') return message;
  const eol = lineEndOf(message);
  const { fieldsEnd } = splitEntity(message, 0, message.length);
  const subjects = readRawFields(message, 0, fieldsEnd).filter((f) => f.name === 'subject');
  if (subjects.length === 0) {
    // A last header line without its line end (a message of header fields only) is closed first.
    const before = fieldsEnd > 0 && message[fieldsEnd - 1] !== 0x0a ? eol : '';
    const field = `${before}Subject: ${encoded(word, false)}${eol}`;
    return replaceRanges(message, [{ start: fieldsEnd, end: fieldsEnd, bytes: Buffer.from(field, 'latin1') }]);
  }
  const changes: { start: number; end: number; bytes: Buffer }[] = [];
  for (const subject of subjects) {
    // RFC 6532 §3.2 allows raw UTF-8 in the field; the raw text is latin1, one char per byte.
    const shown = decodeEncodedWords(Buffer.from(subject.value, 'latin1').toString('utf8'));
    if (shown.trimStart().startsWith(word)) continue; // tagged already (by us, or a reply to it)
    const colon = subject.raw.indexOf(':');
    const lineEnd =
      message[subject.end - 1] === 0x0a
        ? message.toString('latin1', subject.start + subject.raw.length, subject.end)
        : '';
    const tagged = taggedField(subject.raw.slice(0, colon + 1), subject.raw.slice(colon + 1), word, eol);
    changes.push({ start: subject.start, end: subject.end, bytes: Buffer.from(tagged + lineEnd, 'latin1') });
  }
  return replaceRanges(message, changes);
}

/** "Subject:" and its body as written, with the tag in front and folded if the line gets long. */
function taggedField(name: string, body: string, word: string, eol: string): string {
  const original = body.replace(/^[ \t\r\n]+/, '');
  if (original === '') return `${name} ${encoded(word, false)}`;
  // RFC 2047 §6.2: the space between two encoded-words is not shown, so a tag that is an
  // encoded-word before another one carries its own space.
  const tagText = encoded(word, original.startsWith('=?'));
  const firstLine = `${name} ${tagText} ${original}`.split(/\r?\n/, 1)[0] ?? '';
  // RFC 5322 §2.2.3: folding is a line break before whitespace; unfolded, the value is the same.
  return firstLine.length > LINE_LIMIT ? `${name} ${tagText}${eol} ${original}` : `${name} ${tagText} ${original}`;
}

function encoded(word: string, spaceInside: boolean): string {
  if (/^[\x20-\x7e]*$/.test(word) && !word.includes('=?')) return word;
  return libmime.encodeWord(spaceInside ? `${word} ` : word, 'B', WORD_LIMIT);
}
