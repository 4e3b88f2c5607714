/**
 * From the configured lists to restriction lists: names are looked up here, arguments checked by
 * each rule's factory, and a rule used where it cannot work (a recipient check at the HELO stage)
 * is refused at start with the key that holds it, as Postfix refuses a bad main.cf.
 */

import { ConfigError } from '../config/load.ts';
import { type ListEntry, RestrictionList } from './engine.ts';
import type { RuleFactory, RuleServices, RuleSpec, Stage } from './restriction.ts';
import { ACCESS_OPTIONS, accessRules } from './rules/access.ts';
import { basicRules } from './rules/basic.ts';
import { clientRules } from './rules/client.ts';
import { DNSBL_OPTIONS, dnsblRules } from './rules/dnsbl.ts';
import { domainRules } from './rules/domains.ts';
import { greylistRules } from './rules/greylist-rule.ts';
import { heloRules } from './rules/helo.ts';

export type RuleEntryConfig = string | ({ rule: string } & Record<string, unknown>);

const FACTORIES: Record<string, RuleFactory> = {
  ...basicRules,
  ...clientRules,
  ...dnsblRules,
  ...heloRules,
  ...domainRules,
  ...accessRules,
  ...greylistRules,
};

/** The options each rule reads in the object form; a rule not named here takes none. */
const OPTIONS: Record<string, readonly string[]> = {
  ...Object.fromEntries(Object.keys(dnsblRules).map((name) => [name, DNSBL_OPTIONS])),
  ...Object.fromEntries(Object.keys(accessRules).map((name) => [name, ACCESS_OPTIONS])),
};

const ORDER: Record<Stage, number> = { client: 0, helo: 1, sender: 2, recipient: 3, relay: 3, data: 4 };

/**
 * Where a rule can work. Like Postfix, a rule may also sit in a later stage's list (the client
 * is still known at RCPT); what needs one recipient cannot run at DATA, which has several.
 */
const EARLIEST: Record<string, { from: Stage; only?: readonly Stage[] }> = {
  reject_pregreet: { from: 'client', only: ['client'] },
  permit_sasl_authenticated: { from: 'helo' },
  reject_invalid_helo_hostname: { from: 'helo' },
  reject_non_fqdn_helo_hostname: { from: 'helo' },
  reject_unknown_helo_hostname: { from: 'helo' },
  reject_helo_own_identity: { from: 'helo' },
  check_helo_access: { from: 'helo' },
  reject_non_fqdn_sender: { from: 'sender' },
  reject_unknown_sender_domain: { from: 'sender' },
  check_sender_access: { from: 'sender' },
  reject_rhsbl_sender: { from: 'sender' },
  reject_non_fqdn_recipient: { from: 'recipient', only: ['recipient', 'relay'] },
  reject_unknown_recipient_domain: { from: 'recipient', only: ['recipient', 'relay'] },
  reject_unlisted_recipient: { from: 'recipient', only: ['recipient', 'relay'] },
  reject_unauth_destination: { from: 'recipient', only: ['recipient', 'relay'] },
  check_recipient_access: { from: 'recipient', only: ['recipient', 'relay'] },
  check_greylist: { from: 'recipient', only: ['recipient', 'relay'] },
  reject_multi_recipient_bounce: { from: 'recipient' },
  reject_unauth_pipelining: { from: 'data', only: ['data'] },
};

/** The lists a server runs with when the config names none: the secure ones (docs/restrictions.md). */
export const DEFAULT_RESTRICTIONS: Record<Stage, readonly string[]> = {
  client: ['reject_pregreet'],
  helo: ['reject_invalid_helo_hostname', 'reject_helo_own_identity'],
  sender: ['reject_non_fqdn_sender', 'reject_unknown_sender_domain'],
  relay: ['permit_mynetworks', 'permit_sasl_authenticated', 'reject_unauth_destination'],
  recipient: ['reject_non_fqdn_recipient', 'reject_unlisted_recipient'],
  data: ['reject_unauth_pipelining'],
};

export const RULE_NAMES: readonly string[] = Object.keys(FACTORIES).sort();

export function buildList(
  stage: Stage,
  entries: readonly RuleEntryConfig[],
  services: RuleServices,
  keyPrefix = `restrictions.${stage}`,
): RestrictionList {
  return new RestrictionList(
    stage,
    entries.map((entry, index) => buildEntry(stage, entry, services, `${keyPrefix}[${index}]`)),
  );
}

function buildEntry(stage: Stage, entry: RuleEntryConfig, services: RuleServices, key: string): ListEntry {
  const { spec, warnOnly } = parseEntry(entry, key);
  const factory = FACTORIES[spec.name];
  if (!factory) {
    throw new ConfigError(`${key}: unknown restriction "${spec.name}" (known: ${RULE_NAMES.join(', ')})`);
  }
  // A misspelt key must stop the start: `warnonly: true` ignored would enforce what was meant as a trial.
  const known = OPTIONS[spec.name] ?? [];
  const unknown = Object.keys(spec.options).find((option) => !known.includes(option));
  if (unknown !== undefined) {
    const takes = [...known, 'warnOnly'].join(', ');
    throw new ConfigError(`${key}: ${spec.name} has no option "${unknown}" (it takes: rule, ${takes})`);
  }
  const where = EARLIEST[spec.name];
  if (where && (ORDER[stage] < ORDER[where.from] || (where.only && !where.only.includes(stage)))) {
    const allowed = where.only ?? Object.keys(ORDER).filter((s) => ORDER[s as Stage] >= ORDER[where.from]);
    throw new ConfigError(`${key}: ${spec.name} cannot work at the ${stage} stage; use it in ${allowed.join(', ')}`);
  }
  try {
    return { restriction: factory(spec, services), warnOnly };
  } catch (error) {
    throw new ConfigError(`${key}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** "warn_if_reject name arg…" or { rule: name, warnOnly: true, …options }. */
function parseEntry(entry: RuleEntryConfig, key: string): { spec: RuleSpec; warnOnly: boolean } {
  if (typeof entry === 'string') {
    const words = entry.trim().split(/\s+/).filter(Boolean);
    let warnOnly = false;
    if (words[0] === 'warn_if_reject') {
      warnOnly = true;
      words.shift();
    }
    const [name, ...args] = words;
    if (!name) throw new ConfigError(`${key}: "${entry}" names no restriction`);
    return { spec: { name, args, options: {}, key }, warnOnly };
  }
  const { rule, warnOnly, warn_if_reject, ...options } = entry;
  if (typeof rule !== 'string' || rule.trim() === '') throw new ConfigError(`${key}: "rule" must name a restriction`);
  // A dry run must never become an enforced rule by a typo: `warnOnly: "true"` is refused, not read as false.
  for (const [flag, value] of [
    ['warnOnly', warnOnly],
    ['warn_if_reject', warn_if_reject],
  ] as const) {
    if (value !== undefined && typeof value !== 'boolean') {
      throw new ConfigError(`${key}: ${flag}: ${JSON.stringify(value)} is invalid: expected true or false`);
    }
  }
  const [name = '', ...args] = rule.trim().split(/\s+/);
  return { spec: { name, args, options, key }, warnOnly: warnOnly === true || warn_if_reject === true };
}

/**
 * Postfix refuses to start without reject_unauth_destination (or reject/defer) in the relay or
 * recipient restrictions, since the server would relay mail for anyone; so do we. Postfix takes a
 * bare `permit` before it (which ends the list, accepting every recipient) as the admin's wish; we
 * count only a rule the list can reach, as we refuse `mynetworks: 0.0.0.0/0`: never an open relay.
 */
export function assertClosedRelay(relay: RestrictionList, recipient: RestrictionList): void {
  const closing = (e: ListEntry) =>
    !e.warnOnly && ['reject_unauth_destination', 'reject', 'defer'].includes(e.restriction.name);
  /** The index of the first bare permit before every closing rule; -1 when the list closes or has none. */
  const openedAt = (list: RestrictionList) => {
    for (const [index, e] of list.entries.entries()) {
      if (closing(e)) return -1;
      if (e.restriction.name === 'permit') return index;
    }
    return -1;
  };
  const closes = (list: RestrictionList) => list.entries.some(closing) && openedAt(list) === -1;
  if (closes(relay) || closes(recipient)) return;
  for (const [stage, list] of [
    ['relay', relay],
    ['recipient', recipient],
  ] as const) {
    const at = openedAt(list);
    if (at !== -1 && list.entries.some(closing)) {
      throw new ConfigError(
        `restrictions.${stage}[${at}]: permit comes before reject_unauth_destination (or reject/defer), which is ` +
          'never reached: every recipient would be accepted and the server would relay mail for anyone; ' +
          'put permit after it, or use permit_mynetworks or permit_sasl_authenticated',
      );
    }
  }
  throw new ConfigError(
    'restrictions.relay: specify reject_unauth_destination (or reject/defer) in restrictions.relay or ' +
      'restrictions.recipient; without it the server would relay mail for anyone',
  );
}
