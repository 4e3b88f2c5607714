/**
 * The restrictions that need no DNS: generic permit/reject/defer, the relay decision, local
 * recipients, and the protocol-conduct checks (pipelining, pregreet, multi-recipient bounces).
 * Reply texts follow Postfix's, so admins recognise them in logs and bounces.
 */
import { echoAddress, replies, reply } from '../../smtp/replies.ts';
import { localAddress } from '../local-address.ts';
import { DUNNO, PERMIT, type PolicyContext, type RuleFactory, type Verdict } from '../restriction.ts';
import { simpleRule } from './define.ts';

/** The text of the client's recipient for replies: the address as sent. */
const rcpt = (ctx: PolicyContext) => ctx.recipient?.address ?? '';

function recipientIsLocal(ctx: PolicyContext): { local: boolean; address: string } | undefined {
  if (!ctx.recipient) return undefined;
  return localAddress(ctx.recipient, ctx.server);
}

export const basicRules: Record<string, RuleFactory> = {
  permit: simpleRule('permit', () => PERMIT),
  reject: simpleRule('reject', () => ({
    action: 'reject',
    reply: reply(554, '5.7.1', 'Access denied'),
    reason: 'the list ends in reject',
  })),
  defer: simpleRule('defer', () => ({
    action: 'reject',
    reply: reply(450, '4.7.1', 'Try again later'),
    reason: 'the list ends in defer',
  })),

  permit_mynetworks: simpleRule('permit_mynetworks', (ctx) =>
    ctx.server.mynetworks.contains(ctx.clientAddress) ? PERMIT : DUNNO,
  ),
  permit_sasl_authenticated: simpleRule('permit_sasl_authenticated', (ctx) => (ctx.authenticated ? PERMIT : DUNNO)),

  /** Never an open relay: mail for a domain that is not ours needs a permit before this (RFC 5321 §3.6.2). */
  reject_unauth_destination: simpleRule('reject_unauth_destination', (ctx) => {
    const target = recipientIsLocal(ctx);
    if (!target || target.local) return DUNNO;
    return {
      action: 'reject',
      reply: reply(554, '5.7.1', `<${echoAddress(rcpt(ctx))}>: Relay access denied`),
      reason: `${rcpt(ctx)} is not in a local domain and the client may not relay`,
    };
  }),

  /** RFC 5321 §3.4: a local user we do not know is refused now, not bounced later (no backscatter). */
  reject_unlisted_recipient: simpleRule('reject_unlisted_recipient', (ctx) => {
    const target = recipientIsLocal(ctx);
    if (!target?.local) return DUNNO;
    const unknown: Verdict = {
      action: 'reject',
      reply: reply(
        550,
        '5.1.1',
        `<${echoAddress(rcpt(ctx))}>: Recipient address rejected: User unknown in local recipient table`,
      ),
      reason: `no account ${target.address}`,
    };
    // With no account at all the table is missing, not the user: a 4xx keeps the mail queued at the
    // sender until the store is back (RFC 5321 §4.2.1: 4yz is a transient failure, §4.5.4.1: the sender
    // retries), where a 550 would bounce all of it.
    const missingTable: Verdict = {
      action: 'reject',
      reply: replies.recipientTableEmpty(rcpt(ctx)),
      reason: `no account ${target.address}, and the store holds no account at all`,
    };
    const decideEmpty = (empty: boolean): Verdict => (empty ? missingTable : unknown);
    const decide = (exists: boolean): Verdict | Promise<Verdict> => {
      if (exists) return DUNNO;
      const empty = ctx.noAccounts();
      return empty instanceof Promise ? empty.then(decideEmpty) : decideEmpty(empty);
    };
    const exists = ctx.accountExists(target.address);
    return exists instanceof Promise ? exists.then(decide) : decide(exists);
  }),

  /** RFC 2920 §3.1: commands ahead of replies without PIPELINING, or after one that must end a group. */
  reject_unauth_pipelining: simpleRule('reject_unauth_pipelining', (ctx) =>
    ctx.unauthPipelining
      ? {
          action: 'reject',
          reply: reply(503, '5.5.0', '<DATA>: Data command rejected: Improper use of SMTP command pipelining'),
          reason: 'the client sent commands ahead of replies where RFC 2920 does not allow it',
        }
      : DUNNO,
  ),

  /** A bounce (null sender, RFC 5321 §4.5.5) goes to one recipient; many is a spammer's trick. */
  reject_multi_recipient_bounce: simpleRule('reject_multi_recipient_bounce', (ctx) => {
    // At RCPT the recipient being decided counts too: the second one is refused, as in Postfix.
    const count = ctx.recipients.length + (ctx.recipient ? 1 : 0);
    if (ctx.sender !== null || count < 2) return DUNNO;
    const text = ctx.recipient
      ? `<${echoAddress(ctx.recipient.address)}>: Recipient address rejected: Multi-recipient bounce`
      : '<DATA>: Data command rejected: Multi-recipient bounce';
    return {
      action: 'reject',
      reply: reply(550, '5.5.3', text),
      reason: `a null-sender message for ${count} recipients`,
    };
  }),

  /**
   * RFC 5321 §3.1: the client waits for the greeting. One that talks first is a bot that does not
   * (Postfix postscreen_greet_action = enforce).
   */
  reject_pregreet: simpleRule('reject_pregreet', (ctx) =>
    ctx.pregreet
      ? {
          action: 'reject',
          reply: reply(554, '5.5.1', 'Protocol error: you talked before the greeting'),
          reason: 'the client sent data before the 220 greeting (pregreet)',
        }
      : DUNNO,
  ),
};
