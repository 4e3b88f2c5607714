/** Minimal PolicyContexts for the access-table tests: no DNS unless a test brings its own resolver. */
import type { Resolver } from '../../../src/dns/resolver.ts';
import { parseNetworks } from '../../../src/policy/cidr.ts';
import type { PolicyContext, Restriction, Verdict } from '../../../src/policy/restriction.ts';
import { accessRules } from '../../../src/policy/rules/access.ts';
import { type Path, parseMailbox } from '../../../src/smtp/path.ts';

const refuse = (what: string) => () => {
  throw new Error(`unexpected DNS ${what} lookup`);
};

/** A resolver that fails the test if any lookup is made. */
export const noDns: Resolver = {
  a: refuse('A'),
  aaaa: refuse('AAAA'),
  mx: refuse('MX'),
  txt: refuse('TXT'),
  ptr: refuse('PTR'),
  cname: refuse('CNAME'),
  tlsa: refuse('TLSA'),
};

export function path(mailbox: string): Path {
  const parsed = parseMailbox(mailbox);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

export function context(overrides: Partial<PolicyContext> = {}): PolicyContext {
  return {
    stage: 'recipient',
    clientAddress: '192.0.2.1',
    serverAddress: '198.51.100.25',
    pregreet: false,
    helo: undefined,
    sender: undefined,
    recipient: undefined,
    recipients: [],
    authenticated: undefined,
    unauthPipelining: false,
    server: {
      hostname: 'mx.example.com',
      localDomains: new Set(['example.com']),
      addresses: ['192.0.2.250'],
      mynetworks: parseNetworks([]),
    },
    resolver: noDns,
    memo: new Map(),
    accountExists: () => false,
    noAccounts: () => false,
    ...overrides,
  };
}

/** Builds an access rule from its object form. */
export function rule(name: string, options: Record<string, unknown>, args: string[] = []): Restriction {
  const factory = accessRules[name];
  if (factory === undefined) throw new Error(`no rule ${name}`);
  return factory({ name, args, options }, {});
}

/** A verdict in one line: `permit`, `dunno`, or `554 5.7.1 text`. */
export async function outcome(restriction: Restriction, ctx: PolicyContext): Promise<string> {
  const verdict: Verdict = await restriction.evaluate(ctx);
  if (verdict.action !== 'reject') return verdict.action;
  return `${verdict.reply.code} ${verdict.reply.enhanced} ${verdict.reply.lines.join(' / ')}`;
}
