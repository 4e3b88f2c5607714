/**
 * A DMARC Policy Record (RFC 7489 §6.3, RFC 9989 §4.7), read leniently: tag names fold case and the last of
 * a repeated tag wins (RFC 6376 §3.2 would discard the record, letting spoofed mail through as "none"),
 * unknown tags are ignored (RFC 7489 §6.3), and an invalid optional value (sp= and np= included) stands at
 * its default.
 */

import type { AlignmentMode, DmarcPolicy } from './dmarc-result.ts';

export interface DmarcRecord {
  /** The TXT record as published. */
  raw: string;
  /** The policy to apply (RFC 9989 §4.10.1); undefined: the record gets no DMARC processing. */
  p?: DmarcPolicy;
  sp?: DmarcPolicy;
  np?: DmarcPolicy;
  /** RFC 7489 §6.3: `s` only when it says so; anything else is the default, relaxed. */
  adkim: AlignmentMode;
  aspf: AlignmentMode;
  /** RFC 7489 §6.3 pct: 0-100, default 100; a syntax error stands at the default. */
  pct: number;
  /** RFC 9989 §4.7 t=y: the owner is testing its policy. */
  testing: boolean;
  /** RFC 9989 §4.7 psd: y or n stop the tree walk (§4.10); u or absent do not. */
  psd?: 'y' | 'n' | 'u';
  rua?: string;
}

/**
 * RFC 7489 §6.4 / RFC 9989 §4.7: these values are ABNF literals, case-insensitive (RFC 5234 §2.3); `v` is
 * case-sensitive (hex literals) and rua/ruf are URIs, so they keep their case.
 */
const CASE_INSENSITIVE_TAGS = new Set(['p', 'sp', 'np', 'adkim', 'aspf', 'fo', 'rf', 't', 'psd']);

/**
 * RFC 9989 §4.7 "v": the first tag, value exactly "DMARC1"; the ABNF allows *WSP around "=" and a
 * case-insensitive tag name, hence [vV] and no /i flag.
 */
const VERSION = /^[vV][ \t]*=[ \t]*DMARC1[ \t]*(?:;|$)/;

const POLICIES: ReadonlySet<string> = new Set<DmarcPolicy>(['none', 'quarantine', 'reject']);

/**
 * RFC 9989 §4.8 dmarc-uri: an RFC 3986 URI (scheme ":" URI characters; "," and "!" percent-encoded), with
 * an obsolete "!size" suffix allowed. "mailto:" is valid; a bare address is not.
 */
const REPORTING_URI = /^[a-z][a-z0-9+.-]*:(?:[a-z0-9\-._~:/?#[\]@$&'()*+;=]|%[0-9a-f]{2})*$/i;
const OBS_REPORT_SIZE = /![0-9]+[kmgt]?$/i;

/** A TXT record that is a DMARC record (RFC 9989 §4.10 step 2: others are discarded). */
export function isDmarcRecord(txt: string): boolean {
  return VERSION.test(txt.trim());
}

/** The tags of a record, names lower case, last repeat winning; undefined if it is no DMARC record. */
export function parseTags(txt: string): Map<string, string> | undefined {
  if (!isDmarcRecord(txt)) return undefined;
  const tags = new Map<string, string>();
  for (const part of txt.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue; // not a tag-spec (RFC 6376 §3.2): a syntax error, ignored (RFC 7489 §6.3)
    const name = part.slice(0, eq).trim().toLowerCase();
    if (name === '') continue;
    const value = part.slice(eq + 1).trim();
    tags.set(name, CASE_INSENSITIVE_TAGS.has(name) ? value.toLowerCase() : value);
  }
  return tags;
}

export function parseDmarcRecord(txt: string): DmarcRecord | undefined {
  const tags = parseTags(txt);
  if (tags === undefined) return undefined;
  const record: DmarcRecord = {
    raw: txt.trim(),
    adkim: tags.get('adkim') === 's' ? 's' : 'r',
    aspf: tags.get('aspf') === 's' ? 's' : 'r',
    pct: pctOf(tags.get('pct')),
    testing: tags.get('t') === 'y',
  };
  const psd = tags.get('psd');
  if (psd === 'y' || psd === 'n' || psd === 'u') record.psd = psd;
  const rua = tags.get('rua');
  if (rua !== undefined) record.rua = rua;
  const [p, sp, np] = [tags.get('p'), tags.get('sp'), tags.get('np')];
  if (p !== undefined && POLICIES.has(p)) {
    record.p = p as DmarcPolicy;
    // RFC 9989 §4.8: "Syntax errors in the remainder of the record MUST be discarded in favor of default
    // values": an invalid sp= or np= is taken as absent, so sp falls back to p and np to sp (§4.7). §4.10.1
    // would instead drop the whole record (p=none with rua=, else no DMARC processing); we do not, as one
    // typo in sp= would then let forgeries of a p=reject domain through.
    if (sp !== undefined && POLICIES.has(sp)) record.sp = sp as DmarcPolicy;
    if (np !== undefined && POLICIES.has(np)) record.np = np as DmarcPolicy;
  } else if (hasReportingUri(rua)) {
    // RFC 9989 §4.10.1: a record without a valid p that asks for aggregate reports is applied as p=none;
    // without one it gets no DMARC processing (RFC 7489 §6.6.3 step 6).
    record.p = 'none';
  }
  return record;
}

/** RFC 9989 §4.10.1: rua= names at least one syntactically valid reporting URI. */
function hasReportingUri(rua: string | undefined): boolean {
  if (rua === undefined) return false;
  return rua.split(',').some((uri) => REPORTING_URI.test(uri.trim().replace(OBS_REPORT_SIZE, '')));
}

/**
 * RFC 7489 §6.3 pct: 0-100, default 100; a value out of range or not a number is a syntax error, which §6.3
 * replaces by the default (parseInt would read "pct=abc" as 0).
 */
function pctOf(value: string | undefined): number {
  if (value === undefined) return 100;
  return /^[0-9]{1,3}$/.test(value) && Number(value) <= 100 ? Number(value) : 100;
}
