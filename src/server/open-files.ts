/**
 * Every connection is a file descriptor. When the process runs out of them, libuv accepts each new
 * connection and closes it at once (its EMFILE fallback), so clients on every port are dropped with
 * no reply and Node hears nothing (descriptor-watch.ts says it while it runs); DNS look-ups and milter
 * connections fail too. nginx warns at start when its connections exceed the open-file limit; so does
 * `serve` (and `postern check`).
 *
 * Node raises its soft limit to the hard one as it starts (as systemd advises programs that need many
 * descriptors to do; its default soft limit stays 1024 for select()'s sake, NEWS of systemd 240), so
 * what is left to warn about is a hard limit that is too low: a container's, a unit's LimitNOFILE=, or
 * a shell's `ulimit -n`, which sets both.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.ts';
import { CHALLENGE_CAPS } from '../tls/acme/listen.ts';

export interface OpenFileLimit {
  soft: number;
  /** Infinity for "unlimited". */
  hard: number;
}

/** Connections the MTA-STS policy host (mta-sts-server.ts) holds at once, and from one client address. */
export const MTA_STS_MAX_CONNECTIONS = 256;
export const MTA_STS_MAX_PER_CLIENT = 16;

/** Descriptors beside the connections: the store's files, the log, DNS sockets, certificates being read. */
export const RESERVED_DESCRIPTORS = 256;

/** This process's RLIMIT_NOFILE, from /proc (Linux); undefined where it cannot be read. */
export function readOpenFileLimit(limitsFile = '/proc/self/limits'): OpenFileLimit | undefined {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((l) => l.startsWith('Max open files'));
  const [soft, hard] = line?.slice('Max open files'.length).trim().split(/\s+/) ?? [];
  const value = (field: string | undefined) => (field === 'unlimited' ? Infinity : Number(field));
  const limit = { soft: value(soft), hard: value(hard) };
  return Number.isNaN(limit.soft) || Number.isNaN(limit.hard) ? undefined : limit;
}

/** How many descriptors the configured listeners may hold at once, at worst. */
export function descriptorsNeeded(config: Config): { needed: number; explanation: string } {
  const listeners = [
    'smtp',
    config.listen.submission && 'submission',
    config.listen.submissions && 'submissions',
  ].filter((name): name is string => typeof name === 'string');
  const perConnection = 1 + config.filter.milters.length;
  const connections = listeners.length * config.smtp.maxConnections;
  // The MTA-STS policy host's and the ACME challenge responders' own caps (mta-sts-server.ts,
  // tls/acme/listen.ts): their sockets are descriptors of this process too.
  const policyHost = config.mtaSts.listen ? MTA_STS_MAX_CONNECTIONS : 0;
  const acme = config.tls.acme;
  const responders = [acme?.http01?.listen, acme?.tlsAlpn01?.listen].filter(Boolean).length;
  const challenges = responders * CHALLENGE_CAPS.maxConnections;
  const needed = connections * perConnection + policyHost + challenges + RESERVED_DESCRIPTORS;
  const milters = perConnection > 1 ? ` and ${perConnection - 1} per milter while a message is checked` : '';
  const mtaSts = policyHost > 0 ? `, ${policyHost} for the MTA-STS policy host` : '';
  const acmeText =
    responders > 0
      ? `, ${challenges} for the ACME challenge responder${responders === 1 ? '' : 's'} (${CHALLENGE_CAPS.maxConnections} each)`
      : '';
  const explanation =
    `smtp.maxConnections ${config.smtp.maxConnections} on each of ${listeners.length} listener${listeners.length === 1 ? '' : 's'} ` +
    `(${listeners.join(', ')}), one descriptor per connection${milters}${mtaSts}${acmeText}, and ${RESERVED_DESCRIPTORS} for the store, logs and DNS`;
  return { needed, explanation };
}

/** A warning when the soft limit is below what the listeners may need; undefined when it is enough or unknown. */
export function openFileWarning(config: Config, limit = readOpenFileLimit()): string | undefined {
  if (limit === undefined) return undefined;
  const { needed, explanation } = descriptorsNeeded(config);
  if (limit.soft >= needed) return undefined;
  return (
    `the open-file limit is ${limit.soft} (hard limit ${limit.hard === Infinity ? 'unlimited' : limit.hard}) but up to ${needed} may be needed: ${explanation}; ` +
    'past the limit new connections are dropped without a reply on every port. Raise it (LimitNOFILE= in the systemd unit, ' +
    '"ulimit -n" in the shell that starts postern, nofile in /etc/security/limits.conf) or lower smtp.maxConnections'
  );
}
