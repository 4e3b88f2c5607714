/**
 * SPF check_host() (RFC 7208 §4) for the MAIL FROM identity, or HELO for the null sender (§2.4), on our
 * Resolver (evaluate.ts). Returns a result; decides no reply or verdict (§8 leaves the action to the
 * receiver). Not done here: the separate HELO check (§2.3) is the caller's, with sender postmaster@HELO;
 * Received-SPF rendering (§9.1).
 */

import type { Resolver } from '../../dns/resolver.ts';
import { parseClientAddress } from './address.ts';
import { checkHost, DEFAULT_TIME_LIMIT_MS, type Evaluation, type SpfResultCode } from './evaluate.ts';

export type { SpfResultCode };

export interface SpfResult {
  result: SpfResultCode;
  /** The domain whose policy was checked: MAIL FROM's, or HELO's for the null sender (§2.4). */
  domain: string;
  /** The `exp=` text, macro-expanded, on `fail` only (§6.2). */
  explanation?: string;
  /** The directive that matched, as written (e.g. `-all`, `ip4:192.0.2.0/24`), when one did. */
  mechanism?: string;
  /** DNS-querying terms counted against the limit of 10 (§4.6.4). */
  lookups?: number;
  /**
   * The result or its explanation used the sender's address, local part or HELO, or the time (%{s},
   * %{l}, %{h}, %{t}, §7.3): it is this check's own, not one for every sender of the domain from this IP.
   */
  senderSpecific?: boolean;
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
  /** How long the whole evaluation may take before it is a temperror (§4.6.4); 20 s unless given. */
  timeLimitMs?: number;
}

export async function checkSpf(query: SpfQuery): Promise<SpfResult> {
  // §2.4: with a null reverse-path, the identity is "postmaster" at the HELO domain.
  const sender = identity(query.sender, query.helo);
  const domain = sender.slice(sender.lastIndexOf('@') + 1).toLowerCase();
  const client = parseClientAddress(query.ip);
  if (client === undefined)
    return { result: 'permerror', domain, reason: `not an IP address: ${query.ip}`, lookups: 0 };
  const ev: Evaluation = {
    client,
    sender,
    helo: query.helo,
    hostname: query.hostname,
    resolver: query.resolver,
    lookups: 0,
    voidLookups: 0,
    deadline: Date.now() + (query.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS),
    timeLimitMs: query.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS,
    senderSpecific: false,
  };
  let host: Awaited<ReturnType<typeof checkHost>>;
  try {
    host = await checkHost(domain, ev);
  } catch (err) {
    // A Resolver answers with values; reaching here is a bug, and a doubt must not become a "fail"
    // (§2.6.6 temperror is the safe reading).
    return { result: 'temperror', domain, reason: `spf evaluation failed: ${String(err)}`, lookups: ev.lookups };
  }
  const result: SpfResult = { result: host.result, domain, reason: host.reason, lookups: ev.lookups };
  if (host.mechanism !== undefined) result.mechanism = host.mechanism;
  if (host.explanation !== undefined && host.result === 'fail') result.explanation = host.explanation;
  if (ev.senderSpecific) result.senderSpecific = true;
  return result;
}

/** §2.4: null sender → postmaster@HELO; §4.3: an empty local-part or none at all means "postmaster". */
function identity(sender: string, helo: string): string {
  if (sender === '') return `postmaster@${helo}`;
  const at = sender.lastIndexOf('@');
  if (at < 0) return `postmaster@${sender}`;
  return at === 0 ? `postmaster${sender}` : sender;
}
