/**
 * The inbound pipeline behind the SMTP listener: checks per stage, then for a message the trace
 * headers and the durable store. The 250 goes out only after `deliver()` resolved, that is after
 * the commit reached the disk (ARCHITECTURE.md principle 4). Later issues insert policy
 * restrictions, authentication and filters here, in that order.
 */

import type { ClientKind, Examination, SenderAuthentication } from '../authentication/authenticate.ts';
import type { Logger } from '../log/logger.ts';
import { summarize } from '../mime/summary.ts';
import type { InboundPolicy, PolicyOutcome } from '../policy/inbound-policy.ts';
import type { Envelope, Peer } from '../smtp/envelope.ts';
import type { CheckRequest, SmtpHandlers } from '../smtp/listener.ts';
import { receivedHeader, returnPathHeader } from '../smtp/received.ts';
import { type Reply, replies, reply } from '../smtp/replies.ts';
import type { CheckOutcome, MessageOutcome } from '../smtp/session.ts';
import { OUTBOUND_JOB, RecipientsGoneError, type Store, StoreError } from '../store/store.ts';
import type { SubmissionAuth } from './submission-auth.ts';

export interface InboundOptions {
  hostname: string;
  store: Store;
  policy: InboundPolicy;
  /** SMTP AUTH on the submission listeners. */
  auth?: SubmissionAuth;
  /** SPF, DKIM, ARC and DMARC of incoming mail (src/authentication). */
  authentication?: SenderAuthentication;
  logger: Logger;
}

export function inboundHandlers(options: InboundOptions): SmtpHandlers {
  const { store, logger, hostname, policy, authentication } = options;

  function clientKind(peer: Peer): ClientKind {
    if (peer.authenticated) return 'login';
    return policy.fromMynetworks(peer.remoteAddress) ? 'mynetworks' : 'external';
  }

  /** The restrictions of each stage (src/policy); VRFY's answer comes from there too. */
  function check(
    request: CheckRequest,
    peer: Peer,
  ): CheckOutcome | MessageOutcome | Promise<CheckOutcome | MessageOutcome> {
    switch (request.stage) {
      case 'connect':
        return policy.connect(peer, request.pregreet);
      case 'helo':
        return policy.helo(peer, request.helo);
      case 'mail': {
        const outcome = policy.sender(peer, request.envelope);
        if (!authentication) return outcome;
        // SPF starts once the sender restrictions let MAIL FROM through (src/authentication).
        const then = (o: CheckOutcome): CheckOutcome | Promise<CheckOutcome> =>
          o.action === 'continue' ? authentication.atMail(peer, request.envelope, clientKind(peer)) : o;
        return outcome instanceof Promise ? outcome.then(then) : then(outcome);
      }
      case 'rcpt':
        return policy.recipient(peer, request.envelope, request.recipient);
      case 'data':
        return policy.data(peer, request.envelope, request.unauthPipelining);
      case 'vrfy': {
        const answer = policy.vrfy(peer, request.argument);
        return answer instanceof Promise ? answer.then(asReply) : asReply(answer);
      }
      default:
        return request satisfies never;
    }
  }

  async function message(envelope: Envelope, content: Buffer, peer: Peer): Promise<MessageOutcome> {
    if (peer.authenticated) {
      const foreign = await foreignFromAddress(content, peer.authenticated, policy);
      if (foreign) {
        logger.info({ session: peer.sessionId, user: peer.authenticated, from: foreign }, 'From header not owned: 553');
        return {
          action: 'reply',
          reply: reply(553, '5.7.1', `From header address <${foreign}> is not owned by user ${peer.authenticated}`),
        };
      }
    }
    let examination: Examination | undefined;
    if (authentication) {
      try {
        examination = await authentication.examine(envelope, content, peer, clientKind(peer));
      } catch (err) {
        // A bug in a check must not turn into an accept or a bounce: the client retries.
        logger.error({ session: peer.sessionId, id: envelope.id, err }, 'authentication failed; answered 451');
        return { action: 'reply', reply: replies.localError() };
      }
      const { verdict } = examination;
      if (verdict.reply) {
        logger.info(
          { session: peer.sessionId, id: envelope.id, auth: summary(examination), reason: verdict.reason },
          `authentication: ${verdict.action}; answered ${verdict.reply.code}`,
        );
        return { action: 'reply', reply: verdict.reply };
      }
    }
    const junk = examination?.verdict.action === 'junk';
    const receivedAt = new Date();
    const trace = Buffer.from(
      returnPathHeader(envelope) + receivedHeader(envelope, peer, hostname, receivedAt) + (examination?.header ?? ''),
    );
    const stored = Buffer.concat([trace, examination?.content ?? content]);
    const local: { address: string; accountId: number; mailbox?: 'Junk' }[] = [];
    const outbound: string[] = [];
    for (const { path, route } of envelope.recipients) {
      if (route.kind === 'local') {
        // p=quarantine (RFC 7489 §6.3): the recipient's Junk mailbox, marked $Junk.
        local.push({
          address: path.address,
          accountId: route.accountId,
          ...(junk ? { mailbox: 'Junk' as const } : {}),
        });
      } else outbound.push(path.address);
    }
    try {
      // The queue first: if local delivery then fails, the 451 makes the client retry, and an
      // outbound copy may go twice; the other order could lose the local copy's retry. Never lost.
      const job =
        outbound.length > 0 ? await store.enqueueJob(outboundJob(envelope, outbound, stored, receivedAt)) : undefined;
      const receipt =
        local.length > 0
          ? await store.deliver({
              mailFrom: envelope.mailFrom?.address ?? '',
              recipients: local,
              content: stored,
              receivedAt,
              ...(junk ? { keywords: ['$Junk'] } : {}),
            })
          : undefined;
      logger.info(
        {
          session: peer.sessionId,
          id: envelope.id,
          from: envelope.mailFrom?.address ?? '',
          to: envelope.recipients.map((r) => r.path.address),
          size: content.length,
          stored: receipt?.messageId,
          queued: job?.id,
          user: peer.authenticated,
          ...(examination?.header ? { auth: summary(examination) } : {}),
          ...(junk ? { junk: examination?.verdict.reason } : {}),
        },
        'message stored',
      );
      return { action: 'reply', reply: replies.queued(envelope.id) };
    } catch (err) {
      if (err instanceof RecipientsGoneError) {
        // The accounts were removed after RCPT (the account cache may lag): the mailboxes are gone for good.
        logger.info({ session: peer.sessionId, id: envelope.id }, 'recipients removed since RCPT; answered 550');
        return { action: 'reply', reply: replies.recipientsGone() };
      }
      // Never 5xx for our own fault: the client keeps the message and retries (STYLE.md §5).
      logger.error({ session: peer.sessionId, id: envelope.id, err }, 'store failed; answered 451');
      return { action: 'reply', reply: err instanceof StoreError ? replies.storeUnavailable() : replies.localError() };
    }
  }

  return {
    check,
    message,
    auth: options.auth ? (request, peer) => options.auth!.step(request, peer) : undefined,
    disconnected: (peer) => {
      policy.disconnected(peer);
      options.auth?.forget(peer);
    },
  };
}

/**
 * A queued message for other domains. The delivery issue (SMTP out) takes these jobs; until then
 * they wait, listed by `postern queue list`. The content rides in the job as base64 for now.
 */
function outboundJob(envelope: Envelope, recipients: string[], content: Buffer, receivedAt: Date) {
  return {
    kind: OUTBOUND_JOB,
    payload: JSON.stringify({
      id: envelope.id,
      mailFrom: envelope.mailFrom?.address ?? '',
      recipients,
      receivedAt: receivedAt.toISOString(),
      size: content.length,
      content: content.toString('base64'),
    }),
  };
}

/** `spf=pass dkim=pass arc=none dmarc=pass` for the log line. */
function summary(examination: Examination): string {
  const parts: string[] = [];
  if (examination.spf) parts.push(`spf=${examination.spf.result}`);
  if (examination.dkim) parts.push(`dkim=${examination.dkim.map((s) => s.result).join(',') || 'none'}`);
  if (examination.arc) parts.push(`arc=${examination.arc.result}`);
  if (examination.dmarc) parts.push(`dmarc=${examination.dmarc.result}`);
  return parts.join(' ');
}

function asReply(r: Reply): MessageOutcome {
  return { action: 'reply', reply: r };
}

/**
 * Postfix's reject_sender_login_mismatch applies to the envelope; a submission server should hold
 * the From header to the same rule, or the login check is only cosmetic. RFC 5322 §3.6.2 allows a
 * mailbox list: every address in it must belong to the user. Returns the first that does not.
 */
async function foreignFromAddress(content: Buffer, user: string, policy: InboundPolicy): Promise<string | undefined> {
  const from = summarize(content).from;
  const bracketed = [...from.matchAll(/<([^<>\s]+@[^<>\s]+)>/g)].map((m) => m[1]!);
  const addresses =
    bracketed.length > 0 ? bracketed : [...from.matchAll(/[^\s,;<>"()]+@[^\s,;<>"()]+/g)].map((m) => m[0]);
  if (addresses.length === 0) return from.trim() === '' ? undefined : from.trim();
  for (const address of addresses) if (!(await policy.ownedBy(address, user))) return address;
  return undefined;
}

export type { PolicyOutcome };
