/**
 * The ACME account (RFC 8555 §7.3): its key in `<dir>/account.key` (0600), made on first use (ECDSA
 * P-256, signing with ES256, §6.2), and the account URL the CA returned in `<dir>/account.json` with
 * the directory it belongs to. A different directory (staging to production) keeps the key and
 * registers anew: the key is ours, the URL is the CA's.
 */
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { readIfExists, writeFileAtomic } from '../private-files.ts';

export interface AcmeAccount {
  key: string;
  /** The account URL (the "kid", §6.2) for this directory, when one was registered. */
  url?: string;
}

interface AccountRecord {
  directory: string;
  url: string;
}

export async function loadAccount(dir: string, directory: string): Promise<AcmeAccount> {
  const keyPath = path.join(dir, 'account.key');
  let key = await readIfExists(keyPath);
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
  return { key, url: record.directory === directory ? record.url : undefined };
}

export async function saveAccountUrl(dir: string, directory: string, url: string): Promise<void> {
  const record: AccountRecord = { directory, url };
  await writeFileAtomic(path.join(dir, 'account.json'), `${JSON.stringify(record, null, 2)}\n`, 0o600);
}
