/**
 * What the ACME manager left on disk for each hostname, read without starting it (`postern check`):
 * the certificate and its end, and the failed orders with the last reason and when the next one may go.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { acmeFiles } from './files.ts';
import { retryDelayMs } from './renewal.ts';

export interface StoredAcmeState {
  hostname: string;
  certificate?: { file: string; names: string[]; notAfter: Date };
  /** Set when the certificate file is there but cannot be read (serve orders a new one at start). */
  unreadable?: string;
  failures?: { count: number; lastError?: string; nextTry: Date };
}

export async function readStoredAcmeState(dataDir: string, hostname: string): Promise<StoredAcmeState> {
  const { certPath, failuresPath } = acmeFiles(dataDir, hostname);
  const state: StoredAcmeState = { hostname: hostname.toLowerCase() };
  const pem = await readFile(certPath, 'utf8').catch(() => undefined);
  if (pem !== undefined) {
    try {
      const cert = new X509Certificate(pem);
      const names = (cert.subjectAltName ?? '')
        .split(', ')
        .filter((entry) => entry.startsWith('DNS:'))
        .map((entry) => entry.slice(4));
      state.certificate = { file: certPath, names, notAfter: new Date(cert.validTo) };
    } catch (error) {
      state.unreadable = `${certPath}: ${(error as Error).message}`;
    }
  }
  const record = await readFile(failuresPath, 'utf8').catch(() => undefined);
  if (record !== undefined) {
    try {
      const saved = JSON.parse(record) as { failures?: unknown; at?: unknown; error?: unknown; notBefore?: unknown };
      const at = typeof saved.at === 'string' ? Date.parse(saved.at) : Number.NaN;
      if (typeof saved.failures === 'number' && saved.failures > 0 && Number.isFinite(at)) {
        const notBefore = typeof saved.notBefore === 'string' ? Date.parse(saved.notBefore) : Number.NaN;
        const next = Math.max(at + retryDelayMs(saved.failures), Number.isFinite(notBefore) ? notBefore : 0);
        state.failures = {
          count: saved.failures,
          ...(typeof saved.error === 'string' ? { lastError: saved.error } : {}),
          nextTry: new Date(next),
        };
      }
    } catch {
      // An unreadable record: serve ignores it too (the next order goes at once).
    }
  }
  return state;
}
