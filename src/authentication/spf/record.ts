/**
 * An SPF record's syntax, RFC 7208 §4.6 and the ABNF of §12: terms (mechanisms §5, modifiers §6) parsed
 * into values once, so evaluation never meets text it cannot read. Any syntax error anywhere makes the
 * whole record a permerror (§4.6: "without further interpretation"), so parsing comes before any match.
 * Not here: record selection (§4.5, evaluate.ts) and what the terms mean (evaluate.ts).
 */

import { parseIp4, parseIp6 } from './address.ts';
import { type MacroToken, parseMacroString } from './macro.ts';

export type Qualifier = '+' | '-' | '~' | '?'; // §4.6.2

export type Mechanism = { qualifier: Qualifier; text: string } & (
  | { kind: 'all' }
  | { kind: 'include' | 'exists'; domain: MacroToken[] }
  | { kind: 'a' | 'mx'; domain?: MacroToken[]; cidr4: number; cidr6: number }
  | { kind: 'ptr'; domain?: MacroToken[] }
  | { kind: 'ip4' | 'ip6'; network: Uint8Array; prefix: number }
);

export interface SpfRecord {
  mechanisms: Mechanism[];
  /** §6.1 redirect=, §6.2 exp=: each at most once (§6). */
  redirect?: MacroToken[];
  exp?: MacroToken[];
}

export type ParsedRecord = { ok: true; record: SpfRecord } | { ok: false; error: string };

/** §4.5: a record begins with exactly "v=spf1", then SP or the end (ABNF literals are case-insensitive). */
export function isSpfRecord(txt: string): boolean {
  return /^v=spf1( |$)/i.test(txt);
}

export function parseRecord(txt: string): ParsedRecord {
  const record: SpfRecord = { mechanisms: [] };
  // §12: record = version terms *SP; terms = *( 1*SP ( directive / modifier ) )
  for (const term of txt.slice(6).split(' ')) {
    if (term === '') continue;
    const modifier = /^([a-z][a-z0-9\-_.]*)=(.*)$/i.exec(term);
    if (modifier !== null) {
      const name = (modifier[1] as string).toLowerCase();
      const value = modifier[2] as string;
      if (name === 'redirect' || name === 'exp') {
        // §6: "MUST NOT appear in a record more than once each. If they do, then check_host() exits with
        // a result of permerror."
        if (record[name] !== undefined) return bad(`${name}= appears twice (RFC 7208 §6)`);
        const domain = parseDomainSpec(value);
        if (domain === undefined) return bad(`bad domain-spec in ${shown(term)} (RFC 7208 §6, §7.1)`);
        record[name] = domain;
      } else if (parseMacroString(value) === undefined) {
        // §6: unknown modifiers are ignored, but must still match the unknown-modifier ABNF (§12)
        return bad(`bad macro-string in ${shown(term)} (RFC 7208 §12)`);
      }
      continue;
    }
    const mechanism = parseMechanism(term);
    if (mechanism === undefined) return bad(`bad term ${shown(term)} (RFC 7208 §4.6, §5)`);
    record.mechanisms.push(mechanism);
  }
  return { ok: true, record };
}

function bad(error: string): ParsedRecord {
  return { ok: false, error };
}

/** A term as a reason quotes it: a term can be most of a 64 KB record, and reasons go to logs and headers. */
function shown(term: string): string {
  return term.length > 100 ? `${term.slice(0, 100)}...` : term;
}

function parseMechanism(term: string): Mechanism | undefined {
  let qualifier: Qualifier = '+'; // §4.6.2: the default qualifier is "+"
  let rest = term;
  if ('+-~?'.includes(term[0] as string)) {
    qualifier = term[0] as Qualifier;
    rest = term.slice(1);
  }
  const m = /^([a-z0-9]+)(.*)$/i.exec(rest);
  if (m === null) return undefined;
  const name = (m[1] as string).toLowerCase();
  const arg = m[2] as string;
  const base = { qualifier, text: term };
  switch (name) {
    case 'all': // §5.1: "all" takes no argument
      return arg === '' ? { ...base, kind: 'all' } : undefined;
    case 'include': // §5.2, §5.7: a domain-spec is required
    case 'exists': {
      const domain = arg.startsWith(':') ? parseDomainSpec(arg.slice(1)) : undefined;
      return domain === undefined ? undefined : { ...base, kind: name, domain };
    }
    case 'ptr': {
      // §5.5: "ptr" [ ":" domain-spec ]
      if (arg === '') return { ...base, kind: 'ptr' };
      const domain = arg.startsWith(':') ? parseDomainSpec(arg.slice(1)) : undefined;
      return domain === undefined ? undefined : { ...base, kind: 'ptr', domain };
    }
    case 'a': // §5.3, §5.4: name [ ":" domain-spec ] [ dual-cidr-length ]
    case 'mx': {
      const cidr = /^(.*?)(?:\/(\d+))?(?:\/\/(\d+))?$/.exec(arg) as RegExpExecArray;
      const [, spec = '', v4, v6] = cidr;
      const cidr4 = prefixLength(v4, 32);
      const cidr6 = prefixLength(v6, 128);
      if (cidr4 === undefined || cidr6 === undefined) return undefined;
      if (spec === '') return { ...base, kind: name, cidr4, cidr6 };
      const domain = spec.startsWith(':') ? parseDomainSpec(spec.slice(1)) : undefined;
      return domain === undefined ? undefined : { ...base, kind: name, domain, cidr4, cidr6 };
    }
    case 'ip4': {
      // §5.6: "ip4" ":" ip4-network [ ip4-cidr-length ]
      const m4 = /^:([^/]*)(?:\/(\d+))?$/.exec(arg);
      const network = m4 === null ? undefined : parseIp4(m4[1] as string);
      const prefix = prefixLength(m4?.[2], 32);
      if (network === undefined || prefix === undefined) return undefined;
      return { ...base, kind: 'ip4', network, prefix };
    }
    case 'ip6': {
      const m6 = /^:([^/]*)(?:\/(\d+))?$/.exec(arg);
      const network = m6 === null ? undefined : parseIp6(m6[1] as string);
      const prefix = prefixLength(m6?.[2], 128);
      if (network === undefined || prefix === undefined) return undefined;
      return { ...base, kind: 'ip6', network, prefix };
    }
    default:
      return undefined; // §4.6: an unknown mechanism is a syntax error → permerror
  }
}

/** §12: ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT), at most 32; ip6 likewise, at most 128 (§5.6). */
function prefixLength(digits: string | undefined, max: number): number | undefined {
  if (digits === undefined) return max;
  if (digits.length > 1 && digits[0] === '0') return undefined;
  const n = Number(digits);
  return n <= max ? n : undefined;
}

/**
 * §7.1: domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand.
 * A TXT record can be 64 KB of the attacker's text, parsed before any limit applies: every test here is
 * one pass over the spec, with no regex that can backtrack.
 */
export function parseDomainSpec(spec: string): MacroToken[] | undefined {
  const tokens = parseMacroString(spec);
  if (tokens === undefined || tokens.length === 0) return undefined;
  if (endsInMacroExpand(spec)) return tokens;
  const body = spec.endsWith('.') ? spec.slice(0, -1) : spec;
  const dot = body.lastIndexOf('.');
  if (dot < 0) return undefined;
  return isToplabel(body.slice(dot + 1)) ? tokens : undefined;
}

/**
 * §7.1: macro-expand = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-". Read
 * left to right, as only that tells "%%{d}" (an escaped "%", then "{d}") from "%{d}". `spec` has parsed
 * as a macro-string, so every "%{" has its "}".
 */
function endsInMacroExpand(spec: string): boolean {
  let lastExpandEnd = -1;
  for (let i = spec.indexOf('%'); i >= 0; i = spec.indexOf('%', lastExpandEnd + 1)) {
    lastExpandEnd = spec[i + 1] === '{' ? spec.indexOf('}', i) : i + 1;
    if (lastExpandEnd < 0) return false;
  }
  return lastExpandEnd === spec.length - 1;
}

/** §12: toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ). */
function isToplabel(label: string): boolean {
  if (!/^[a-z0-9-]+$/i.test(label)) return false;
  if (!label.includes('-')) return /[a-z]/i.test(label); // not all digits: not an IP address's last part
  return !label.startsWith('-') && !label.endsWith('-');
}
