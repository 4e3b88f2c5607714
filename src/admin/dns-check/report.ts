/**
 * The result of `postern dns check`: one line per check, pass / warn / fail, with a fix an admin can act on;
 * the table a terminal shows, the JSON tools read, and the exit code (0 all pass, 1 warnings, 2 failures).
 * Nothing here asks DNS; the areas (names.ts, mx.ts, …) make checks, run.ts collects them.
 */

import { printable } from '../../log/printable.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail';
export type CheckArea =
  | 'names'
  | 'mx'
  | 'spf'
  | 'dkim'
  | 'dmarc'
  | 'tls-rpt'
  | 'mta-sts'
  | 'bimi'
  | 'dane'
  | 'caa'
  | 'server';

export interface Check {
  /** Stable per rule (`spf.lookups`); a rule run per item repeats it with a different `subject`. */
  id: string;
  area: CheckArea;
  status: CheckStatus;
  /** One line: what was found. */
  summary: string;
  /** What to change, in plain words; absent on a pass. */
  fix?: string;
  /** The address, selector, port or name a per-item rule is about; (id, subject) is unique. */
  subject?: string;
}

export function pass(area: CheckArea, id: string, summary: string, subject?: string): Check {
  return { id, area, status: 'pass', summary, ...(subject === undefined ? {} : { subject }) };
}

export function warn(area: CheckArea, id: string, summary: string, fix: string, subject?: string): Check {
  return { id, area, status: 'warn', summary, fix, ...(subject === undefined ? {} : { subject }) };
}

export function fail(area: CheckArea, id: string, summary: string, fix: string, subject?: string): Check {
  return { id, area, status: 'fail', summary, fix, ...(subject === undefined ? {} : { subject }) };
}

/**
 * A DNS answer we could not get (timeout, SERVFAIL): neither pass nor fail, since the record may well be
 * right (ARCHITECTURE.md principle 6; RFC 7208 §4.4 and RFC 7489 §6.6.3 keep "temporary" apart from "absent").
 */
export function couldNotCheck(area: CheckArea, id: string, query: string, reason: string, subject?: string): Check {
  const what = /timeout/i.test(reason) ? 'DNS timeout' : 'DNS error';
  const code = reason.split(' ')[0];
  // ECONNREFUSED: nothing listens at the resolver's address; REFUSED: the resolver will not answer us.
  // Either way it is our own resolver, not the zone's name servers, that the admin must look at.
  // A timeout may be either side: our resolver unreachable, or the zone's servers silent behind it.
  const fix =
    code === 'ECONNREFUSED' || code === 'EREFUSED'
      ? `The resolver this server asks (dns.servers, or the system's when it is empty) refused the query (${code}): check that it runs and answers this host.`
      : what === 'DNS timeout'
        ? `Run the check again; if it persists, check that the resolver this server asks (dns.servers, or the system's when it is empty) answers this host, then that the name servers of the zone answer ${query} (${code}).`
        : `Run the check again; if it persists, make sure the name servers of the zone answer ${query} (${code}).`;
  return warn(area, id, `could not check: ${what} looking up ${query}`, fix, subject);
}

/** 0 when every check passed, 1 with warnings only, 2 with any failure. */
export function exitCode(checks: readonly Check[]): 0 | 1 | 2 {
  if (checks.some((c) => c.status === 'fail')) return 2;
  return checks.some((c) => c.status === 'warn') ? 1 : 0;
}

const LABEL: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };
// SGR colours (ECMA-48 §8.3.117): green, yellow, red; only on a terminal, where a reader sees them.
const COLOUR: Record<CheckStatus, string> = { pass: '\x1b[32m', warn: '\x1b[33m', fail: '\x1b[31m' };
const RESET = '\x1b[0m';

/**
 * The readable table: status, area, summary, and the fix on the line below; `colour` when stdout is a TTY.
 * Summaries quote what DNS and servers answered (TXT records, certificate names), which anyone can fill
 * with control characters or escape sequences: they reach the terminal as U+FFFD (ECMA-48 §5.3).
 */
export function renderTable(domain: string, checks: readonly Check[], options: { colour: boolean }): string {
  const areaWidth = Math.max(4, ...checks.map((c) => c.area.length));
  const paint = (status: CheckStatus, text: string) => (options.colour ? `${COLOUR[status]}${text}${RESET}` : text);
  const lines = [`DNS and server check for ${printable(domain)}`, ''];
  for (const c of checks) {
    // The subject is shown when the summary does not already name it.
    const subject = c.subject === undefined || c.summary.includes(c.subject) ? '' : `[${printable(c.subject)}] `;
    lines.push(`${paint(c.status, LABEL[c.status])}  ${c.area.padEnd(areaWidth)}  ${subject}${printable(c.summary)}`);
    if (c.fix !== undefined) lines.push(`${' '.repeat(6 + areaWidth + 2)}fix: ${printable(c.fix)}`);
  }
  const counts = countByStatus(checks);
  lines.push(
    '',
    `${counts.pass} passed, ${counts.warn} ${counts.warn === 1 ? 'warning' : 'warnings'}, ${counts.fail} failed`,
  );
  return `${lines.join('\n')}\n`;
}

/** For tools: the checks as they are, with the counts and the exit code the command returns. */
export function renderJson(domain: string, checks: readonly Check[]): string {
  return `${JSON.stringify({ domain, exitCode: exitCode(checks), counts: countByStatus(checks), checks }, null, 2)}\n`;
}

function countByStatus(checks: readonly Check[]): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0 };
  for (const c of checks) counts[c.status]++;
  return counts;
}
