/** `postern mail list|show`: what arrived in one of an account's mailboxes (INBOX unless --mailbox). */

import { addressFirst, column, printable } from '../../log/printable.ts';
import { formatDate } from '../../smtp/received.ts';
import type { Mailbox, Store } from '../../store/store.ts';
import { CliError, usageError } from '../errors.ts';
import { configFrom, onlyFlags, parseCommandLine } from './options.ts';
import { withStore } from './store.ts';
import { noSuchAccount, oneAddress } from './user.ts';

const LIST_USAGE = 'mail list <address> [--mailbox NAME] [--json]';
const SHOW_USAGE = 'mail show <address> <uid> [--mailbox NAME] [--raw]';

export async function mailCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  // Before the config is read: `postern mail --config FILE` lacks a subcommand, whatever FILE holds.
  if (sub === undefined || sub.startsWith('-')) throw usageError('mail: missing subcommand (list, show)');
  if (sub !== 'list' && sub !== 'show') throw usageError(`mail: unknown subcommand "${sub}"`);
  const { values, positionals } = parseCommandLine(
    rest,
    { json: { type: 'boolean' }, mailbox: { type: 'string' }, raw: { type: 'boolean' } },
    `mail ${sub}`,
  );
  onlyFlags(values, sub === 'list' ? ['json', 'mailbox'] : ['mailbox', 'raw'], `mail ${sub}`);
  const { config } = configFrom(values);
  const name = mailboxName(values.mailbox);
  switch (sub) {
    case 'list': {
      const address = oneAddress(positionals, LIST_USAGE);
      const messages = await withStore(config, async (store) => {
        const mailbox = await mailboxOf(store, address, name, (account) => `postern mail list ${account}`);
        return store.listMessages(mailbox.id);
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
        process.stdout.write(`${address}: ${name} is empty\n`);
      } else {
        for (const m of messages) {
          const date = formatDate(m.summary.date ?? m.internalDate).slice(5, 22);
          process.stdout.write(
            `${String(m.uid).padStart(6)}  ${date}  ${column(addressFirst(m.summary.from), 30)}  ${column(m.summary.subject, 50)}  (${m.size} B)\n`,
          );
        }
      }
      return 0;
    }
    case 'show': {
      if (positionals.length !== 2) throw usageError(`usage: postern ${SHOW_USAGE}`);
      const address = oneAddress(positionals.slice(0, 1), SHOW_USAGE);
      const uid = Number(positionals[1]);
      // RFC 9051 §2.3.1.1: a UID is a 32-bit number ≥ 1, written in digits (not 0x1, 1e0 or " 1").
      if (!/^\d{1,10}$/.test(positionals[1] ?? '') || uid < 1 || uid > 0xffffffff)
        throw usageError(`"${positionals[1]}" is not a message UID (a whole number from 1 to 4294967295)`);
      const content = await withStore(config, async (store) => {
        const mailbox = await mailboxOf(store, address, name, (account) => `postern mail show ${account} ${uid}`);
        return store.readMessage(mailbox.id, uid);
      });
      if (!content) throw new CliError(`${address}: no message with UID ${uid} in ${name}`);
      // The sender wrote these bytes: on a terminal, their escape sequences would set the clipboard
      // (OSC 52), retitle the window or clear the screen, so they are shown, not obeyed. A pipe or a
      // file gets the message as stored, as does --raw.
      const asStored = values.raw === true || !process.stdout.isTTY;
      process.stdout.write(asStored ? content : printable(new TextDecoder().decode(content), true));
      return 0;
    }
    default:
      throw usageError(
        sub === undefined ? 'mail: missing subcommand (list, show)' : `mail: unknown subcommand "${sub}"`,
      );
  }
}

/** RFC 9051 §5.1: INBOX is case-insensitive, every other name is exact. */
function mailboxName(option: string | boolean | undefined): string {
  if (option === undefined) return 'INBOX';
  if (typeof option !== 'string' || option === '') throw usageError('mail: --mailbox needs a mailbox name');
  return option.toUpperCase() === 'INBOX' ? 'INBOX' : option;
}

/** `command`: the same command for an account, given its address, suggested when `address` is an alias of it. */
async function mailboxOf(
  store: Store,
  address: string,
  name: string,
  command: (account: string) => string,
): Promise<Mailbox> {
  const account = await store.findAccount(address);
  if (!account) {
    // An alias has no mailboxes: what is sent to it is delivered to its account's.
    throw await noSuchAccount(
      store,
      address,
      (target) => `its mail is delivered to ${target}'s mailboxes: ${command(target)}`,
    );
  }
  const mailbox = await store.getMailbox(account.id, name);
  if (mailbox) return mailbox;
  const names = (await store.listMailboxes(account.id)).map((m) => m.name);
  throw new CliError(`${address}: no mailbox "${name}" (the account has: ${names.join(', ') || 'none'})`);
}
