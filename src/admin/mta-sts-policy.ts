/**
 * The MTA-STS policy our domains publish (RFC 8461 §3.2) and the id of its `_mta-sts` TXT record
 * (§3.1). One text serves every domain: it names our MX hosts (mtaSts.mx, else the hostname), the mode
 * and max_age; nodes behind one MX set must share these settings, or each serves another policy. The id is
 * derived from the text, so any change to it gives a new id, which is what tells senders to fetch the
 * policy again (§3.1: "a change in the 'id' field ... indicates a new policy"). Not here: serving the
 * file (server/mta-sts-server.ts), fetching and applying other domains' policies (outbound delivery).
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.ts';

export interface MtaStsPolicy {
  /** The policy file, lines ending in CRLF (§3.2 lets senders accept bare LF; CRLF is the form it defines). */
  text: string;
  /** The `id` of `_mta-sts.<domain>`: §3.1 allows 1 to 32 of [A-Za-z0-9]; 20 hex digits of a SHA-256. */
  id: string;
}

/** The well-known path the policy is fetched from, over HTTPS at `mta-sts.<domain>` (RFC 8461 §3.3). */
export const MTA_STS_PATH = '/.well-known/mta-sts.txt';

export function mtaStsPolicy(config: Pick<Config, 'hostname' | 'mtaSts'>): MtaStsPolicy {
  const lines = [
    'version: STSv1', // §3.2: the first field
    `mode: ${config.mtaSts.mode}`,
    // §3.2 / §4.1: each MX host must match an mx line, or senders under enforce refuse it: with several
    // nodes behind MX records, mtaSts.mx lists them all (or a *.parent wildcard); else the one hostname.
    ...(config.mtaSts.mx ?? [config.hostname]).map((pattern) => `mx: ${pattern}`),
    `max_age: ${config.mtaSts.maxAgeSeconds}`,
  ];
  const text = lines.map((line) => `${line}\r\n`).join('');
  const id = createHash('sha256').update(text).digest('hex').slice(0, 20);
  return { text, id };
}

/** The host name a domain's policy is served at (RFC 8461 §3.3). */
export function policyHost(domain: string): string {
  return `mta-sts.${domain}`;
}
