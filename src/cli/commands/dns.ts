/**
 * `postern dns records <domain> [--json]`: every DNS record the domain should publish, as zone-file
 * lines with their purpose, or as JSON (admin/dns-records.ts).
 * `postern dns check <domain> [--json]`: what DNS and the mail host actually serve, checked (admin/dns-check/);
 * exit code 0 all pass, 1 warnings, 2 failures.
 */

import { asciiDomain } from '../../admin/dkim-keys.ts';
import { exitCode, renderJson, renderTable } from '../../admin/dns-check/report.ts';
import { runDnsCheck } from '../../admin/dns-check/run.ts';
import { MailHostError, recordsFor } from '../../admin/dns-records.ts';
import { hostCertificates } from '../../admin/host-certificates.ts';
import { mtaStsPolicy } from '../../admin/mta-sts-policy.ts';
import { recordsJson, zoneLines } from '../../admin/zone-lines.ts';
import type { Config } from '../../config/schema.ts';
import { createResolver } from '../../dns/system-resolver.ts';
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
      return checkCommand(rest);
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

async function checkCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { json: { type: 'boolean' } }, 'dns check');
  if (positionals.length !== 1) throw usageError('usage: postern dns check <domain> [--json]');
  const { config } = configFrom(values);
  const domain = ourDomain(config, positionals[0]!);
  const resolver = createResolver(config.dns);
  const checks = await withStore(config, (store) => runDnsCheck(domain, { config, resolver, store }));
  if (values.json === true) {
    process.stdout.write(renderJson(domain, checks));
  } else {
    // Colour only on a terminal, and not when NO_COLOR asks (no-color.org).
    const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
    process.stdout.write(renderTable(domain, checks, { colour }));
  }
  return exitCode(checks);
}

/** The domain argument, which must be one of this server's (records for another domain would mislead). */
export function ourDomain(config: Config, input: string): string {
  const domain = asciiDomain(input);
  if (!config.domains.includes(domain)) {
    const ours = config.domains.length > 0 ? config.domains.join(', ') : 'none';
    throw new CliError(`${domain} is not one of this server's domains (${ours}); add it to "domains" in the config`);
  }
  return domain;
}
