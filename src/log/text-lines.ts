/**
 * Log lines for a person at a terminal: `2026-11-29 04:35:26.319 INFO  message key=value …` instead of
 * pino's JSON, which stays the format for files, pipes and the journal (machines read those).
 *
 * Values come from clients (a HELO name, an address, a reply's text): every character that could
 * move the cursor, recolour or reorder the terminal's text (C0/C1 controls, bidi overrides) is
 * written as a \u escape, as JSON would.
 */

const LEVELS: Record<number, { label: string; colour: string }> = {
  10: { label: 'TRACE', colour: '\u001b[90m' },
  20: { label: 'DEBUG', colour: '\u001b[90m' },
  30: { label: 'INFO ', colour: '' },
  40: { label: 'WARN ', colour: '\u001b[33m' },
  50: { label: 'ERROR', colour: '\u001b[31m' },
  60: { label: 'FATAL', colour: '\u001b[1;31m' },
};
const RESET = '\u001b[0m';
/** Fields every line has, shown in its own way or not at all. */
const OWN = new Set(['level', 'time', 'msg', 'service']);
/** C0 and C1 controls, DEL, the bidi marks, embeddings, overrides and isolates, U+2028/2029, the BOM. */
const UNSAFE_OTHER = '\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff';
const UNSAFE_CHARACTERS = `[\\u0000-\\u001f${UNSAFE_OTHER}]`;
const UNSAFE = new RegExp(UNSAFE_CHARACTERS, 'g');
const HAS_UNSAFE = new RegExp(UNSAFE_CHARACTERS);
/** The same but the line feed: for a stack trace, whose lines are ours. */
const UNSAFE_BUT_LF = new RegExp(`[\\u0000-\\u0009\\u000b-\\u001f${UNSAFE_OTHER}]`, 'g');
const BARE = /^[^\s"=\\]+$/;

export interface TextOptions {
  colour: boolean;
}

/** One pino JSON line (ending in a newline) as one text line; a line that is not JSON passes as it is, escaped. */
export function textLine(json: string, options: TextOptions): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return `${escapeUnsafe(json.trimEnd())}\n`;
  }
  const level = LEVELS[Number(record.level)] ?? { label: String(record.level).padEnd(5), colour: '' };
  const time = typeof record.time === 'number' ? stamp(new Date(record.time)) : '';
  let line = `${time} ${level.label} ${message(String(record.msg ?? ''))}`;
  for (const [key, value] of Object.entries(record)) {
    if (OWN.has(key) || value === undefined) continue;
    line += ` ${escapeUnsafe(key)}=${field(key, value)}`;
  }
  if (options.colour && level.colour) line = `${level.colour}${line}${RESET}`;
  return `${line}\n`;
}

/**
 * A message that could be read as fields is written quoted: a reply's text echoes the client (`MAIL
 * FROM:<a@[1.2.3.4" session=FAKE client=6.6.6.6]>`), a milter's reply is its own, and a reader
 * splitting on key=value would take `session=FAKE` for this line's session.
 */
const FIELD_LIKE = /(?:^|\s)[^\s="]+=|"/;

function message(text: string): string {
  return FIELD_LIKE.test(text) ? quoted(text) : escapeUnsafe(text);
}

function field(key: string, value: unknown): string {
  // An error: its message, not the stack (debug level and the JSON format keep that).
  if ((key === 'err' || key === 'error') && value && typeof value === 'object' && 'message' in value) {
    return quoted(String((value as { message: unknown }).message));
  }
  if (typeof value === 'string') return BARE.test(value) && !HAS_UNSAFE.test(value) ? value : quoted(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return escapeUnsafe(escapedOnce(JSON.stringify(value)));
}

function quoted(text: string): string {
  return escapeUnsafe(escapedOnce(JSON.stringify(text)));
}

/**
 * The logger writes a control character as the six characters `\u001b` already (logger.ts safeString);
 * JSON.stringify would double that backslash here. Shown as the logger wrote it, once.
 */
function escapedOnce(json: string): string {
  return json.includes('\\\\u') ? json.replace(/\\\\(u[0-9a-f]{4})/g, '\\$1') : json;
}

/**
 * Every character that could move the cursor, recolour or reorder a terminal's text as a `\uXXXX`
 * escape (six characters of text); letters of any script are left as they are. The JSON format uses
 * it too (logger.ts): JSON's own `\u001b` is undone by any reader (`jq -r`) before the terminal.
 */
export function escapeUnsafe(text: string, keepLineFeeds = false): string {
  if (!HAS_UNSAFE.test(text)) return text;
  return text.replace(keepLineFeeds ? UNSAFE_BUT_LF : UNSAFE, asEscape);
}

function asEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** Local time, as a terminal's user reads the clock; the JSON keeps epoch milliseconds. */
function stamp(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`
  );
}
