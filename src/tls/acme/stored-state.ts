/**
 * What the ACME manager left on disk for each hostname, read without starting it (`postern check`):
 * the certificate and its end, and the failed orders with the last reason and when the next one may go.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { acmeFiles, nextOrderTime, parseFailureRecord } from './files.ts';

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
  const text = await readFile(failuresPath, 'utf8').catch(() => undefined);
  // An unreadable record: serve ignores it too (the next order goes at once).
  const record = text === undefined ? undefined : parseFailureRecord(text);
  if (record) {
    state.failures = {
      count: record.failures,
      ...(record.error !== undefined ? { lastError: record.error } : {}),
      nextTry: new Date(nextOrderTime(record)),
    };
  }
  return state;
}
