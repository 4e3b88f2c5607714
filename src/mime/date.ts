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
  const plain = value.includes('(') ? withoutComments(value) : value; // most dates carry no comment
  const match = DATE_TIME.exec(plain.replace(/\s+/g, ' ').trim().toLowerCase());
  if (!match) return null;
  const [, dayName, day, monthName, year, hour, minute, second, sign, zoneHours, zoneMinutes, zoneName] = match;
  if (dayName !== undefined && !DAYS.includes(dayName)) return null;
  const month = MONTHS.indexOf(monthName ?? '');
  if (month < 0) return null;
  const fullYear = expandYear(year ?? '');
  const [d, h, m, s] = [Number(day), Number(hour), Number(minute), Number(second ?? '0')];
  // §3.3: the year is 1900 or later; day, hour, minute and second within their ranges (second 60
  // is a leap second). The day must exist in its month.
  if (fullYear < 1900 || d < 1 || d > daysInMonth(fullYear, month) || h > 23 || m > 59 || s > 60) return null;
  let offset: number;
  if (sign !== undefined) {
    if (Number(zoneMinutes) > 59) return null;
    offset = (sign === '-' ? -1 : 1) * (Number(zoneHours) * 60 + Number(zoneMinutes));
  } else {
    // §4.3: military and other alphabetic zones "SHOULD all be considered equivalent to -0000"
    // (UTC, local offset unknown).
    offset = NAMED_ZONES[zoneName ?? ''] ?? 0;
  }
  return new Date(Date.UTC(fullYear, month, d, h, m, s) - offset * 60_000);
}

/** §4.3: two-digit years 00–49 are 2000–2049, 50–99 are 1950–1999; three digits add 1900. */
function expandYear(year: string): number {
  const n = Number(year);
  if (year.length === 2) return n < 50 ? 2000 + n : 1900 + n;
  if (year.length === 3) return 1900 + n;
  return n;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
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
