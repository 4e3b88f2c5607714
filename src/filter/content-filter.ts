/**
 * The filter stage of the inbound pipeline (ARCHITECTURE.md, "Data walk"): after sender
 * authentication and before the store, a message goes through the header/body rules, the external
 * milters and the phishing detector, in that order, and leaves with one outcome: deliver (maybe to
 * Junk, maybe changed), quarantine, discard, reject or tempfail. The first refusal ends it.
 */
import type { FilterConfig, MilterConfig } from '../config/filter-schema.ts';
import { ConfigError } from '../config/load.ts';
import type { Logger } from '../log/logger.ts';
import { parseMessage } from '../mime/message.ts';
import type { Envelope, Peer } from '../smtp/envelope.ts';
import { type Reply, reply } from '../smtp/replies.ts';
import { insertBanner, warningBanner } from './actions/banner.ts';
import { tagSubject } from './actions/subject-tag.ts';
import { stripVerdictHeaders, verdictHeaders } from './actions/verdict-headers.ts';
import {
  ContentRuleError,
  type ContentRules,
  inspectMessage,
  type RuleTable,
  readRuleFile,
} from './content-rules/index.ts';
import { runMilter } from './milter-stage.ts';
import type { AuthenticationSummary } from './phishing/authentication-signals.ts';
import { detectPhishing, type PhishingReport, type PhishingSettings } from './phishing/detector.ts';
import { detectorSettings } from './phishing/scan.ts';
import { type PhishingAction, phishingAction, topReasons } from './phishing-verdict.ts';

export interface FilterRequest {
  envelope: Envelope;
  peer: Peer;
  content: Buffer;
  /** Only external senders are scored for phishing; our own users and networks are not. */
  external: boolean;
  authentication?: AuthenticationSummary;
  /** Messages seen before from the From address (store.senderHistory); undefined when unknown. */
  previousMessages?: (from: string) => Promise<number | undefined>;
}

/** What the verdict was, as the store keeps it with a quarantined message and the log shows it. */
export interface FilterVerdict {
  score: number;
  category: string;
  action: string;
  reason: string;
  signals: { name: string; weight: number; en: string; ru: string; evidence?: string }[];
}

export type FilterOutcome =
  | { action: 'deliver'; content: Buffer; junk: boolean; verdict?: FilterVerdict; redirect?: string }
  | { action: 'quarantine'; content: Buffer; verdict: FilterVerdict }
  | { action: 'discard'; reason: string }
  | { action: 'reply'; reply: Reply; reason: string };

/** Each is checked for lookalikes on every message: enough for an organisation's real partners. */
const MAX_LEARNED_CORRESPONDENTS = 300;

export class ContentFilter {
  readonly #config: FilterConfig;
  readonly #rules: ContentRules;
  #settings: PhishingSettings;
  readonly #baseSettings: PhishingSettings;
  #refreshTimer: NodeJS.Timeout | undefined;
  readonly #hostname: string;
  readonly #logger: Logger;

  private constructor(
    config: FilterConfig,
    rules: ContentRules,
    settings: PhishingSettings,
    hostname: string,
    logger: Logger,
  ) {
    this.#config = config;
    this.#rules = rules;
    this.#settings = settings;
    this.#baseSettings = settings;
    this.#hostname = hostname;
    this.#logger = logger;
  }

  /** Reads the rule files; a missing file or a bad rule stops the start with the key, file, line and reason. */
  static async create(options: {
    config: FilterConfig;
    localDomains: readonly string[];
    hostname: string;
    logger: Logger;
  }): Promise<ContentFilter> {
    const { config } = options;
    const rules: ContentRules = {};
    if (config.headerChecks) rules.header = await loadRules('filter.headerChecks', config.headerChecks);
    if (config.mimeHeaderChecks) rules.mime = await loadRules('filter.mimeHeaderChecks', config.mimeHeaderChecks);
    if (config.bodyChecks) rules.body = await loadRules('filter.bodyChecks', config.bodyChecks);
    return new ContentFilter(
      config,
      rules,
      detectorSettings(config, options.localDomains),
      options.hostname,
      options.logger,
    );
  }

  /**
   * Learns the frequent correspondents from the store's sender history (config
   * `filter.phishing.correspondentMinMessages`) now and every 10 minutes until stop(): lookalikes of
   * the domains we often write with are suspicious, as those of `partnerDomains` are.
   */
  async learnCorrespondents(source: (o: { minMessages: number; limit: number }) => Promise<string[]>): Promise<void> {
    const minMessages = this.#config.phishing.correspondentMinMessages;
    if (!this.#config.phishing.enabled || minMessages === 0) return;
    const refresh = async () => {
      try {
        const learned = await source({ minMessages, limit: MAX_LEARNED_CORRESPONDENTS });
        const known = new Set([...this.#baseSettings.protectedDomains, ...this.#baseSettings.partnerDomains]);
        this.#settings = {
          ...this.#baseSettings,
          partnerDomains: [...this.#baseSettings.partnerDomains, ...learned.filter((d) => !known.has(d))],
        };
      } catch (err) {
        this.#logger.warn({ err }, 'frequent correspondents not refreshed');
      }
    };
    await refresh();
    this.#refreshTimer = setInterval(refresh, 10 * 60_000);
    this.#refreshTimer.unref();
  }

  stop(): void {
    clearInterval(this.#refreshTimer);
  }

  /** Whether mail from outside is scored; only then is sender history worth keeping. */
  get scoresPhishing(): boolean {
    return this.#config.phishing.enabled;
  }

  async filter(request: FilterRequest): Promise<FilterOutcome> {
    let content = request.content;
    let redirect: string | undefined;
    let held: string | undefined;
    if (this.#rules.header || this.#rules.mime || this.#rules.body) {
      const inspection = inspectMessage(content, this.#rules);
      const v = inspection.verdict;
      if (v.action === 'reject') {
        // header_checks(5) REJECT: Postfix answers 550 5.7.1 with the rule's text.
        return { action: 'reply', reply: reply(550, '5.7.1', v.text), reason: v.because.reason };
      }
      if (v.action === 'discard') return { action: 'discard', reason: v.because.reason };
      if (v.action === 'hold') held = v.because.reason;
      content = inspection.message ?? content;
      redirect = inspection.redirect;
    }
    for (const milter of this.#config.milters) {
      const outcome = await runMilter(milter, { ...request, content }, this.#hostname);
      const name = milter.name ?? milter.socket;
      if (outcome.kind === 'unavailable') {
        this.#logger.warn({ session: request.peer.sessionId, milter: name, err: outcome.error }, 'milter unavailable');
        const fallback = unavailable(milter);
        if (fallback) return { ...fallback, reason: `milter ${name} unavailable` };
        continue;
      }
      if (outcome.kind === 'reply') return { action: 'reply', reply: outcome.reply, reason: `milter ${name}` };
      if (outcome.kind === 'discard') return { action: 'discard', reason: `milter ${name}` };
      if (outcome.kind === 'quarantine') held = `milter ${name}: ${outcome.reason}`;
      content = outcome.content;
      if (outcome.kind === 'accept') break; // SMFIR_ACCEPT: no later filter needs to see it
    }

    let report: PhishingReport | undefined;
    let action: PhishingAction = 'none';
    const phishing = this.#config.phishing;
    if (phishing.enabled && request.external) {
      content = stripVerdictHeaders(content);
      const message = await parseMessage(content);
      const from = message.from[0]?.address;
      const previous = from && request.previousMessages ? await request.previousMessages(from) : undefined;
      report = await detectPhishing(
        {
          message,
          envelopeFrom: request.envelope.mailFrom?.address ?? '',
          ...(request.authentication ? { authentication: request.authentication } : {}),
          ...(previous !== undefined ? { previousMessages: previous } : {}),
        },
        this.#settings,
      );
      action = phishingAction(report.score, phishing.thresholds);
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
    if (report && verdict) content = this.#mark(content, report, action);
    if (action === 'quarantine' || held) {
      return { action: 'quarantine', content, verdict: verdict ?? heldVerdict(held ?? 'held') };
    }
    return {
      action: 'deliver',
      content,
      junk: action === 'junk',
      ...(verdict ? { verdict } : {}),
      ...(redirect ? { redirect } : {}),
    };
  }

  /**
   * From `warn` up: the verdict headers, the subject tag and the banner. Clean mail is left as it came
   * (only forged verdict headers were removed), so a score below `warn` changes nothing the user sees.
   */
  #mark(content: Buffer, report: PhishingReport, action: PhishingAction): Buffer {
    if (action === 'none') return content;
    const phishing = this.#config.phishing;
    let out = content;
    if (phishing.subjectTag !== '') out = tagSubject(out, phishing.subjectTag);
    if (phishing.banner.enabled) {
      const reasons = [...report.signals]
        .sort((a, b) => b.weight - a.weight)
        .slice(0, 3)
        .map((s) => s.explanation);
      out = insertBanner(
        out,
        warningBanner({ language: phishing.banner.language, reasons, template: phishing.banner.text }),
      );
    }
    const headers = verdictHeaders({
      score: report.score,
      category: report.category,
      action,
      signals: report.signals,
      threshold: phishing.thresholds.warn,
    });
    return Buffer.concat([Buffer.from(headers), out]);
  }
}

async function loadRules(key: string, path: string): Promise<RuleTable> {
  try {
    return await readRuleFile(path);
  } catch (err) {
    if (err instanceof ContentRuleError) throw new ConfigError(`${key}: ${err.message}`, { cause: err });
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
      return { action: 'reply', reply: reply(550, '5.7.1', 'Content filter refused the message') };
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
