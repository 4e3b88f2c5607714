/**
 * `postern queue list [--json]`: the outbound queue, mail accepted for other domains (from logged-in
 * users or mynetworks) that waits for outbound delivery.
 */

import { printable } from '../../log/printable.ts';
import type { OutboundSummary } from '../../store/outbound-job.ts';
import { OUTBOUND_JOB } from '../../store/store.ts';
import { usageError } from '../errors.ts';
import { configFrom, parseCommandLine } from './options.ts';
import { withStore } from './store.ts';

interface QueuedMessage {
  job: number;
  id: string;
  from: string;
  to: string[];
  size: number;
  /** RFC 6152 BODY and RFC 6531 SMTPUTF8, for the next hop; absent in jobs queued before they were kept. */
  body?: '7BIT' | '8BITMIME';
  smtputf8?: boolean;
  received: string;
  due: string;
  attempts: number;
}

/** Jobs listed at most: summaries without content, a few hundred octets each (ten thousand of them, a few MB). */
const MAX_SHOWN = 10_000;

export async function queueCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub.startsWith('-')) throw usageError('queue: missing subcommand (list)');
  if (sub !== 'list') throw usageError(`queue: unknown subcommand "${sub}"`);
  const { values, positionals } = parseCommandLine(rest, { json: { type: 'boolean' } }, 'queue list');
  if (positionals.length > 0) throw usageError(`queue list: unexpected argument "${positionals[0]}"`);
  const { config } = configFrom(values);
  // One more than shown, so that a longer queue is said to be longer rather than cut without a word.
  // Without content: a day's backlog of large messages, read whole, took gigabytes and minutes.
  const found = await withStore(config, (store) =>
    store.listJobs({ kind: OUTBOUND_JOB, limit: MAX_SHOWN + 1, withContent: false }),
  );
  const jobs = found.slice(0, MAX_SHOWN);
  if (found.length > MAX_SHOWN)
    process.stderr.write(`note: more than ${MAX_SHOWN} messages queued; the first ${MAX_SHOWN} are shown\n`);
  const rows: QueuedMessage[] = jobs.map((job) => {
    const payload = JSON.parse(job.payload) as Partial<Pick<OutboundSummary, 'body' | 'smtputf8'>> &
      Omit<OutboundSummary, 'body' | 'smtputf8'>;
    return {
      job: job.id,
      id: payload.id,
      from: payload.mailFrom,
      to: payload.recipients,
      size: payload.size,
      ...(payload.body !== undefined ? { body: payload.body, smtputf8: payload.smtputf8 === true } : {}),
      received: payload.receivedAt,
      due: job.dueAt.toISOString(),
      attempts: job.attempts,
    };
  });
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write('the outbound queue is empty\n');
    return 0;
  }
  for (const r of rows) {
    process.stdout.write(
      `${r.job}\t${r.received}\t<${printable(r.from)}>\t${printable(r.to.join(', '))}\t${r.size} octets\tattempts ${r.attempts}\n`,
    );
  }
  return 0;
}
