/**
 * The `exp=` explanation, RFC 7208 §6.2: on `fail`, the record that produced the result names a domain
 * whose single TXT record, macro-expanded (§7, with c, r and t allowed), is the explanation. Any problem
 * (DNS error, no or several records, a bad macro, non-ASCII text) means no explanation, never another
 * result. The lookup does not count against the limits of §4.6.4 (§6.2: "not counted").
 * Which record's exp= applies is evaluate.ts's concern: an include target's never (§5.2), a redirect
 * target's instead of the original's (§6.2).
 */

import type { DnsAnswer } from '../../dns/resolver.ts';
import { expandMacro, type MacroToken, type MacroValues, parseMacroString } from './macro.ts';

export async function explain(
  spec: MacroToken[],
  /** The evaluation's TXT lookup, so that its time limit (§4.6.4) covers this query too. */
  txt: (name: string) => Promise<DnsAnswer<string>>,
  valuesFor: (tokens: MacroToken[]) => Promise<MacroValues>,
): Promise<string | undefined> {
  let target = expandMacro(spec, await valuesFor(spec)).replace(/\.$/, '');
  while (target.length > 253 && target.includes('.')) target = target.slice(target.indexOf('.') + 1); // §7.3
  if (target === '' || target.split('.').some((l) => l.length === 0 || l.length > 63)) return undefined;
  const answer = await txt(target);
  const only = answer.ok && answer.records.length === 1 ? answer.records[0] : undefined; // §6.2: exactly one
  if (only === undefined) return undefined;
  const tokens = parseMacroString(only, true); // §6.2 explain-string
  if (tokens === undefined) return undefined;
  const text = expandMacro(tokens, await valuesFor(tokens));
  return text === '' || /[^\x20-\x7e]/.test(text) ? undefined : text; // §6.2: US-ASCII only
}
