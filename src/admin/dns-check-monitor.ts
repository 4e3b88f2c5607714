/**
 * `postern serve` runs `dns check` for each of its domains every `dnsCheckIntervalMinutes` and logs what
 * changed: a record someone edited, an expiring certificate, a DNS provider's outage. The first pass
 * logs the whole picture once; later passes only the checks whose status moved (worse at warn level,
 * better at info) or whose finding changed under the same status (p=reject edited to p=none under an
 * already-warning check, a record's text): at warn level while the check is not a pass, else info.
 * The admin UI will read the same results.
 */

import type { Config } from '../config/schema.ts';
import type { Resolver } from '../dns/resolver.ts';
import type { Logger } from '../log/logger.ts';
import type { Store } from '../store/store.ts';
import type { Check, CheckStatus } from './dns-check/report.ts';
import type { DnsCheckOptions } from './dns-check/run.ts';

export interface DnsCheckChange {
  domain: string;
  check: string;
  subject?: string;
  /** undefined on the first pass, or for a check that is new. */
  from?: CheckStatus;
  to: CheckStatus;
  summary: string;
  /** The summary before, when the status stayed and only the finding changed. */
  was?: string;
  fix?: string;
}

export interface DnsCheckMonitorOptions {
  config: Config;
  resolver: Resolver;
  store: Store;
  logger: Logger;
  /** Injectable for tests: the checks (src/admin/dns-check/run.ts) with their probes and fetches. */
  run?: (domain: string, options: DnsCheckOptions) => Promise<Check[]>;
}

const RANK: Record<CheckStatus, number> = { pass: 0, warn: 1, fail: 2 };

/**
 * Why the periodic check leaves `domain` out, or undefined: a reserved domain, or a mail host name that
 * is not public (every check looks the mail host up and probes it).
 */
export function notPublic(domain: string, hostname: string): string | undefined {
  const own = reservedName(domain);
  if (own !== undefined) return own;
  const host = reservedName(hostname);
  return host === undefined ? undefined : `its mail host ${hostname} is ${host}`;
}

/**
 * Why `name` is no name of the public DNS, or undefined: the periodic check would look up someone
 * else's domain (example.com is IANA's) and probe its ports from this machine, for nothing.
 */
export function reservedName(name: string): string | undefined {
  const lower = name.toLowerCase().replace(/\.$/, '');
  const under = (suffix: string) => lower === suffix || lower.endsWith(`.${suffix}`);
  // RFC 2606 §3 (RFC 6761 §6.5): the second-level names reserved for documentation.
  if (['example.com', 'example.net', 'example.org'].some(under))
    return 'a name reserved for documentation by RFC 2606 §3';
  // RFC 6761 §6.2-6.5: test., localhost., invalid. and example. never resolve in the public DNS.
  for (const tld of ['test', 'localhost', 'invalid', 'example']) {
    if (under(tld)) return `a special-use name under .${tld}, RFC 6761 §6`;
  }
  // Names only a local network resolves: .local (RFC 6762 §3), home.arpa. (RFC 8375 §4), and the
  // .localdomain an unqualified machine name gets (src/config/schema.ts defaultHostname).
  for (const tld of ['local', 'home.arpa', 'localdomain', 'internal', 'lan']) {
    if (under(tld)) return `a name only a local network resolves, under .${tld}`;
  }
  if (!lower.includes('.')) return 'a single-label name, which the public DNS does not serve';
  return undefined;
}

export class DnsCheckMonitor {
  readonly #options: DnsCheckMonitorOptions;
  /** Per domain: status and summary by check id and subject. */
  readonly #last = new Map<string, Map<string, { status: CheckStatus; summary: string }>>();
  #first: NodeJS.Timeout | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(options: DnsCheckMonitorOptions) {
    this.#options = options;
  }

  /**
   * Runs after `firstAfterMs` (not at start: the listeners should be up and answering when the server
   * probes itself), then every `intervalMs`; a slow pass is never overlapped by the next.
   */
  start(intervalMs: number, firstAfterMs = 60_000): void {
    const { config, logger } = this.#options;
    // The built-in checks look the names up in the public DNS and probe the mail host from here; an
    // injected run judges for itself.
    const why = (domain: string) => (this.#options.run ? undefined : notPublic(domain, config.hostname));
    const skipped = config.domains.filter((domain) => why(domain) !== undefined);
    if (skipped.length > 0) {
      logger.info(
        { domains: skipped },
        `dns check: no periodic check of ${skipped.map((domain) => `${domain} (${why(domain)})`).join(', ')}: senders on the internet cannot reach this server by it; "postern dns check <domain>" still checks it by hand`,
      );
    }
    const domains = config.domains.filter((domain) => !skipped.includes(domain));
    if (domains.length === 0) return; // no timer at all
    const tick = () => {
      if (this.#stopped || this.#running) return;
      this.#running = this.runOnce(domains)
        .catch((err: unknown) => this.#options.logger.error({ err }, 'dns check: the periodic check failed'))
        .finally(() => {
          this.#running = undefined;
        });
    };
    this.#first = setTimeout(() => {
      tick();
      this.#timer = setInterval(tick, intervalMs);
      this.#timer.unref();
    }, firstAfterMs);
    this.#first.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#first);
    clearInterval(this.#timer);
    await this.#running;
  }

  /** One pass over `domains` (every domain by default); returns and logs the changes. */
  async runOnce(domains: readonly string[] = this.#options.config.domains): Promise<DnsCheckChange[]> {
    const { config, resolver, store, logger } = this.#options;
    const run = this.#options.run ?? (await import('./dns-check/run.ts')).runDnsCheck;
    const changes: DnsCheckChange[] = [];
    for (const domain of domains) {
      if (this.#stopped) break;
      const checks = await run(domain, { config, resolver, store });
      const previous = this.#last.get(domain);
      const now = new Map<string, { status: CheckStatus; summary: string }>();
      for (const check of checks) {
        const key = `${check.id} ${check.subject ?? ''}`;
        now.set(key, { status: check.status, summary: check.summary });
        const before = previous?.get(key);
        if (before?.status === check.status && before.summary === check.summary) continue;
        if (previous === undefined && check.status === 'pass') continue; // the first pass reports problems only
        const same = before?.status === check.status;
        changes.push({
          domain,
          check: check.id,
          ...(check.subject === undefined ? {} : { subject: check.subject }),
          ...(before === undefined ? {} : { from: before.status }),
          to: check.status,
          summary: check.summary,
          ...(same ? { was: before.summary } : {}),
          ...(check.fix === undefined ? {} : { fix: check.fix }),
        });
      }
      this.#last.set(domain, now);
      if (previous === undefined) {
        const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
        logger.info(
          { domain, pass: count('pass'), warn: count('warn'), fail: count('fail') },
          `dns check of ${domain}: ${count('fail')} failed, ${count('warn')} warnings (postern dns check ${domain} shows all)`,
        );
      }
    }
    for (const change of changes) {
      const what = `dns check ${change.domain}: ${change.check}${change.subject ? ` (${change.subject})` : ''}`;
      if (change.was !== undefined) {
        // Same status, another finding: a problem that changed is still a problem.
        const text = `${what} still ${change.to}, now: ${change.summary} (was: ${change.was})`;
        if (change.to === 'pass') logger.info({ ...change }, text);
        else logger.warn({ ...change }, text);
        continue;
      }
      const worse = change.from === undefined ? change.to !== 'pass' : RANK[change.to] > RANK[change.from];
      const text = `${what} ${change.from ?? 'now'} → ${change.to}: ${change.summary}`;
      if (worse) logger.warn({ ...change }, text);
      else logger.info({ ...change }, text);
    }
    return changes;
  }
}
