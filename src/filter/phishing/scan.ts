/**
 * Offline scanning (`postern scan`, `npm run eval:phishing`): a stored or saved message through the
 * phishing detector with the server's settings. What sender authentication found is read back from
 * our own Authentication-Results field, as the server added it on arrival (RFC 8601 §5).
 */
import type { FilterConfig } from '../../config/filter-schema.ts';
import { parseMessage } from '../../mime/message.ts';
import { type PhishingAction, phishingAction } from '../phishing-verdict.ts';
import { authenticationFromHeaders } from './authentication-signals.ts';
import { detectPhishing, type PhishingReport, type PhishingSettings } from './detector.ts';
import { detectorSettings } from './settings.ts';

export interface ScanSettings {
  detector: PhishingSettings;
  thresholds: FilterConfig['phishing']['thresholds'];
  /** Our authserv-id: only Authentication-Results fields with it are believed. */
  authservId: string;
}

export interface ScanResult extends PhishingReport {
  action: PhishingAction;
  from: string;
  subject: string;
}

export function scanSettings(options: {
  filter: FilterConfig;
  localDomains: readonly string[];
  authservId: string;
}): ScanSettings {
  return {
    detector: detectorSettings(options.filter, options.localDomains),
    thresholds: options.filter.phishing.thresholds,
    authservId: options.authservId,
  };
}

export async function scanMessage(content: Uint8Array, settings: ScanSettings): Promise<ScanResult> {
  const message = await parseMessage(content);
  const authentication = authenticationFromHeaders(message.headers, settings.authservId);
  const returnPath = message.headers.find((h) => h.name === 'return-path')?.value;
  const envelopeFrom = returnPath === undefined ? undefined : (/<([^<>]*)>/.exec(returnPath)?.[1] ?? returnPath.trim());
  const report = await detectPhishing(
    {
      message,
      ...(envelopeFrom !== undefined ? { envelopeFrom } : {}),
      ...(authentication ? { authentication } : {}),
    },
    settings.detector,
  );
  return {
    ...report,
    action: phishingAction(report.score, settings.thresholds),
    from: message.from[0]?.address ?? '',
    subject: message.subject,
  };
}
