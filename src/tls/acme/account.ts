/**
 * The ACME account (RFC 8555 §7.3): its key in `<dir>/account.key` (0600), made on first use (ECDSA
 * P-256, signing with ES256, §6.2), and the account URL the CA returned in `<dir>/account.json` with
 * the directory it belongs to. A different directory (staging to production) keeps the key and
 * registers anew: the key is ours, the URL is the CA's. The contact registered is kept too, so that a
 * changed `tls.acme.email` is sent to the CA (§7.3.2) instead of staying with the old address.
 */
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { readIfExists, readPrivateKey, writeFileAtomic } from '../private-files.ts';

export interface AcmeAccount {
  key: string;
  /** The account URL (the "kid", §6.2) for this directory, when one was registered. */
  url?: string;
  /** The contact URLs the CA holds for the account (§7.1.2), as last registered; unknown when absent. */
  contact?: string[];
}

interface AccountRecord {
  directory: string;
  url: string;
  contact?: string[];
}

export async function loadAccount(dir: string, directory: string): Promise<AcmeAccount> {
  const keyPath = path.join(dir, 'account.key');
  let key = await readPrivateKey(keyPath);
  if (key === undefined) {
    key = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    }).privateKey;
    await writeFileAtomic(keyPath, key, 0o600);
  }
  const recordText = await readIfExists(path.join(dir, 'account.json'));
  let record: Partial<AccountRecord> = {};
  try {
    record = recordText ? (JSON.parse(recordText) as Partial<AccountRecord>) : {};
  } catch {
    record = {}; // a damaged record costs one new-account request (§7.3.1 finds the account by its key)
  }
  if (record.directory !== directory || record.url === undefined) return { key };
  return { key, url: record.url, ...(Array.isArray(record.contact) ? { contact: record.contact } : {}) };
}

export async function saveAccount(dir: string, directory: string, url: string, contact?: string[]): Promise<void> {
  const record: AccountRecord = { directory, url, ...(contact ? { contact } : {}) };
  await writeFileAtomic(path.join(dir, 'account.json'), `${JSON.stringify(record, null, 2)}\n`, 0o600);
}
