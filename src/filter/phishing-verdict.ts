/**
 * From a phishing score to one action (ARCHITECTURE.md principle 2: the verdict step turns findings
 * into one action), with the thresholds of `filter.phishing.thresholds`. Each action includes the
 * milder ones: a quarantined message is also tagged, should it be released.
 */
import type { PhishingReport } from './phishing/detector.ts';

export type PhishingAction = 'none' | 'warn' | 'junk' | 'quarantine' | 'reject';

export interface Thresholds {
  warn: number;
  junk: number;
  quarantine: number;
  reject: number;
}

export function phishingAction(score: number, t: Thresholds): PhishingAction {
  if (score >= t.reject) return 'reject';
  if (score >= t.quarantine) return 'quarantine';
  if (score >= t.junk) return 'junk';
  if (score >= t.warn) return 'warn';
  return 'none';
}

/** The strongest signals first, for banners, replies and logs. */
export function topReasons(report: PhishingReport, language: 'en' | 'ru', count: number): string[] {
  return [...report.signals]
    .sort((a, b) => b.weight - a.weight)
    .slice(0, count)
    .map((s) => s.explanation[language]);
}
