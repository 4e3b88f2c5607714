/**
 * What sender authentication (src/authentication) found, as phishing signals: a DMARC fail, SPF and
 * DKIM failures, mail that proves no sender at all. The SMTP path hands over the live results; an
 * offline scan reads them back from our own Authentication-Results field (RFC 8601).
 */
import { authservIdOf } from '../../authentication/authentication-results.ts';
import type { Signal } from './signal.ts';

/** One result per method; undefined when the method did not run or is unknown. */
export interface AuthenticationSummary {
  spf?: string;
  /** 'pass' when any signature passed, else the first signature's result. */
  dkim?: string;
  dmarc?: string;
  /** The domain DMARC evaluated (the From domain). */
  dmarcDomain?: string;
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
    const [, ...parts] = stripComments(h.value).split(';');
    // Our own comment on the dmarc result (authentication-results.ts); reasons elsewhere in the field
    // have their parentheses escaped, so none can spell it.
    const vouched = /\bdmarc=fail \(p=[a-z]+ dis=[a-z]+ override=trusted_forwarder\)/.test(h.value);
    const found: AuthenticationSummary = {};
    for (const part of parts) {
      const m = /^\s*(spf|dkim|dmarc)\s*=\s*([a-z]+)/i.exec(part);
      if (!m) continue;
      const method = m[1]!.toLowerCase() as 'spf' | 'dkim' | 'dmarc';
      const result = m[2]!.toLowerCase();
      if (method === 'dkim' && found.dkim === 'pass') continue;
      if (method === 'dkim' && found.dkim !== undefined && result !== 'pass') continue;
      // Scored as the live path scores it (src/server/inbound.ts): a fail a trusted ARC sealer vouched for as a pass.
      found[method] = method === 'dmarc' && result === 'fail' && vouched ? 'pass' : result;
      if (method === 'dmarc') {
        const from = /header\.from\s*=\s*([^\s;]+)/i.exec(part)?.[1];
        if (from) found.dmarcDomain = from.toLowerCase();
      }
    }
    return found;
  }
  return undefined;
}

function stripComments(value: string): string {
  let out = value;
  // RFC 5322 §3.2.2 comments, nested at most a few levels in practice.
  for (let i = 0; i < 4 && out.includes('('); i++) out = out.replace(/\([^()]*\)/g, ' ');
  return out;
}

export function authenticationSignals(auth: AuthenticationSummary | undefined): Signal[] {
  if (!auth) return [];
  const signals: Signal[] = [];
  if (auth.dmarc === 'fail') {
    signals.push({
      name: 'dmarc-fail',
      group: 'authentication',
      weight: 2.5,
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
