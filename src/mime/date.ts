/**
 * The Date: field, RFC 5322 §3.3 date-time, with the obsolete forms of §4.3 that real mail still
 * uses (two-digit years, named zones, comments and whitespace between tokens). Anything else is
 * null, never a guess: Date.parse's rules vary and accept far more than mail dates.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** §4.3 obs-zone: the US zones with known offsets, in minutes east of UTC. */
const NAMED_ZONES: Record<string, number> = {
  ut: 0,
  gmt: 0,
  edt: -4 * 60,
  est: -5 * 60,
  cdt: -5 * 60,
  cst: -6 * 60,
  mdt: -6 * 60,
  mst: -7 * 60,
  pdt: -7 * 60,
  pst: -8 * 60,
};

// After comments are removed: [day-of-week ","] day month year hour ":" minute [":" second] zone.
// The comma is optional and whitespace may surround ":" (obs-day-of-week, obs-hour … in §4.3).
const DATE_TIME =
  /^(?:([a-z]+)\s*,?\s*)?(\d{1,2})\s+([a-z]+)\s+(\d{2,4})\s+(\d{1,2})\s*:\s*(\d{2})(?:\s*:\s*(\d{2}))?\s*(?:([+-])(\d{2})(\d{2})|([a-z]{1,5}))$/;

export function parseDateTime(value: string): Date | null {
  const canonical = readCanonical(value);
  if (canonical !== undefined) return canonical;
  const plain = value.includes('(') ? withoutComments(value) : value; // most dates carry no comment
  const match = DATE_TIME.exec(plain.replace(/\s+/g, ' ').trim().toLowerCase());
  if (!match) return null;
  const [, dayName, day, monthName, year, hour, minute, second, sign, zoneHours, zoneMinutes, zoneName] = match;
  if (dayName !== undefined && !DAYS.includes(dayName)) return null;
  const month = MONTHS.indexOf(monthName ?? '');
  if (month < 0) return null;
  let offset: number;
  if (sign !== undefined) {
    if (!isZoneOffset(Number(zoneHours), Number(zoneMinutes))) return null;
    offset = (sign === '-' ? -1 : 1) * (Number(zoneHours) * 60 + Number(zoneMinutes));
  } else {
    // §4.3: military and other alphabetic zones "SHOULD all be considered equivalent to -0000"
    // (UTC, local offset unknown).
    offset = NAMED_ZONES[zoneName ?? ''] ?? 0;
  }
  const [d, h, m, s] = [Number(day), Number(hour), Number(minute), Number(second ?? '0')];
  return dateOf(expandYear(year ?? ''), month, d, h, m, s, offset);
}

/**
 * §3.3: the year is 1900 or later; day, hour, minute and second within their ranges (second 60 is a
 * leap second). The day must exist in its month. `offset` is the zone in minutes east of UTC.
 */
function dateOf(year: number, month: number, d: number, h: number, m: number, s: number, offset: number): Date | null {
  if (year < 1900 || d < 1 || d > daysInMonth(year, month) || h > 23 || m > 59 || s > 60) return null;
  return new Date(Date.UTC(year, month, d, h, m, s) - offset * 60_000);
}

/**
 * The form nearly every mail program writes, "Fri, 21 Nov 1997 09:55:06 -0600" (§3.3 without the
 * obsolete parts of §4.3: single spaces, four-digit year, numeric zone, at most a zone comment), read
 * char by char: every stored message has its Date read, and the general path (comments, white space,
 * a regular expression) costs several times more. Undefined for any other form, which the general
 * path then reads; for this form both give the same answer.
 */
function readCanonical(v: string): Date | null | undefined {
  let at = 0;
  if (v.length >= 5 && v.charCodeAt(3) === COMMA && v.charCodeAt(4) === SPACE) {
    if (!DAY_CODES.has(nameCode(v, 0))) return undefined;
    at = 5;
  }
  const twoDigitDay = isDigit(v, at + 1);
  const d = number(v, at, twoDigitDay ? 2 : 1);
  at += twoDigitDay ? 2 : 1;
  if (d < 0 || v.charCodeAt(at) !== SPACE || v.charCodeAt(at + 4) !== SPACE) return undefined;
  const month = MONTH_CODES.get(nameCode(v, at + 1)) ?? -1;
  at += 5;
  const year = number(v, at, 4);
  const h = number(v, at + 5, 2);
  const m = number(v, at + 8, 2);
  if (month < 0 || year < 0 || h < 0 || m < 0) return undefined;
  if (v.charCodeAt(at + 4) !== SPACE || v.charCodeAt(at + 7) !== COLON) return undefined;
  at += 10;
  let s = 0;
  if (v.charCodeAt(at) === COLON) {
    s = number(v, at + 1, 2);
    if (s < 0) return undefined;
    at += 3;
  }
  const sign = v.charCodeAt(at + 1);
  const zoneHours = number(v, at + 2, 2);
  const zoneMinutes = number(v, at + 4, 2);
  if (v.charCodeAt(at) !== SPACE || (sign !== PLUS && sign !== MINUS) || zoneHours < 0 || zoneMinutes < 0) {
    return undefined;
  }
  if (at + 6 !== v.length && !isZoneComment(v, at + 6)) return undefined;
  if (!isZoneOffset(zoneHours, zoneMinutes)) return null;
  const offset = (sign === MINUS ? -1 : 1) * (zoneHours * 60 + zoneMinutes);
  return dateOf(year, month, d, h, m, s, offset);
}

/** §3.3: the zone's four digits are hours and minutes (hhmm), so "+2400" or "-0060" is no zone. */
function isZoneOffset(hours: number, minutes: number): boolean {
  return hours <= 23 && minutes <= 59;
}

/**
 * Three letters as one number, ASCII case folded: OR-ing 0x20 turns a capital into its small letter
 * and leaves small letters alone, and no octet but a letter becomes a letter by it.
 */
function nameCode(v: string, at: number): number {
  return ((v.charCodeAt(at) | 0x20) << 16) | ((v.charCodeAt(at + 1) | 0x20) << 8) | (v.charCodeAt(at + 2) | 0x20);
}

const MONTH_CODES = new Map(MONTHS.map((name, index) => [nameCode(name, 0), index]));
const DAY_CODES = new Set(DAYS.map((name) => nameCode(name, 0)));

/**
 * A last comment naming the zone, " (UTC)" as Postfix and others write it: with no nested comment
 * and no quoted-pair, the general path reads it as white space, which it then trims.
 */
function isZoneComment(v: string, at: number): boolean {
  if (v.charCodeAt(at) !== SPACE || v.charCodeAt(at + 1) !== OPEN || v.charCodeAt(v.length - 1) !== CLOSE) return false;
  for (let i = at + 2; i < v.length - 1; i++) {
    const c = v.charCodeAt(i);
    if (c === OPEN || c === CLOSE || c === BACKSLASH) return false;
  }
  return true;
}

const SPACE = 0x20;
const OPEN = 0x28;
const CLOSE = 0x29;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const PLUS = 0x2b;
const MINUS = 0x2d;

function isDigit(v: string, at: number): boolean {
  const c = v.charCodeAt(at);
  return c >= 0x30 && c <= 0x39;
}

/** The decimal number of the `count` digits at `at`, or -1 when any of them is not a digit. */
function number(v: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    if (!isDigit(v, i)) return -1;
    n = n * 10 + v.charCodeAt(i) - 0x30;
  }
  return n;
}

/** §4.3: two-digit years 00–49 are 2000–2049, 50–99 are 1950–1999; three digits add 1900. */
function expandYear(year: string): number {
  const n = Number(year);
  if (year.length === 2) return n < 50 ? 2000 + n : 1900 + n;
  if (year.length === 3) return 1900 + n;
  return n;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The Gregorian calendar's leap years (every fourth, not centuries unless divisible by 400). */
function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 1 && leap ? 29 : (DAYS_IN_MONTH[month] as number);
}

/** §3.2.2: comments are parenthesized, may nest, and may hold quoted-pairs; they read as space. */
function withoutComments(text: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '\\' && depth > 0) i++;
    else if (char === '(') depth++;
    else if (char === ')' && depth > 0) {
      depth--;
      if (depth === 0) out += ' ';
    } else if (depth === 0) out += char;
  }
  return out;
}
