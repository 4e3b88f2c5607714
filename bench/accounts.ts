/**
 * `--mailboxes N`: the load's recipients spread over N accounts instead of one, as an MX sees mail
 * for many mailboxes. With one mailbox every delivery queues on that mailbox's UID counter; with
 * many, nodes sharing a database rarely wait on each other. The extra accounts are created through
 * the store itself (no CLI and no argon2 per account: the bench never logs in).
 */
import { loadConfig } from '../src/config/load.ts';
import { openStore } from '../src/store/open.ts';

export const ACCOUNT = 'bench@example.com';
const UNUSED_HASH = '$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hiZW5jaGJlbmNo$YmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJlbmNo';

/** The recipients, the first being the account `user add` creates. */
export function benchRecipients(mailboxes: number): string[] {
  return Array.from({ length: mailboxes }, (_, i) => (i === 0 ? ACCOUNT : `bench-${i}@example.com`));
}

export async function addBenchAccounts(configFile: string, mailboxes: number): Promise<void> {
  if (mailboxes <= 1) return;
  const { config } = loadConfig(configFile);
  const store = await openStore(config, { applicationName: 'postern bench setup' });
  try {
    for (const address of benchRecipients(mailboxes).slice(1)) await store.createAccount(address, UNUSED_HASH);
  } finally {
    await store.close();
  }
}
