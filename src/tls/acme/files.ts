import path from 'node:path';
import { retryDelayMs } from './renewal.ts';

/** Where a hostname's certificate, key and failure record live: `<dataDir>/tls/acme/<hostname>.*`. */
export function acmeFiles(
  dataDir: string,
  hostname: string,
): { certPath: string; keyPath: string; failuresPath: string } {
  const base = path.join(dataDir, 'tls', 'acme', hostname.toLowerCase());
  return { certPath: `${base}.crt`, keyPath: `${base}.key`, failuresPath: `${base}.failures.json` };
}

/**
 * The failed orders since a hostname's last certificate, kept across restarts (a crash loop must not
 * reset the backoff): how many, when the last was, its reason, and the CA's Retry-After if it gave one.
 */
export interface FailureRecord {
  failures: number;
  at: Date;
  error?: string;
  /** RFC 8555 §6.6: no order before this, whatever the backoff. */
  notBefore?: Date;
}

export function formatFailureRecord(record: FailureRecord): string {
  const { failures, at, error, notBefore } = record;
  return `${JSON.stringify({ failures, at: at.toISOString(), error, ...(notBefore ? { notBefore: notBefore.toISOString() } : {}) })}\n`;
}

/** The record in a failures file, or undefined when it cannot be read as one (then there is no backoff). */
export function parseFailureRecord(text: string): FailureRecord | undefined {
  let saved: { failures?: unknown; at?: unknown; error?: unknown; notBefore?: unknown };
  try {
    saved = JSON.parse(text);
  } catch {
    return undefined;
  }
  const at = typeof saved.at === 'string' ? Date.parse(saved.at) : Number.NaN;
  if (typeof saved.failures !== 'number' || !Number.isInteger(saved.failures) || saved.failures < 1) return undefined;
  if (!Number.isFinite(at)) return undefined;
  const notBefore = typeof saved.notBefore === 'string' ? Date.parse(saved.notBefore) : Number.NaN;
  return {
    failures: saved.failures,
    at: new Date(at),
    ...(typeof saved.error === 'string' ? { error: saved.error } : {}),
    ...(Number.isFinite(notBefore) ? { notBefore: new Date(notBefore) } : {}),
  };
}

/** When the next order may go: the backoff after the last failure, or the CA's time if later. */
export function nextOrderTime(record: FailureRecord, retryFirstMs?: number, retryMaxMs?: number): number {
  const backoff = record.at.getTime() + retryDelayMs(record.failures, retryFirstMs, retryMaxMs);
  return Math.max(backoff, record.notBefore?.getTime() ?? 0);
}
