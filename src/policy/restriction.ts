/**
 * Restrictions as Postfix knows them (smtpd_*_restrictions): an ordered list per SMTP stage, each
 * entry a named rule that permits, rejects (5xx, or 4xx to defer) or has no opinion (DUNNO). The
 * engine (engine.ts) walks a list; the first permit or reject ends it. Rules live in rules/*.ts and
 * are looked up by their Postfix name in registry.ts.
 */

import type { Resolver } from '../dns/resolver.ts';
import type { Path } from '../smtp/path.ts';
import type { Reply } from '../smtp/replies.ts';

export type Stage = 'client' | 'helo' | 'sender' | 'recipient' | 'relay' | 'data';
export const STAGES: readonly Stage[] = ['client', 'helo', 'sender', 'recipient', 'relay', 'data'];

/** What a rule may look at. Fields a stage has not reached yet are undefined. */
export interface PolicyContext {
  stage: Stage;
  /** The client's IP address (IPv4 dotted, or IPv6 without brackets or zone). */
  clientAddress: string;
  /** Our address on this connection (what the client connected to), the same form; '' when unknown. */
  serverAddress: string;
  /** The client talked before our greeting (postscreen's PREGREET). Client stage only. */
  pregreet: boolean;
  /** The HELO/EHLO argument, from the helo stage on. */
  helo: string | undefined;
  /** MAIL FROM, from the sender stage on; null is the null reverse-path <> (RFC 5321 §4.5.5). */
  sender: Path | null | undefined;
  /** The RCPT TO being decided (recipient and relay stages). */
  recipient: Path | undefined;
  /** Recipients accepted so far in this transaction (all of them at the data stage). */
  recipients: readonly Path[];
  /** The SASL login, once submission authenticates (a later issue); undefined before. */
  authenticated: string | undefined;
  /** The client pipelined where RFC 2920 does not let it (data stage). */
  unauthPipelining: boolean;
  /** This server, for rules about relaying and HELO spoofing. */
  server: ServerIdentity;
  resolver: Resolver;
  /** Per-session memory shared by rules (e.g. one PTR lookup for several rules). */
  memo: Map<string, unknown>;
  /** Whether a local address (local-part@local-domain, lower-cased A-label domain) has an account. */
  accountExists(address: string): boolean | Promise<boolean>;
  /**
   * Whether the store holds no account at all: a data directory that did not mount, or a database
   * replaced by an empty one, would make every recipient "unknown" and every sender bounce its mail.
   */
  noAccounts(): boolean | Promise<boolean>;
}

export interface ServerIdentity {
  hostname: string;
  /** Local domains (A-labels, lower case): mail for them is ours. */
  localDomains: ReadonlySet<string>;
  /** Our own IP addresses (listening and public), for HELO-spoof checks. */
  addresses: readonly string[];
  /** The mynetworks CIDR list, parsed. */
  mynetworks: NetworkList;
}

/** A list of networks (CIDR) with a membership test; see cidr.ts. */
export interface NetworkList {
  contains(address: string): boolean;
}

export type Verdict =
  | { action: 'permit' }
  /**
   * No opinion. `undecided` says why a rule that could not find out (a DNS list that does not
   * answer) has none: the list goes on as for any DUNNO, and the reason is logged as a warning.
   */
  | {
      action: 'dunno';
      undecided?: string;
      /** An access map's WARN or INFO (access(5)): no decision, but a line in the log with its text. */
      note?: { level: 'warn' | 'info'; text: string };
    }
  /** `reply.code` 4xx defers (the client retries), 5xx rejects. `reason` explains it for logs and the admin. */
  | { action: 'reject'; reply: Reply; reason: string };

export const PERMIT: Verdict = { action: 'permit' };
export const DUNNO: Verdict = { action: 'dunno' };

export interface Restriction {
  /** The Postfix name, e.g. `reject_rbl_client`. */
  readonly name: string;
  /** The name with its arguments, e.g. `reject_rbl_client zen.example.org`: logs and counters use it. */
  readonly label: string;
  evaluate(context: PolicyContext): Verdict | Promise<Verdict>;
}

/** One entry of a configured list, after parsing (registry.ts). */
export interface RuleSpec {
  name: string;
  /** Space-separated words after the name in the string form (`reject_rbl_client zone=127.0.0.2`). */
  args: string[];
  /** The other keys of the object form (`{ rule: check_client_access, map: {...} }`). */
  options: Record<string, unknown>;
  /** Where the entry stands in the config (`restrictions.sender[2]`): a label no other entry can share. */
  key?: string;
}

/** Builds a rule from its spec; throws an Error whose message says what is wrong with the arguments. */
export type RuleFactory = (spec: RuleSpec, services: RuleServices) => Restriction;

/** Shared services some rules need (greylisting's store, rate counters). */
export interface RuleServices {
  greylist?: Greylister;
}

export interface Greylister {
  /** Decides a (client, sender, recipient) triplet now; see rules/greylist.ts. */
  check(triplet: { clientAddress: string; sender: string; recipient: string }): Promise<Verdict>;
}
