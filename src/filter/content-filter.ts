/**
 * The filter stage of the inbound pipeline (ARCHITECTURE.md, "Data walk"): after sender
 * authentication and before the store, a message goes through the header/body rules, the external
 * milters and the phishing detector, in that order, and leaves with one outcome: deliver (maybe to
 * Junk, maybe changed), quarantine, discard, reject or tempfail. The first refusal ends it.
 */

import type { Finding } from '../authentication/results.ts';
import type { FilterConfig, MilterConfig } from '../config/filter-schema.ts';
import { ConfigError } from '../config/load.ts';
import type { ClientLogBudget } from '../log/client-budget.ts';
import type { Logger } from '../log/logger.ts';
import { OutageLog } from '../log/outage.ts';
import { PolicyCounters } from '../policy/policy-counters.ts';
import type { Envelope, Peer } from '../smtp/envelope.ts';
import { type Reply, renderReply, reply } from '../smtp/replies.ts';
import type { Store } from '../store/store.ts';
import type { ContentRules, inspectMessage, RuleFinding, RuleTable } from './content-rules/index.ts';
import type { EnvelopeChanges, MilterSite, runMilter } from './milter-stage.ts';
import type { AuthenticationSummary } from './phishing/authentication-signals.ts';
import type { PhishingReport, PhishingSettings } from './phishing/detector.ts';
import { detectorSettings } from './phishing/settings.ts';
import type { PhishingMarks } from './phishing-stage.ts';
import { type PhishingAction, topReasons } from './phishing-verdict.ts';

export interface FilterRequest {
  envelope: Envelope;
  peer: Peer;
  content: Buffer;
  /** Only external senders are scored for phishing; our own users and networks are not. */
  external: boolean;
  authentication?: AuthenticationSummary;
  /** Messages seen before from the From address (store.senderHistory); undefined when unknown. */
  previousMessages?: (from: string) => Promise<number | undefined>;
  /** The client's forward-confirmed host name, when it has one: milters get it as Postfix sends it. */
  clientName?: string | undefined;
  /**
   * The client's log budget (src/log/client-budget.ts): the rule actions its messages set off are
   * lines it collects, as a restriction's are; absent, every one is written.
   */
  clientLog?: ClientLogBudget;
}

/** What the verdict was, as the store keeps it with a quarantined message and the log shows it. */
export interface FilterVerdict {
  score: number;
  category: string;
  action: string;
  reason: string;
  signals: { name: string; weight: number; en: string; ru: string; evidence?: string }[];
  /** Attached messages the detector left unopened past its limit: the verdict does not cover them. */
  unopenedAttachedMessages?: number;
}

export type FilterOutcome =
  | {
      action: 'deliver';
      content: Buffer;
      /**
       * The content before the phishing stage marked it (banner, subject tag, verdict headers), when it
       * did: for copies that leave for other domains, whose DKIM check must see what was signed and
       * whose readers get no verdict of ours.
       */
      unmarked?: Buffer;
      junk: boolean;
      verdict?: FilterVerdict;
      redirect?: string;
      /** The milters' envelope changes, in the order they ran: the caller carries them out. */
      envelope?: EnvelopeChanges;
    }
  /**
   * `redirect` and `envelope` as for a delivery: a release goes where the message would have gone
   * (Postfix keeps a held message's REDIRECT in its queue file).
   */
  | {
      action: 'quarantine';
      content: Buffer;
      /**
       * The content before the phishing stage marked it and the marks (phishing-stage.ts), when it
       * did: the entry keeps these, for a release to another domain sends the unmarked copy.
       */
      unmarked?: Buffer;
      marks?: PhishingMarks;
      verdict: FilterVerdict;
      redirect?: string;
      envelope?: EnvelopeChanges;
    }
  | { action: 'discard'; reason: string }
  | { action: 'reply'; reply: Reply; reason: string };

/** Each is checked for lookalikes on every message: enough for an organisation's real partners. */
const MAX_LEARNED_CORRESPONDENTS = 300;
/** A learned partner our users have not written to for this long is forgotten: 180 days. */
const LEARNED_CORRESPONDENT_WINDOW_MS = 180 * 86_400_000;

/** Rule actions logged per check and message; the rest are counted in one line. */
const MAX_LOGGED_FINDINGS = 10;

/**
 * `content-rule:<check>:<file:line>:<action>`, the counters `postern stats` reads (its
 * CONTENT_RULE_PREFIX): every action a rule took, the ones past the log's limit too.
 */
const COUNTER_PREFIX = 'content-rule:';

export class ContentFilter {
  readonly #config: FilterConfig;
  readonly #rules: ContentRules;
  /** Loaded only when rule files are configured (re2js is not small). */
  #inspect: typeof inspectMessage | undefined;
  /** Loaded only when milters are configured. */
  #runMilter: typeof runMilter | undefined;
  #settings: PhishingSettings;
  readonly #baseSettings: PhishingSettings;
  #refreshTimer: NodeJS.Timeout | undefined;
  #phishingStage: Promise<typeof import('./phishing-stage.ts')> | undefined;
  readonly #site: MilterSite;
  readonly #logger: Logger;
  readonly #outages = new Map<string, OutageLog>();
  /** Rule actions counted for `postern stats`; none without a store (`postern check`, tests). */
  readonly #counters: PolicyCounters | undefined;

  private constructor(
    config: FilterConfig,
    rules: ContentRules,
    settings: PhishingSettings,
    site: MilterSite,
    logger: Logger,
    counters: Pick<Store, 'addCounters'> | undefined,
  ) {
    this.#config = config;
    this.#rules = rules;
    this.#settings = settings;
    this.#baseSettings = settings;
    this.#site = site;
    this.#logger = logger;
    // Only with rules to count: a filter of milters or phishing alone keeps no flush timer.
    const hasRules = [rules.header, rules.mime, rules.nested, rules.body].some(Boolean);
    this.#counters = counters && hasRules ? new PolicyCounters(counters, logger) : undefined;
  }

  /** Reads the rule files; a missing file or a bad rule stops the start with the key, file, line and reason. */
  static async create(options: {
    config: FilterConfig;
    localDomains: readonly string[];
    hostname: string;
    logger: Logger;
    /** smtp.maxMessageSize: no milter may replace the body with a larger one. */
    maxMessageSize?: number;
    /**
     * Where the rules' actions are counted, per check, rule and action, for `postern stats`: added
     * every few seconds and on stop(), summed over the nodes as the restrictions' counts are.
     */
    counters?: Pick<Store, 'addCounters'>;
  }): Promise<ContentFilter> {
    const { config } = options;
    const rules: ContentRules = { bodySizeLimit: config.bodyChecksSizeLimit, headerSizeLimit: config.headerSizeLimit };
    const ruleFiles = {
      header: config.headerChecks,
      mime: config.mimeHeaderChecks,
      nested: config.nestedHeaderChecks,
      body: config.bodyChecks,
    };
    const keys = {
      header: 'filter.headerChecks',
      mime: 'filter.mimeHeaderChecks',
      nested: 'filter.nestedHeaderChecks',
      body: 'filter.bodyChecks',
    };
    const engine = Object.values(ruleFiles).some(Boolean) ? await import('./content-rules/index.ts') : undefined;
    for (const table of ['header', 'mime', 'nested', 'body'] as const) {
      const file = ruleFiles[table];
      if (file && engine)
        rules[table] = await loadRules(engine, keys[table], file, table === 'body' ? 'body' : 'header');
    }
    const filter = new ContentFilter(
      config,
      rules,
      detectorSettings(config, options.localDomains),
      {
        hostname: options.hostname,
        localDomains: new Set(options.localDomains.map((d) => d.toLowerCase())),
        ...(options.maxMessageSize !== undefined ? { maxMessageSize: options.maxMessageSize } : {}),
      },
      options.logger,
      options.counters,
    );
    if (engine) filter.#inspect = engine.inspectMessage;
    if (config.milters.length > 0) filter.#runMilter = (await import('./milter-stage.ts')).runMilter;
    return filter;
  }

  /**
   * Learns the frequent correspondents (config `filter.phishing.correspondentMinMessages`) now and
   * every 10 minutes until stop(): lookalikes of the domains our users often write to are
   * suspicious, as those of `partnerDomains` are. The store counts only mail our users send
   * (Store.recordCorrespondentDomains): a domain that writes to us earns nothing, or five junk
   * messages from examp1e.com would make it a partner and pass its lure. Only domains written to in
   * the last LEARNED_CORRESPONDENT_WINDOW_MS; none that lookalike.ts would call a lookalike of a
   * protected, configured partner or brand domain, nor of a learned domain written to at least as
   * often (a typo of a partner, or a partner's own typo, would otherwise flag the partner's mail).
   */
  async learnCorrespondents(source: Pick<Store, 'frequentCorrespondents'>['frequentCorrespondents']): Promise<void> {
    const minMessages = this.#config.phishing.correspondentMinMessages;
    if (!this.#config.phishing.enabled || minMessages === 0) return;
    const base = this.#baseSettings;
    const known = new Set([...base.protectedDomains, ...base.partnerDomains].map((d) => d.toLowerCase()));
    // One array for every refresh: lookalike.ts keeps it parsed by identity.
    const guarded = [...base.protectedDomains, ...base.partnerDomains, ...base.brands.flatMap((b) => b.domains)];
    // Whether one learned domain imitates another, kept while both stay learned: the pairs of a
    // refresh are mostly the last one's, and 300 × 300 comparisons cost half a second of main thread.
    let imitates = new Map<string, boolean>();
    const refresh = async () => {
      try {
        const { lookalikeOf } = await import('./phishing/lookalike.ts');
        const seenSince = new Date(Date.now() - LEARNED_CORRESPONDENT_WINDOW_MS);
        const rows = await source({ minMessages, limit: MAX_LEARNED_CORRESPONDENTS, seenSince });
        const candidates = rows.filter(({ domain }) => !known.has(domain) && !lookalikeOf(domain, guarded));
        const seen = new Map<string, boolean>();
        const learned: string[] = [];
        for (const [i, { domain, messages }] of candidates.entries()) {
          if (i % 20 === 19) await new Promise<void>((resolve) => setImmediate(resolve)); // deliveries go on
          const copies = candidates.some((other) => {
            if (other.domain === domain || other.messages < messages) return false;
            const pair = `${domain} ${other.domain}`;
            const found = imitates.get(pair) ?? lookalikeOf(domain, [other.domain]) !== undefined;
            seen.set(pair, found);
            return found;
          });
          if (!copies) learned.push(domain);
        }
        imitates = seen;
        this.#settings = { ...base, partnerDomains: [...base.partnerDomains, ...learned] };
      } catch (err) {
        this.#logger.warn({ err }, 'frequent correspondents not refreshed');
      }
    };
    await refresh();
    this.#refreshTimer = setInterval(refresh, 10 * 60_000);
    this.#refreshTimer.unref();
  }

  /** Stops the refresh and stores the rule actions not counted yet (never rejects): await it before the store closes. */
  stop(): Promise<void> {
    clearInterval(this.#refreshTimer);
    return this.#counters?.close() ?? Promise.resolve();
  }

  /** Every action a rule took, the ones the log leaves out too; a `skipped` finding is no rule's. */
  #countRuleActions(findings: readonly RuleFinding[]): void {
    if (!this.#counters) return;
    for (const finding of findings) {
      if (finding.rule === undefined) continue;
      this.#counters.add(`${COUNTER_PREFIX}${finding.check}:${finding.rule}:${finding.result}`);
    }
  }

  /**
   * Every rule action taken, as Postfix's cleanup logs header_checks and body_checks actions: WARN at
   * warn level (its only effect, header_checks(5)), the others at info. The reason names the file,
   * the line and the text that matched.
   */
  #logRuleActions(request: FilterRequest, findings: readonly Finding[]): void {
    if (findings.length === 0) return;
    const message = {
      session: request.peer.sessionId,
      id: request.envelope.id,
      client: request.peer.remoteAddress,
      from: request.envelope.mailFrom?.address ?? '',
      to: request.envelope.recipients.map((r) => r.path.address),
    };
    // A client sending message after message: each line within its budget, the rest counted there.
    const allows = (level: 'info' | 'warn') => request.clientLog?.allows(request.peer.remoteAddress, level) ?? true;
    // A WARN rule matching each of 20,000 header lines made one log line each, 20 times the message's
    // size in log: the first few of each check are logged, then one line counts the rest.
    const logged = new Map<string, number>();
    for (const finding of findings) {
      const count = (logged.get(finding.check) ?? 0) + 1;
      logged.set(finding.check, count);
      if (count > MAX_LOGGED_FINDINGS) continue;
      if (finding.result === 'skipped') {
        // A bound of inspect.ts reached (a message of many parts or lines): the rest went unmatched.
        const fields = { ...message, check: finding.check, reason: finding.reason };
        if (allows('warn')) this.#logger.warn(fields, `${finding.check}: skipped`);
        continue;
      }
      const fields = { ...message, check: finding.check, action: finding.result, rule: finding.reason };
      // A REDIRECT or PREPEND whose $n result was no address or header field: the rule did nothing.
      const level = finding.result === 'warn' || finding.result.endsWith(' ignored') ? 'warn' : 'info';
      if (allows(level)) this.#logger[level](fields, `${finding.check}: ${finding.result}`);
    }
    for (const [check, count] of logged) {
      if (count <= MAX_LOGGED_FINDINGS || !allows('warn')) continue;
      this.#logger.warn(
        { ...message, check, notLogged: count - MAX_LOGGED_FINDINGS },
        `${check}: ${count - MAX_LOGGED_FINDINGS} more rule actions not logged`,
      );
    }
  }

  /** Whether the stage has anything to do: rules, milters or phishing scoring. */
  get active(): boolean {
    return this.#inspect !== undefined || this.#runMilter !== undefined || this.#config.phishing.enabled;
  }

  /** Whether mail from outside is scored; only then is sender history worth keeping. */
  get scoresPhishing(): boolean {
    return this.#config.phishing.enabled;
  }

  async filter(request: FilterRequest): Promise<FilterOutcome> {
    let content = request.content;
    let redirect: string | undefined;
    let held: string | undefined;
    let envelope: EnvelopeChanges | undefined;
    if (this.#inspect) {
      const inspection = await this.#inspect(content, this.#rules);
      this.#logRuleActions(request, inspection.findings);
      this.#countRuleActions(inspection.findings);
      const v = inspection.verdict;
      if (v.action === 'reject') return { action: 'reply', reply: ruleReject(v.text), reason: v.because.reason };
      if (v.action === 'discard') return { action: 'discard', reason: v.because.reason };
      if (v.action === 'hold') held = v.because.reason;
      content = inspection.message ?? content;
      redirect = inspection.redirect;
    }
    let markedSpam = false;
    // Each milter line names the session, the client and the message, as every line about a message does.
    const about = { session: request.peer.sessionId, client: request.peer.remoteAddress, id: request.envelope.id };
    for (const milter of this.#runMilter ? this.#config.milters : []) {
      const outcome = await this.#runMilter!(milter, { ...request, content }, this.#site);
      const name = milter.name ?? milter.socket;
      const outage = this.#outage(name);
      if (outcome.kind === 'unavailable') {
        // An outage, not a bug of ours: said when it starts, once a minute and when it ends, with its
        // reason and without a stack (pino's serializer would repeat the cause's message).
        outage.failed({ ...about, milter: name }, outcome.error.message);
        const fallback = unavailable(milter);
        if (fallback) return { ...fallback, reason: `milter ${name} unavailable` };
        // Each message that goes on without this milter's check is named (the outage is said once).
        this.#logger.info({ ...about, milter: name }, 'milter unavailable: passed unchecked by it');
        continue;
      }
      outage.succeeded();
      for (const warning of outcome.warnings ?? []) this.#logger.warn({ ...about, milter: name }, `milter: ${warning}`);
      if (
        (outcome.kind === 'continue' || outcome.kind === 'accept' || outcome.kind === 'quarantine') &&
        outcome.headerProblems
      ) {
        for (const p of outcome.headerProblems) {
          // A warning: a milter that writes such fields is broken, or passes on what a sender wrote.
          const fields = {
            ...about,
            milter: name,
            change: p.type,
            header: p.name,
            reason: p.reason,
          };
          this.#logger.warn(
            fields,
            p.action === 'refused' ? 'milter header change refused' : 'milter header value folded',
          );
        }
      }
      if (outcome.kind === 'reply') return { action: 'reply', reply: outcome.reply, reason: `milter ${name}` };
      if (outcome.kind === 'discard') return { action: 'discard', reason: `milter ${name}` };
      if (outcome.kind === 'quarantine') held = `milter ${name}: ${outcome.reason}`;
      for (const { address, reply: refusal } of outcome.dropped ?? []) {
        // Refused at RCPT for good while the others were taken: the milter would have refused this RCPT
        // in the SMTP session; after DATA there is no bounce here, so it is left out and said here.
        const fields = { ...about, milter: name, recipient: address, reply: renderReply(refusal).trimEnd() };
        this.#logger.warn(fields, 'milter refused a recipient at RCPT: not delivered to it (no bounce sent)');
      }
      if (outcome.envelope) {
        const changes = outcome.envelope;
        if (changes.refused.length > 0) {
          const fields = { ...about, milter: name, addresses: changes.refused };
          this.#logger.warn(fields, 'milter envelope change ignored: not an address');
        }
        envelope = mergeEnvelopeChanges(envelope, changes);
      }
      content = outcome.content;
      if (outcome.kind !== 'quarantine' && outcome.spam) {
        markedSpam = true;
        this.#logger.info({ ...about, milter: name }, 'milter marked the message as spam: Junk');
      }
      // SMFIR_ACCEPT ends this milter's part only: the later milters still run, as with Postfix
      // (milter.c milter_message goes on to the next milter) and Sendmail.
    }

    let report: PhishingReport | undefined;
    let action: PhishingAction = 'none';
    let marks: PhishingMarks | undefined;
    const phishing = this.#config.phishing;
    const unmarked = content;
    if (phishing.enabled && request.external) {
      // Loaded with the first message from outside: a server that scores nothing never holds it.
      this.#phishingStage ??= import('./phishing-stage.ts');
      const scored = await (await this.#phishingStage).scorePhishing(
        content,
        request,
        this.#settings,
        phishing,
        held !== undefined,
        this.#site.maxMessageSize,
      );
      ({ content, report, action, marks } = scored);
    }
    // A HOLD rule or a milter's quarantine holds the message whatever its score; only the score marks it.
    const verdict = report ? filterVerdict(report, held ? 'quarantine' : action, held, phishing.language) : undefined;
    if (action === 'reject' && report) {
      // SMTP replies are US-ASCII (RFC 5321 §2.4): the English explanation, whatever the admin reads.
      const [reason] = topReasons(report, 'en', 1);
      // RFC 5321 §4.2.3 / RFC 3463 §3.8: 554 5.7.1, delivery not authorized, message refused.
      return {
        action: 'reply',
        reply: reply(554, '5.7.1', `Message refused as phishing (score ${report.score}): ${oneLine(reason ?? '')}`),
        reason: verdict?.reason ?? 'phishing',
      };
    }
    if (action === 'quarantine' || held) {
      return {
        action: 'quarantine',
        content,
        ...(marks && content !== unmarked ? { unmarked, marks } : {}),
        verdict: verdict ?? heldVerdict(held ?? 'held'),
        ...(redirect ? { redirect } : {}),
        ...(envelope ? { envelope } : {}),
      };
    }
    return {
      action: 'deliver',
      content,
      ...(content !== unmarked ? { unmarked } : {}),
      junk: action === 'junk' || markedSpam,
      ...(verdict ? { verdict } : {}),
      ...(redirect ? { redirect } : {}),
      ...(envelope ? { envelope } : {}),
    };
  }

  /** Each milter's outage, said once (src/log/outage.ts). */
  #outage(name: string): OutageLog {
    let outage = this.#outages.get(name);
    if (!outage) {
      outage = new OutageLog(this.#logger, { name: `milter ${name}`, level: 'warn' });
      this.#outages.set(name, outage);
    }
    return outage;
  }
}

/** One milter's changes after another's: a later sender replaces an earlier one, recipient changes follow in order. */
function mergeEnvelopeChanges(before: EnvelopeChanges | undefined, after: EnvelopeChanges): EnvelopeChanges {
  if (!before) return after;
  const mailFrom = after.mailFrom !== undefined ? after.mailFrom : before.mailFrom;
  return {
    ...(mailFrom !== undefined ? { mailFrom } : {}),
    recipients: [...before.recipients, ...after.recipients],
    refused: [...before.refused, ...after.refused],
  };
}

async function loadRules(
  engine: typeof import('./content-rules/index.ts'),
  key: string,
  path: string,
  table: 'header' | 'body',
): Promise<RuleTable> {
  try {
    return await engine.readRuleFile(path, table);
  } catch (err) {
    if (err instanceof engine.ContentRuleError) throw new ConfigError(`${key}: ${err.message}`, { cause: err });
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(`${key}: cannot read the rule file ${path}: ${code}`, { cause: err });
  }
}

function filterVerdict(
  report: PhishingReport,
  action: PhishingAction,
  held: string | undefined,
  language: 'en' | 'ru',
): FilterVerdict {
  const [top] = topReasons(report, language, 1);
  return {
    score: report.score,
    category: report.category,
    action,
    reason: held ?? (report.allowlisted ? `allow-listed (${report.allowlisted})` : (top ?? 'no signals')),
    signals: report.signals.map((s) => ({
      name: s.name,
      weight: s.weight,
      en: s.explanation.en,
      ru: s.explanation.ru,
      ...(s.evidence !== undefined ? { evidence: s.evidence } : {}),
    })),
    ...(report.unopenedAttachedMessages ? { unopenedAttachedMessages: report.unopenedAttachedMessages } : {}),
  };
}

function heldVerdict(reason: string): FilterVerdict {
  return { score: 0, category: 'generic', action: 'quarantine', reason, signals: [] };
}

function unavailable(milter: MilterConfig): { action: 'reply'; reply: Reply } | undefined {
  switch (milter.onUnavailable) {
    case 'accept':
      return undefined;
    case 'reject':
      // The sender learns that the filter was out of service, not that its message was judged.
      return { action: 'reply', reply: reply(550, '5.7.1', 'Content filter unavailable, message refused') };
    default:
      // Postfix milter_default_action=tempfail: 451 4.7.1, the client keeps the message and retries.
      return { action: 'reply', reply: reply(451, '4.7.1', 'Content filter unavailable, try again later') };
  }
}

/** Replies are one line of printable US-ASCII (RFC 5321 §4.2, §2.4). */
function oneLine(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 400);
}

/**
 * header_checks(5) REJECT: Postfix answers 550 5.7.1 with the rule's text, unless the text starts with
 * an enhanced status code (RFC 3463), which it keeps: a 4.x.x one makes the refusal temporary (Postfix's
 * cleanup defers the message), so a rule copied from Postfix to defer does not bounce mail for good.
 */
function ruleReject(text: string): Reply {
  const coded = /^([45])\.\d{1,3}\.\d{1,3}(?: +|$)/.exec(text);
  if (!coded) return reply(550, '5.7.1', text);
  const rest = text.slice(coded[0].length) || (coded[1] === '4' ? 'Try again later' : 'Message content rejected');
  return reply(coded[1] === '4' ? 451 : 550, coded[0].trim(), rest);
}
