/**
 * The phishing part of the filter stage, loaded with the first message from outside: forged verdict
 * headers out, the message parsed and scored (src/filter/phishing), and from `warn` up the verdict
 * headers, the subject tag and the warning banner. Clean mail is left as it came, so a score below
 * `warn` changes nothing the user sees.
 */
import type { PhishingConfig } from '../config/filter-schema.ts';
import { parseMessage } from '../mime/message.ts';
import type { Envelope } from '../smtp/envelope.ts';
import { type Banner, insertBanner, warningBanner } from './actions/banner.ts';
import { tagSubject } from './actions/subject-tag.ts';
import { stripVerdictHeaders, verdictHeaders } from './actions/verdict-headers.ts';
import type { AuthenticationSummary } from './phishing/authentication-signals.ts';
import { detectPhishing, type PhishingReport, type PhishingSettings } from './phishing/detector.ts';
import { type PhishingAction, phishingAction } from './phishing-verdict.ts';

export interface PhishingRequest {
  envelope: Envelope;
  authentication?: AuthenticationSummary;
  previousMessages?: (from: string) => Promise<number | undefined>;
}

export async function scorePhishing(
  content: Buffer,
  request: PhishingRequest,
  settings: PhishingSettings,
  config: PhishingConfig,
  held = false,
  /** smtp.maxMessageSize: a banner that would make the message larger wraps it instead (banner.ts). */
  maxMessageSize?: number,
): Promise<{ content: Buffer; report: PhishingReport; action: PhishingAction; marks?: PhishingMarks }> {
  const stripped = stripVerdictHeaders(content);
  const message = await parseMessage(stripped);
  const from = message.from[0]?.address;
  const previous = from && request.previousMessages ? await request.previousMessages(from) : undefined;
  const report = await detectPhishing(
    {
      message,
      envelopeFrom: request.envelope.mailFrom?.address ?? '',
      ...(request.authentication ? { authentication: request.authentication } : {}),
      ...(previous !== undefined ? { previousMessages: previous } : {}),
    },
    settings,
  );
  const scored = phishingAction(report.score, config.thresholds);
  // A HOLD rule or a milter's quarantine holds the message whatever its score (docs/content-protection.md):
  // a score that marks it says so in its verdict header, which Sieve rules read after a release.
  const action = held && scored !== 'none' ? 'quarantine' : scored;
  if (action === 'none') return { content: stripped, report, action };
  const marks = markings(report, action, config, maxMessageSize);
  return { content: applyMarks(stripped, marks), report, action, marks };
}

/**
 * What the phishing stage adds to a message it marks, apart from the message: a quarantine entry
 * keeps them with its verdict (as JSON) and the content as it came, so that a release to another
 * domain sends what was signed and a release here gets exactly these marks.
 */
export interface PhishingMarks {
  /** The verdict header fields, with their line ends. */
  headers: string;
  /** config.subjectTag; '' for none. */
  subjectTag: string;
  banner?: Banner;
  /** smtp.maxMessageSize when marked: a banner that would pass it wraps the message instead. */
  maxSize?: number;
}

function markings(
  report: PhishingReport,
  action: PhishingAction,
  config: PhishingConfig,
  maxSize: number | undefined,
): PhishingMarks {
  const headers = verdictHeaders({
    score: report.score,
    category: report.category,
    action,
    signals: report.signals,
    threshold: config.thresholds.warn,
  });
  let banner: Banner | undefined;
  if (config.banner.enabled) {
    const reasons = [...report.signals]
      .sort((a, b) => b.weight - a.weight)
      .slice(0, 3)
      .map((s) => s.explanation);
    banner = warningBanner({ language: config.banner.language, reasons, template: config.banner.text });
  }
  return {
    headers,
    subjectTag: config.subjectTag,
    ...(banner ? { banner } : {}),
    ...(maxSize !== undefined ? { maxSize } : {}),
  };
}

/** The marks on a message whose forged verdict headers are out (stripVerdictHeaders). */
export function applyMarks(content: Buffer, marks: PhishingMarks): Buffer {
  let out = content;
  if (marks.subjectTag !== '') out = tagSubject(out, marks.subjectTag);
  if (marks.banner) out = insertBanner(out, marks.banner, { maxSize: marks.maxSize });
  return Buffer.concat([Buffer.from(marks.headers), out]);
}

/** A quarantined message's content as it came, marked for a reader here as a delivery would have been. */
export function markedCopy(unmarked: Buffer, marks: PhishingMarks): Buffer {
  return applyMarks(stripVerdictHeaders(unmarked), marks);
}
