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
    const tick = () => {
      if (this.#stopped || this.#running) return;
      this.#running = this.runOnce()
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

  /** One pass over every domain; returns and logs the changes. */
  async runOnce(): Promise<DnsCheckChange[]> {
    const { config, resolver, store, logger } = this.#options;
    const run = this.#options.run ?? (await import('./dns-check/run.ts')).runDnsCheck;
    const changes: DnsCheckChange[] = [];
    for (const domain of config.domains) {
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
