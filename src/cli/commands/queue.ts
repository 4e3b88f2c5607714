/**
 * `postern queue list|show|delete`: the outbound queue, mail accepted for other domains (from logged-in
 * users or mynetworks). Nothing delivers it yet (no node claims its jobs) and no bounce is sent, so
 * these are the admin's ways to see a message, take it to another MTA, and remove it.
 */

import type { Config } from '../../config/schema.ts';
import { printable } from '../../log/printable.ts';
import type { OutboundPayload, OutboundSummary } from '../../store/outbound-job.ts';
import { OUTBOUND_JOB } from '../../store/store.ts';
import { CliError, usageError } from '../errors.ts';
import { configFrom, onlyFlags, parseCommandLine } from './options.ts';
import { withStore } from './store.ts';

const SUBCOMMANDS = ['list', 'show', 'delete'];

const FLAGS = {
  json: { type: 'boolean' },
  raw: { type: 'boolean' },
  force: { type: 'boolean' },
} as const;

const ALLOWED: Record<string, (keyof typeof FLAGS)[]> = {
  list: ['json'],
  show: ['raw'],
  delete: ['force'],
};

/** Each subcommand's line in `postern help` (src/cli/main.ts), said whole when its arguments are wrong. */
const USAGE: Record<string, string> = {
  show: 'queue show <job> [--raw]',
  delete: 'queue delete <job>... [--force]',
};

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
  if (sub === undefined || sub.startsWith('-'))
    throw usageError(`queue: missing subcommand (${SUBCOMMANDS.join(', ')})`);
  if (!SUBCOMMANDS.includes(sub)) throw usageError(`queue: unknown subcommand "${sub}"`);
  const { values, positionals } = parseCommandLine(rest, FLAGS, `queue ${sub}`);
  onlyFlags(values, ALLOWED[sub] ?? [], `queue ${sub}`);
  if (sub === 'list') {
    if (positionals.length > 0) throw usageError(`queue list: unexpected argument "${positionals[0]}"`);
    return list(configFrom(values).config, values.json === true);
  }
  if (positionals.length === 0 || (sub === 'show' && positionals.length > 1))
    throw usageError(`usage: postern ${USAGE[sub]}`);
  const ids = positionals.map(jobArgument);
  const { config } = configFrom(values);
  if (sub === 'show') return show(config, ids[0]!, values.raw === true);
  return remove(config, ids, values.force === true);
}

async function list(config: Config, json: boolean): Promise<number> {
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
  if (json) {
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

/** `queue show`: the envelope and state of one job, or with `raw` the message as stored. */
async function show(config: Config, id: number, raw: boolean): Promise<number> {
  const job = await withStore(config, (store) => store.getJob(id));
  if (job?.kind !== OUTBOUND_JOB) throw noSuchJob(id);
  const payload = JSON.parse(job.payload) as Partial<OutboundPayload> & Omit<OutboundSummary, 'body' | 'smtputf8'>;
  if (raw) {
    if (payload.content === undefined)
      throw new CliError(
        `job ${id} was queued before Postern kept the message in its job: there is no content to print`,
      );
    // As stored, our Received field on top, CRLF line ends: what the next hop is to get. No escaping on a
    // terminal, as `mail show --raw`: a pipe or a file gets these bytes whole.
    process.stdout.write(Buffer.from(payload.content, 'base64'));
    return 0;
  }
  const fields: [string, string][] = [
    ['job', String(job.id)],
    ['id', printable(payload.id)],
    ['from', `<${printable(payload.mailFrom)}>`],
    ['to', printable(payload.recipients.join(', '))],
    ['size', `${payload.size} octets`],
  ];
  // RFC 6152 §3 and RFC 6531 §3.4: what the next hop must be told, shown for whoever sends it by hand.
  if (payload.body !== undefined)
    fields.push(['body', `${payload.body}${payload.smtputf8 === true ? ', SMTPUTF8' : ''}`]);
  fields.push(['received', payload.receivedAt], ['due', job.dueAt.toISOString()], ['attempts', String(job.attempts)]);
  if (job.claimedUntil !== null && job.claimedUntil.getTime() > Date.now())
    fields.push(['held by', `${printable(job.claimedBy ?? 'a node')} until ${job.claimedUntil.toISOString()}`]);
  const width = Math.max(...fields.map(([name]) => name.length)) + 2;
  process.stdout.write(
    `${fields.map(([name, value]) => `${name.padEnd(width)}${value}`).join('\n')}\n\n` +
      'Outbound delivery is not implemented yet: nothing will send this message, and no bounce will be sent.\n' +
      `To send it through another MTA, with the envelope above: postern queue show ${id} --raw > job-${id}.eml\n` +
      `To remove it: postern queue delete ${id}\n`,
  );
  return 0;
}

/**
 * `queue delete`: each job in turn; one that is gone or held by a node is said on stderr and the
 * others still go. A held job (a node's live lease) may be on its way out at this moment: deleted
 * only with `force`, and said so, since the message may still leave.
 */
async function remove(config: Config, ids: number[], force: boolean): Promise<number> {
  let failed = 0;
  await withStore(config, async (store) => {
    for (const id of ids) {
      const result = await store.deleteJob(id, { kind: OUTBOUND_JOB, force });
      if (result.outcome === 'deleted') {
        process.stdout.write(`deleted job ${id}\n`);
        continue;
      }
      failed++;
      const problem =
        result.outcome === 'missing'
          ? noSuchJob(id).message
          : `job ${id}: ${printable(result.claimedBy ?? 'a node')} holds it until ${result.claimedUntil.toISOString()} ` +
            'and may be delivering it now; nothing done (--force deletes it anyway, though the message may still leave)';
      process.stderr.write(`postern: ${problem}\n`);
    }
  });
  return failed > 0 ? 1 : 0;
}

/** A job number as `queue list` shows it; above 2^53 - 1 it would lose digits and name another job. */
function jobArgument(input: string): number {
  const id = Number(input);
  if (!/^\d+$/.test(input) || !Number.isSafeInteger(id) || id < 1)
    throw usageError(`"${input}" is not a job number (a whole number from 1 to ${Number.MAX_SAFE_INTEGER})`);
  return id;
}

function noSuchJob(id: number): CliError {
  return new CliError(`job ${id}: no such job in the outbound queue (postern queue list shows them)`);
}
