/**
 * The `exp=` explanation (RFC 7208 §6.2), which mailauth does not evaluate: on `fail`, the record that
 * produced the result names a domain whose single TXT record, macro-expanded, is the explanation. Any
 * problem (DNS error, no or several records, a bad macro) means no explanation, never another result.
 * Lookups here do not count against the limits of §4.6.4 (§6.2: "not counted").
 *
 * Limitation: mailauth does not say which record's mechanism matched, so we follow `redirect=` (§6.1)
 * when the record has no `all` and no "-" mechanism of its own; exp= of an include target is never used
 * (§5.2: the included record only answers "match" or "not match").
 */

import { createRequire } from 'node:module';
import type { Resolver } from '../../dns/resolver.ts';

type MacroValues = { sender: string; ip: string; helo: string; mta: string };
const require = createRequire(import.meta.url);
const macro = require('mailauth/lib/spf/macro.js') as (input: string, values: MacroValues) => string;

const MAX_REDIRECTS = 10; // the redirect chain is bounded by the lookup limit (§4.6.4)

export async function explain(
  domain: string,
  q: { ip: string; sender: string; helo: string; hostname: string; resolver: Resolver },
): Promise<string | undefined> {
  const values: MacroValues = { sender: q.sender, ip: q.ip, helo: q.helo, mta: q.hostname };
  let current = domain;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const record = await spfRecord(current, q.resolver);
    if (record === undefined) return undefined;
    const terms = record.split(/\s+/).slice(1);
    const redirect = modifier(terms, 'redirect');
    const ownVerdict = terms.some((t) => /^-[a-z]/i.test(t) || /^[-+~?]?all$/i.test(t));
    if (redirect !== undefined && !ownVerdict) {
      current = expand(redirect, { ...values, sender: senderAt(q.sender, current) });
      if (current === '') return undefined;
      continue;
    }
    const exp = modifier(terms, 'exp');
    if (exp === undefined) return undefined;
    // §7.1: %{d} is the domain being evaluated, here the record's owner.
    const at = { ...values, sender: senderAt(q.sender, current) };
    const target = expand(exp, at);
    if (target === '') return undefined;
    const txt = await q.resolver.txt(target);
    const only = txt.ok && txt.records.length === 1 ? txt.records[0] : undefined; // §6.2: exactly one
    if (only === undefined) return undefined;
    const text = expand(only, at, false);
    return text === '' || /[^\x20-\x7e]/.test(text) ? undefined : text; // §6.2: US-ASCII only
  }
  return undefined;
}

async function spfRecord(domain: string, resolver: Resolver): Promise<string | undefined> {
  const txt = await resolver.txt(domain);
  if (!txt.ok) return undefined;
  const spf = txt.records.filter((r) => /^v=spf1(\s|$)/i.test(r)); // §4.5
  return spf.length === 1 ? spf[0]?.trim() : undefined;
}

function modifier(terms: string[], name: string): string | undefined {
  const prefix = `${name}=`;
  const term = terms.find((t) => t.toLowerCase().startsWith(prefix));
  return term?.slice(prefix.length);
}

/** mailauth takes %{d} from the sender's domain, so evaluate with the local-part at the current domain. */
function senderAt(sender: string, domain: string): string {
  return `${sender.slice(0, sender.lastIndexOf('@'))}@${domain}`;
}

/** A domain-spec loses its trailing dot (§7.3); explanation text keeps it. */
function expand(input: string, values: MacroValues, domain = true): string {
  try {
    const out = macro(input, values);
    return domain ? out.replace(/\.$/, '') : out;
  } catch {
    return ''; // a macro syntax error in exp= leaves no explanation (§6.2)
  }
}
