/**
 * The inbound pipeline behind the SMTP listener: checks per stage, then for a message the trace
 * headers and the durable store. The 250 goes out only after `deliver()` resolved, that is after
 * the commit reached the disk (ARCHITECTURE.md principle 4). Later issues insert policy
 * restrictions, authentication and filters here, in that order.
 */

import { AccountCache } from '../accounts/account-cache.ts';
import type { Logger } from '../log/logger.ts';
import { type RecipientDecision, routeRecipient } from '../policy/recipient.ts';
import type { Envelope, Peer } from '../smtp/envelope.ts';
import type { CheckRequest, SmtpHandlers } from '../smtp/listener.ts';
import { receivedHeader, returnPathHeader } from '../smtp/received.ts';
import { replies } from '../smtp/replies.ts';
import type { CheckOutcome, MessageOutcome } from '../smtp/session.ts';
import { RecipientsGoneError, type Store, StoreError } from '../store/store.ts';

const CONTINUE: CheckOutcome = { action: 'continue' };

export interface InboundOptions {
  hostname: string;
  domains: readonly string[];
  store: Store;
  logger: Logger;
}

export function inboundHandlers(options: InboundOptions): SmtpHandlers {
  const { store, logger, hostname } = options;
  const localDomains = new Set(options.domains);
  const postmasterDomain = options.domains[0] ?? hostname;

  const accounts = new AccountCache((address) => store.findAccount(address), { ttlMs: 10_000, maxEntries: 10_000 });
  const toOutcome = (decision: RecipientDecision): CheckOutcome =>
    decision.ok ? { action: 'continue', route: decision.route } : { action: 'reject', reply: decision.reply };

  function check(request: CheckRequest): CheckOutcome | Promise<CheckOutcome> {
    if (request.stage !== 'rcpt') return CONTINUE;
    const decision = routeRecipient(request.recipient, localDomains, postmasterDomain, accounts);
    return decision instanceof Promise ? decision.then(toOutcome) : toOutcome(decision);
  }

  async function message(envelope: Envelope, content: Buffer, peer: Peer): Promise<MessageOutcome> {
    const receivedAt = new Date();
    const trace = Buffer.from(returnPathHeader(envelope) + receivedHeader(envelope, peer, hostname, receivedAt));
    try {
      const receipt = await store.deliver({
        mailFrom: envelope.mailFrom?.address ?? '',
        recipients: envelope.recipients.map((r) => ({ address: r.path.address, accountId: r.route.accountId })),
        content: Buffer.concat([trace, content]),
        receivedAt,
      });
      logger.info(
        {
          session: peer.sessionId,
          id: envelope.id,
          from: envelope.mailFrom?.address ?? '',
          to: envelope.recipients.map((r) => r.path.address),
          size: content.length,
          stored: receipt.messageId,
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

  return { check, message };
}
