/**
 * `postern dns records <domain> [--json]`: every DNS record the domain should publish, as zone-file
 * lines with their purpose, or as JSON (admin/dns-records.ts). `postern dns check` comes next to it.
 */
import { MailHostError, recordsFor } from '../../admin/dns-records.ts';
import { hostCertificates } from '../../admin/host-certificates.ts';
import { mtaStsPolicy } from '../../admin/mta-sts-policy.ts';
import { recordsJson, zoneLines } from '../../admin/zone-lines.ts';
import type { Config } from '../../config/schema.ts';
import { CliError, usageError } from '../errors.ts';
import { configFrom, parseCommandLine } from './options.ts';
import { withStore } from './store.ts';

const SUBCOMMANDS = ['records', 'check'];

export async function dnsCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub.startsWith('-')) throw usageError(`dns: missing subcommand (${SUBCOMMANDS.join(', ')})`);
  switch (sub) {
    case 'records':
      return recordsCommand(rest);
    case 'check':
      throw new CliError('dns check: not yet implemented in this version of Postern');
    default:
      throw usageError(`dns: unknown subcommand "${sub}"`);
  }
}

async function recordsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { json: { type: 'boolean' } }, 'dns records');
  if (positionals.length !== 1) throw usageError('usage: postern dns records <domain> [--json]');
  const { config } = configFrom(values);
  const domain = ourDomain(config, positionals[0]!);
  const certificates = await hostCertificates(config);
  let records: Awaited<ReturnType<typeof recordsFor>>;
  try {
    records = await withStore(config, (store) => recordsFor(domain, { config, store, certificates }));
  } catch (err) {
    if (err instanceof MailHostError) throw new CliError(`${err.message}; set "hostname" in the config`);
    throw err;
  }
  const policy = mtaStsPolicy(config);
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(recordsJson(domain, records, policy), null, 2)}\n`);
  } else {
    process.stdout.write(zoneLines(domain, records, policy));
  }
  return 0;
}

/** The domain argument, which must be one of this server's (records for another domain would mislead). */
export function ourDomain(config: Config, input: string): string {
  const domain = (input.endsWith('.') ? input.slice(0, -1) : input).toLowerCase();
  if (!config.domains.includes(domain)) {
    const ours = config.domains.length > 0 ? config.domains.join(', ') : 'none';
    throw new CliError(`${domain} is not one of this server's domains (${ours}); add it to "domains" in the config`);
  }
  return domain;
}
