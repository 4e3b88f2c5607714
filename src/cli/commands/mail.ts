/** `postern mail list|show`: what arrived in an account's INBOX. */
import { formatDate } from '../../smtp/received.ts';
import type { Store } from '../../store/store.ts';
import { CliError, usageError } from '../errors.ts';
import { configFrom, parseCommandLine } from './options.ts';
import { withStore } from './store.ts';
import { oneAddress } from './user.ts';

export async function mailCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseCommandLine(rest, { json: { type: 'boolean' } }, `mail ${sub ?? ''}`.trim());
  const { config } = configFrom(values);
  switch (sub) {
    case 'list': {
      const address = oneAddress(positionals, 'mail list <address> [--json]');
      const messages = await withStore(config, async (store) => {
        const inbox = await inboxOf(store, address);
        return store.listMessages(inbox.id);
      });
      const rows = messages.map((m) => ({
        uid: m.uid,
        from: m.summary.from,
        subject: m.summary.subject,
        size: m.size,
        date: (m.summary.date ?? m.internalDate).toISOString(),
        received: m.internalDate.toISOString(),
        flags: m.flags,
      }));
      if (values.json === true) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      } else if (rows.length === 0) {
        process.stdout.write(`${address}: INBOX is empty\n`);
      } else {
        for (const m of messages) {
          const date = formatDate(m.summary.date ?? m.internalDate).slice(5, 22);
          process.stdout.write(
            `${String(m.uid).padStart(6)}  ${date}  ${clip(m.summary.from, 30)}  ${clip(m.summary.subject, 50)}  (${m.size} B)\n`,
          );
        }
      }
      return 0;
    }
    case 'show': {
      if (positionals.length !== 2) throw usageError('usage: postern mail show <address> <uid>');
      const address = oneAddress(positionals.slice(0, 1), 'mail show <address> <uid>');
      const uid = Number(positionals[1]);
      if (!Number.isInteger(uid) || uid < 1)
        throw new CliError(`"${positionals[1]}" is not a message UID (a whole number ≥ 1)`);
      const content = await withStore(config, async (store) => {
        const inbox = await inboxOf(store, address);
        return store.readMessage(inbox.id, uid);
      });
      if (!content) throw new CliError(`${address}: no message with UID ${uid} in INBOX`);
      process.stdout.write(content);
      return 0;
    }
    default:
      throw usageError(
        sub === undefined ? 'mail: missing subcommand (list, show)' : `mail: unknown subcommand "${sub}"`,
      );
  }
}

async function inboxOf(store: Store, address: string) {
  const account = await store.findAccount(address);
  if (!account) throw new CliError(`${address}: no such account`);
  const inbox = await store.getMailbox(account.id, 'INBOX');
  if (!inbox) throw new CliError(`${address}: the account has no INBOX`);
  return inbox;
}

function clip(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat.padEnd(width);
}
