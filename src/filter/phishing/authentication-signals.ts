/**
 * What sender authentication (src/authentication) found, as phishing signals: a DMARC fail, SPF and
 * DKIM failures, mail that proves no sender at all. The SMTP path hands over the live results; an
 * offline scan reads them back from our own Authentication-Results field (RFC 8601).
 */
import { authservIdOf, DKIM_PASS_CAVEAT } from '../../authentication/authentication-results.ts';
import type { Signal } from './signal.ts';

/** One result per method; undefined when the method did not run or is unknown. */
export interface AuthenticationSummary {
  spf?: string;
  /**
   * 'pass' when any signature passed for the whole body with a key not in testing mode, else 'policy'
   * when one passed only so, else the first signature's result.
   */
  dkim?: string;
  dmarc?: string;
  /** The domain DMARC evaluated (the From domain). */
  dmarcDomain?: string;
  /** The DMARC policy published for the From domain (p=, or sp=/np= for a subdomain), when one was found. */
  dmarcPolicy?: string;
  /** d= of each DKIM signature that counts as a pass (see `dkim`), lower case. */
  dkimDomains?: string[];
}

/**
 * The DKIM line of the summary from the live results: 'pass' for a signature over the whole body with
 * a key not in testing mode; 'policy' when only partial passes were found (RFC 6376 §8.2: text after
 * l= is unsigned; §3.6.1: a testing key is as no signature), as DMARC weighs them too (check-dmarc.ts);
 * else the first signature's result; undefined when there is no signature.
 */
export function dkimSummary(
  signatures: readonly { result: string; testing?: boolean; unsignedBodyBytes?: number }[],
): string | undefined {
  const passed = signatures.filter((s) => s.result === 'pass');
  if (passed.some(wholePass)) return 'pass';
  return passed.length > 0 ? 'policy' : signatures[0]?.result;
}

/** The d= of each signature that dkimSummary() takes for a pass: the domains DKIM proved. */
export function dkimPassDomains(
  signatures: readonly { result: string; domain?: string; testing?: boolean; unsignedBodyBytes?: number }[],
): string[] {
  return signatures.filter((s) => s.result === 'pass' && wholePass(s) && s.domain).map((s) => s.domain!.toLowerCase());
}

function wholePass(s: { testing?: boolean; unsignedBodyBytes?: number }): boolean {
  return !s.testing && (s.unsignedBodyBytes ?? 0) === 0;
}

/**
 * The results our server recorded: the Authentication-Results fields with our authserv-id
 * (RFC 8601 §2.2, read by the same authservIdOf() that strips forged ones; §5: fields of other
 * authserv-ids are not trusted). The first such field wins: ours is added above the sender's header.
 */
export function authenticationFromHeaders(
  headers: readonly { name: string; value: string }[],
  authservId: string,
): AuthenticationSummary | undefined {
  const id = authservIdOf(authservId);
  for (const h of headers) {
    if (h.name !== 'authentication-results') continue;
    if (authservIdOf(h.value) !== id) continue;
    const [, ...parts] = resultParts(h.value);
    const found: AuthenticationSummary = {};
    for (const { text, comments } of parts) {
      const m = /^\s*(spf|dkim|dmarc)\s*=\s*([a-z]+)/i.exec(text);
      if (!m) continue;
      const method = m[1]!.toLowerCase() as 'spf' | 'dkim' | 'dmarc';
      const written = m[2]!.toLowerCase();
      // A DKIM pass over part of the body, or with a testing key, proves no more than no signature.
      const partial = method === 'dkim' && written === 'pass' && comments.some((c) => DKIM_PASS_CAVEAT.test(c.trim()));
      const result = partial ? 'policy' : written;
      // Every domain a whole signature proved, as dkimPassDomains() gives them on the live path.
      if (method === 'dkim' && result === 'pass') {
        const d = /header\.d\s*=\s*([^\s;"]+)/i.exec(text)?.[1];
        if (d) found.dkimDomains = [...(found.dkimDomains ?? []), d.toLowerCase()];
      }
      // The first spf= is the MAIL FROM identity's (authentication-results.ts), as the live path takes;
      // a second is the HELO identity's own check (RFC 7208 §2.3).
      if (method === 'spf' && found.spf !== undefined) continue;
      // DKIM as the live path sums it: any whole pass, else any partial one, else the first result.
      if (method === 'dkim' && found.dkim === 'pass') continue;
      if (method === 'dkim' && found.dkim !== undefined && result !== 'pass' && !partial) continue;
      // Scored as the live path scores it (src/server/inbound.ts): a fail a trusted ARC sealer vouched
      // for as a pass. Read from the dmarc result's own comment, as authentication-results.ts writes
      // it; text a sender chose sits in quoted values or escaped in other comments, never there.
      const vouched = comments.some((c) => /^p=[a-z]+ dis=[a-z]+ override=trusted_forwarder$/.test(c.trim()));
      found[method] = method === 'dmarc' && result === 'fail' && vouched ? 'pass' : result;
      if (method === 'dmarc') {
        const from = /header\.from\s*=\s*([^\s;]+)/i.exec(text)?.[1];
        if (from) found.dmarcDomain = from.toLowerCase();
        // The policy that applied, from the result's own comment as authentication-results.ts writes it.
        const policy = comments.map((c) => /^p=([a-z]+) dis=[a-z]+/.exec(c.trim())?.[1]).find(Boolean);
        if (policy) found.dmarcPolicy = policy;
      }
    }
    return found;
  }
  return undefined;
}

/**
 * The `;`-separated parts of an Authentication-Results value (RFC 8601 §2.2), split at the top level
 * only: a quoted string (RFC 5322 §3.2.4) or a comment (§3.2.2, nested, with quoted pairs) is kept
 * whole, so a ";" or "(" inside either splits or opens nothing. Each part's text has its comments
 * replaced by a space; the comments' contents come apart, in order.
 */
function resultParts(value: string): { text: string; comments: string[] }[] {
  const parts: { text: string; comments: string[] }[] = [];
  let text = '';
  let comments: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '"') {
      let j = i + 1;
      while (j < value.length && value[j] !== '"') j += value[j] === '\\' ? 2 : 1;
      text += value.slice(i, j + 1);
      i = j;
    } else if (c === '(') {
      let depth = 0;
      let body = '';
      let j = i;
      for (; j < value.length; j++) {
        const d = value[j] as string;
        if (d === '\\') {
          body += value.slice(j, j + 2);
          j++;
        } else if (d === '(') {
          if (depth++ > 0) body += d;
        } else if (d === ')') {
          if (--depth === 0) break;
          body += d;
        } else body += d;
      }
      comments.push(body);
      text += ' ';
      i = j;
    } else if (c === ';') {
      parts.push({ text, comments });
      text = '';
      comments = [];
    } else text += c;
  }
  parts.push({ text, comments });
  return parts;
}

export function authenticationSignals(auth: AuthenticationSummary | undefined): Signal[] {
  if (!auth) return [];
  const signals: Signal[] = [];
  if (auth.dmarc === 'fail') {
    signals.push({
      name: 'dmarc-fail',
      group: 'authentication',
      // p=none (RFC 7489 §6.3): the owner does not claim all its mail authenticates, and mailing lists
      // that change the subject or body break its signatures (RFC 7960 §3.2.3): a fail there says little.
      weight: auth.dmarcPolicy === 'none' ? 0.5 : 2.5,
      evidence: auth.dmarcDomain,
      explanation: {
        en: `The sender's domain${auth.dmarcDomain ? ` ${auth.dmarcDomain}` : ''} did not authorise this message (DMARC fail): the From address is probably forged.`,
        ru: `Домен отправителя${auth.dmarcDomain ? ` ${auth.dmarcDomain}` : ''} не подтвердил это письмо (DMARC fail): адрес в поле From, скорее всего, подделан.`,
      },
    });
  }
  if (auth.spf === 'fail' || auth.spf === 'softfail') {
    signals.push({
      name: 'spf-fail',
      group: 'authentication',
      weight: auth.spf === 'fail' ? 1 : 0.5,
      explanation: {
        en: `The sending server is not authorised by the envelope sender's domain (SPF ${auth.spf}).`,
        ru: `Сервер-отправитель не разрешён доменом отправителя в конверте (SPF ${auth.spf}).`,
      },
    });
  }
  if (auth.dkim === 'fail' || auth.dkim === 'permerror') {
    signals.push({
      name: 'dkim-fail',
      group: 'authentication',
      weight: 0.5,
      explanation: {
        en: 'The message carries a DKIM signature that does not verify: it was changed or forged.',
        ru: 'У письма есть подпись DKIM, но она не проходит проверку: письмо изменено или подделано.',
      },
    });
  }
  const proven = auth.spf === 'pass' || auth.dkim === 'pass' || auth.dmarc === 'pass';
  if (!proven && auth.dmarc !== 'fail') {
    signals.push({
      name: 'unauthenticated',
      group: 'authentication',
      weight: 0.5,
      explanation: {
        en: 'Neither SPF nor DKIM confirms who sent this message.',
        ru: 'Ни SPF, ни DKIM не подтверждают, кто отправил это письмо.',
      },
    });
  }
  return signals;
}
