/**
 * SPF check_host() (RFC 7208 §4) for the MAIL FROM identity, or HELO for the null sender (§2.4), on
 * mailauth's evaluator with our Resolver behind it (mailauth-resolver.ts). Returns a result; decides no
 * reply or verdict (§8 leaves the action to the receiver). Not done here: the separate HELO check (§2.3),
 * Received-SPF rendering (§9.1). mailauth does not report which mechanism matched, so `mechanism` is unset.
 */

import { spf } from 'mailauth/lib/spf/index.js';
import type { Resolver } from '../../dns/resolver.ts';
import { mailauthResolver } from '../mailauth-resolver.ts';
import { explain } from './explanation.ts';

export type SpfResultCode = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror'; // §2.6

export interface SpfResult {
  result: SpfResultCode;
  /** The domain whose policy was checked: MAIL FROM's, or HELO's for the null sender (§2.4). */
  domain: string;
  /** The `exp=` text, macro-expanded, on `fail` only (§6.2). */
  explanation?: string;
  mechanism?: string;
  /** DNS-querying terms counted against the limit of 10 (§4.6.4). */
  lookups?: number;
  reason: string;
}

export interface SpfQuery {
  ip: string;
  /** The MAIL FROM address; '' for the null sender. */
  sender: string;
  helo: string;
  resolver: Resolver;
  /** Our host name, for the %{r} macro (§7.3). */
  hostname: string;
}

const RESULTS: readonly SpfResultCode[] = ['pass', 'fail', 'softfail', 'neutral', 'none', 'permerror', 'temperror'];

export async function checkSpf(query: SpfQuery): Promise<SpfResult> {
  // §2.4: with a null reverse-path, the identity is "postmaster" at the HELO domain.
  const sender = identity(query.sender, query.helo);
  let response: Awaited<ReturnType<typeof spf>>;
  try {
    response = await spf({
      ip: query.ip,
      sender,
      helo: query.helo,
      mta: query.hostname,
      resolver: mailauthResolver(query.resolver),
    } as Parameters<typeof spf>[0]);
  } catch (err) {
    // mailauth turns DNS failures into results itself; reaching here is a bug in it or in us, and a doubt
    // must not become a "fail" (§2.6.6 temperror is the safe reading).
    return { result: 'temperror', domain: domainOf(sender), reason: `spf evaluation failed: ${String(err)}` };
  }
  const code = response.status.result as SpfResultCode;
  const result: SpfResult = {
    result: RESULTS.includes(code) ? code : 'temperror',
    domain: response.domain ?? domainOf(sender),
    reason: response.status.comment || code,
  };
  const lookups = (response as { lookups?: { count?: number } }).lookups?.count;
  if (typeof lookups === 'number') result.lookups = lookups;
  if (result.result === 'fail') {
    const explanation = await explain(result.domain, { ...query, sender }).catch(() => undefined);
    if (explanation !== undefined) result.explanation = explanation;
  }
  return result;
}

/** §2.4: null sender → postmaster@HELO; §4.3: an empty local-part or none at all means "postmaster". */
function identity(sender: string, helo: string): string {
  if (sender === '') return `postmaster@${helo}`;
  const at = sender.lastIndexOf('@');
  if (at < 0) return `postmaster@${sender}`;
  return at === 0 ? `postmaster${sender}` : sender;
}

function domainOf(sender: string): string {
  return sender.slice(sender.lastIndexOf('@') + 1).toLowerCase();
}
