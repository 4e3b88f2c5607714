/**
 * What the rule tests share: a loopback DNS server per file (ARCHITECTURE.md principle 6) with a
 * resolver that gives up after 300 ms, a PolicyContext with this server's identity, and a verdict
 * written as one comparable string.
 */
import { after } from 'node:test';
import type { Resolver } from '../../../src/dns/resolver.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer, type TestZone } from '../../../src/dns/test-server.ts';
import type {
  PolicyContext,
  Restriction,
  RuleFactory,
  ServerIdentity,
  Verdict,
} from '../../../src/policy/restriction.ts';
import { type Path, parseMailbox } from '../../../src/smtp/path.ts';

export interface TestDns {
  server: TestDnsServer;
  resolver: Resolver;
}

/** Starts a DNS server for the file, closed when its tests end. */
export async function startDns(zone: TestZone, options: { cacheTtlMs?: number } = {}): Promise<TestDns> {
  const server = await startTestDnsServer(zone);
  after(() => server.close());
  return { server, resolver: resolverFor(server, options.cacheTtlMs) };
}

/** One try of 300 ms, so a timeout fixture costs a third of a second. */
export function resolverFor(server: TestDnsServer, cacheTtlMs?: number): Resolver {
  return createResolver({ servers: [`127.0.0.1:${server.port}`], timeoutMs: 300, tries: 1, cacheTtlMs });
}

export const SERVER: ServerIdentity = {
  hostname: 'mx.example.com',
  localDomains: new Set(['example.com', 'xn--bcher-kva.example']),
  addresses: ['192.0.2.25', '2001:db8::25'],
  mynetworks: { contains: (address) => address === '198.51.100.1' || address === '127.0.0.1' },
};

/** A context at `fields.stage` (default helo) for a client at 203.0.113.5 unless given. */
export function context(resolver: Resolver, fields: Partial<PolicyContext> = {}): PolicyContext {
  return {
    stage: 'helo',
    clientAddress: '203.0.113.5',
    serverAddress: '198.51.100.25',
    pregreet: false,
    helo: undefined,
    sender: undefined,
    recipient: undefined,
    recipients: [],
    authenticated: undefined,
    unauthPipelining: false,
    server: SERVER,
    resolver,
    memo: new Map(),
    accountExists: () => false,
    noAccounts: () => false,
    ...fields,
  };
}

/** A mailbox as the SMTP parser gives it; `postmaster` alone is the domain-less recipient. */
export function path(mailbox: string): Path {
  if (mailbox === 'postmaster') return { localPart: 'postmaster', domain: '', address: 'postmaster', utf8: false };
  const parsed = parseMailbox(mailbox);
  if (typeof parsed === 'string') throw new Error(`test bug: ${mailbox}: ${parsed}`);
  return parsed;
}

/** Builds a rule from its group the way the registry does. */
export function build(
  rules: Record<string, RuleFactory>,
  name: string,
  args: string[] = [],
  options: Record<string, unknown> = {},
): Restriction {
  const factory = rules[name];
  if (!factory) throw new Error(`test bug: no rule ${name}`);
  return factory({ name, args, options }, {});
}

/** `dunno`, `permit`, or `550 5.7.25 <text>`. */
export function summary(verdict: Verdict): string {
  if (verdict.action === 'dunno' && verdict.undecided !== undefined) return 'undecided';
  if (verdict.action !== 'reject') return verdict.action;
  return `${verdict.reply.code} ${verdict.reply.enhanced} ${verdict.reply.lines.join(' / ')}`;
}

/** Evaluates a rule and summarizes the verdict. */
export async function run(rule: Restriction, ctx: PolicyContext): Promise<string> {
  return summary(await rule.evaluate(ctx));
}
