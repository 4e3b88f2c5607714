/**
 * The inbound pipeline behind the SMTP listener: checks per stage, then for a message the trace
 * headers and the durable store. The 250 goes out only after `deliver()` resolved, that is after
 * the commit reached the disk (ARCHITECTURE.md principle 4). Later issues insert policy
 * restrictions, authentication and filters here, in that order.
 */

import { domainToASCII } from 'node:url';
import { getDomain } from 'tldts';
import type { ClientKind, Examination, SenderAuthentication } from '../authentication/authenticate.ts';
import { type HeaderField, readMessage } from '../authentication/dkim/message.ts';
import { authors } from '../authentication/dkim/verify-dkim.ts';
import type { ContentFilter, FilterOutcome, FilterVerdict } from '../filter/content-filter.ts';
import type { EnvelopeChanges } from '../filter/milter-stage.ts';
import { type AuthenticationSummary, dkimPassDomains, dkimSummary } from '../filter/phishing/authentication-signals.ts';
import type { Logger } from '../log/logger.ts';
import type { OutageLog } from '../log/outage.ts';
import { HEADER_LIMITS, headerSectionExcess } from '../mime/header-section.ts';
import type { InboundPolicy, PolicyOutcome } from '../policy/inbound-policy.ts';
import type { Envelope, Peer, RecipientRoute } from '../smtp/envelope.ts';
import type { CheckRequest, SmtpHandlers } from '../smtp/listener.ts';
import type { Path } from '../smtp/path.ts';
import { receivedHeader, returnPathHeader } from '../smtp/received.ts';
import { type Reply, replies, reply, textstring } from '../smtp/replies.ts';
import type { CheckOutcome, MessageOutcome } from '../smtp/session.ts';
import { outboundJob, transportOf } from '../store/outbound-job.ts';
import {
  isStorableText,
  type QueueJob,
  RecipientsGoneError,
  type Store,
  StoreError,
  StoreFullError,
} from '../store/store.ts';
import { withoutClientFields } from './client-fields.ts';
import { type FreeSpace, INSUFFICIENT_STORAGE } from './free-space.ts';
import type { SubmissionAuth } from './submission-auth.ts';
import { withSubmissionFields } from './submission-fields.ts';

/** The log line of a message with recipients in other domains: the same fields, and what becomes of that copy. */
const QUEUED_NOT_DELIVERED =
  'message stored; the copy for other domains waits in the outbound queue: outbound delivery is not implemented yet, so nothing sends it (postern queue list)';

export interface InboundOptions {
  hostname: string;
  store: Store;
  policy: InboundPolicy;
  /** SMTP AUTH on the submission listeners. */
  auth?: SubmissionAuth;
  /** SPF, DKIM, ARC and DMARC of incoming mail (src/authentication). */
  authentication?: SenderAuthentication;
  /** Header/body rules, milters and phishing detection (src/filter). */
  filter?: ContentFilter;
  /** The SQLite store's file system, asked at MAIL FROM (absent for PostgreSQL: its disk is elsewhere). */
  freeSpace?: FreeSpace;
  /** auth.bounceRelays: logins whose bounces may come From MAILER-DAEMON or postmaster of our domains. */
  bounceRelays?: ReadonlySet<string>;
  /**
   * The listeners' (src/log/outage.ts): a store failure at the end of data is answered here, not thrown
   * to the listener, so it is told here; the listener ends the outage at the next 250.
   */
  storeOutage?: OutageLog;
  logger: Logger;
}

export function inboundHandlers(options: InboundOptions): SmtpHandlers {
  const { store, logger, hostname, policy, authentication, filter } = options;

  function clientKind(peer: Peer): ClientKind {
    if (peer.authenticated) return 'login';
    return policy.fromMynetworks(peer.remoteAddress) ? 'mynetworks' : 'external';
  }

  /**
   * The line of a refusal after DATA, within the client's log budget (src/log/client-budget.ts): the
   * reply is marked as logged, so the session's own line for it (which keeps to the budget) is not
   * written, and a client sending message after message must not get a line each without limit. A
   * line left out is counted in the client's summary. Not for our own failures (a 451 for a store or
   * a check that failed): those are the admin's to see, whatever the client does.
   */
  function refused(
    peer: Peer,
    level: 'info' | 'warn',
    answer: Reply,
    fields: Record<string, unknown>,
    message: string,
  ): MessageOutcome {
    if (policy.clientLog.allows(peer.remoteAddress, level)) {
      logger[level]({ ...fields, code: answer.code, enhanced: answer.enhanced }, message);
    }
    return { action: 'reply', reply: answer };
  }

  /**
   * Our own failure (a check or the store), answered with a 451: its error line is written whatever the
   * client's budget (the admin's to see), and carries the reply's code and enhanced code as every
   * refusal line does, so that a search by code (`jq 'select(.code >= 400)'`) finds it too.
   */
  function failed(fields: Record<string, unknown>, answer: Reply, message: string): MessageOutcome {
    logger.error({ ...fields, code: answer.code, enhanced: answer.enhanced }, message);
    return { action: 'reply', reply: answer };
  }

  /**
   * A message the store did not take. Never 5xx for our own fault: the client keeps the message and
   * retries (STYLE.md §5). A store that says why (disk full, lock held) is the operator's to fix: its
   * reason, not a stack trace per message (a full disk would fill the log with them). Anything else is
   * our bug: all of it.
   */
  function storeFailed(fields: Record<string, unknown>, err: unknown, what: 'store' | 'quarantine'): MessageOutcome {
    const detail = err instanceof StoreError ? { reason: err.message } : { err };
    let answer: Reply;
    if (err instanceof StoreFullError) {
      // RFC 5321 §4.3.2 lets the end of data answer 452; RFC 3463 §3.4: X.3.1 "mail system full".
      // The next MAIL FROM asks the file system again rather than trust a reading up to a second old.
      options.freeSpace?.recheck();
      answer = INSUFFICIENT_STORAGE;
    } else answer = err instanceof StoreError ? replies.storeUnavailable() : replies.localError();
    // A store that cannot answer (STORE_*, as the listener tells them apart) is an outage, said once
    // however many sessions meet it; the listener never sees this failure, so it is not said twice.
    if (err instanceof StoreError && err.code.startsWith('STORE_')) options.storeOutage?.failed(fields, err.message);
    return failed({ ...fields, ...detail }, answer, `${what} failed; answered ${answer.code}`);
  }

  /** The restrictions of each stage (src/policy); VRFY's answer comes from there too. */
  function check(
    request: CheckRequest,
    peer: Peer,
  ): CheckOutcome | MessageOutcome | Promise<CheckOutcome | MessageOutcome> {
    switch (request.stage) {
      case 'connect':
        return policy.connect(peer, request.pregreet, request.talked);
      case 'helo':
        return policy.helo(peer, request.helo);
      case 'mail': {
        if (options.freeSpace && !options.freeSpace.enough()) return { action: 'reject', reply: INSUFFICIENT_STORAGE };
        // The client's name for Received, looked up while the transaction goes on (as SPF's lookups are).
        void policy.clientHostname(peer);
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

  async function message(envelope: Envelope, received: Buffer, peer: Peer): Promise<MessageOutcome> {
    if (received[0] === 0x20 || received[0] === 0x09) {
      // Stored after our Return-Path, Received and Authentication-Results, such a first line would
      // continue the last of them: a sender could write `dmarc=pass` into our own result. The filters
      // read past it as no field at all, so what they judged would not be what is stored either.
      return refused(
        peer,
        'info',
        replies.leadingFoldedLine(),
        { session: peer.sessionId, client: peer.remoteAddress, id: envelope.id, size: received.length },
        'message refused: its first line starts with white space (a continuation of no field); answered 554',
      );
    }
    // Before any stage reads the header: each reads it whole (src/mime/header-section.ts says why).
    const excess = headerSectionExcess(received);
    if (excess?.limit === 'hops') {
      // RFC 5321 §6.3: a message that went through this many hops is in a loop; refused, never delivered.
      return refused(
        peer,
        'warn',
        replies.tooManyHops(excess.value),
        {
          session: peer.sessionId,
          client: peer.remoteAddress,
          id: envelope.id,
          from: envelope.mailFrom?.address ?? '',
          hops: excess.value,
        },
        `message refused: ${excess.value} Received fields, a mail loop; answered 554`,
      );
    }
    if (excess) {
      const { fields, bytes } = HEADER_LIMITS;
      const why =
        excess.limit === 'fields' ? `more than ${fields} header fields` : `a header section over ${bytes} octets`;
      return refused(
        peer,
        'info',
        replies.headerTooLarge(why),
        {
          session: peer.sessionId,
          client: peer.remoteAddress,
          id: envelope.id,
          size: received.length,
          limit: excess.limit,
        },
        `message refused: ${why}; answered 552`,
      );
    }
    // A submitted message's header, read once for the From check and the fields submission adds.
    const fields = peer.authenticated ? readMessage(received).fields : undefined;
    if (peer.authenticated && fields) {
      // Checked at MAIL too; an account removed or disabled while its message was on the way was told
      // its From was not its own. RFC 5321 §4.3.2 allows 554 after DATA, not 530.
      const gone = await policy.accountGone(peer);
      if (gone) {
        return refused(
          peer,
          'info',
          reply(554, '5.7.0', `Authentication required: the account ${peer.authenticated} is no longer active`),
          { session: peer.sessionId, client: peer.remoteAddress, id: envelope.id, user: peer.authenticated },
          `message refused: the account was ${gone} after logging in; answered 554`,
        );
      }
      const relayedBounce =
        envelope.mailFrom === null && options.bounceRelays?.has(peer.authenticated.toLowerCase()) === true;
      const foreign = await foreignFromAddress(fields, peer.authenticated, policy, relayedBounce);
      if (foreign) {
        // RFC 5321 §4.3.2: after DATA the refusals are 554, 550, 552; 553 (mailbox name not allowed) is a
        // MAIL/RCPT reply, which MAIL gives for a foreign envelope sender.
        const answer =
          foreign === MULTIPLE_FROM
            ? reply(550, '5.7.1', 'a message has one From field (RFC 5322 §3.6); this one has more than one')
            : foreign === NO_FROM
              ? reply(
                  550,
                  '5.7.1',
                  `a message needs a From field with an address of user ${peer.authenticated} (RFC 5322 §3.6)`,
                )
              : foreign === UNREADABLE_FROM
                ? reply(
                    550,
                    '5.7.1',
                    'the From field is not a list of addresses (RFC 5322 §3.6.2): receivers could read another author in it',
                  )
                : reply(550, '5.7.1', `From header address <${foreign}> is not owned by user ${peer.authenticated}`);
        return refused(
          peer,
          'info',
          answer,
          {
            session: peer.sessionId,
            client: peer.remoteAddress,
            id: envelope.id,
            user: peer.authenticated,
            from: withoutMarker(foreign),
          },
          'From header not owned: 550',
        );
      }
      // Sender: names who sent it for the author (RFC 5322 §3.6.2); mail programs show "Sender on behalf
      // of From", so a forged one speaks for someone else as a forged From would.
      const sender = await foreignSenderAddress(fields, peer.authenticated, policy);
      if (sender) {
        const what =
          sender === UNREADABLE_SENDER
            ? 'the Sender field is not one address (RFC 5322 §3.6.2)'
            : `Sender header address <${sender}>`;
        return refused(
          peer,
          'info',
          reply(550, '5.7.1', `${what} is not owned by user ${peer.authenticated}`),
          {
            session: peer.sessionId,
            client: peer.remoteAddress,
            id: envelope.id,
            user: peer.authenticated,
            sender: withoutMarker(sender),
          },
          'Sender header not owned: 550',
        );
      }
    }
    // RFC 4954 §5: an AUTH= author the login does not own is not to be trusted, and then the server
    // "MUST behave as if the AUTH=<> parameter was supplied": milters see {auth_author} <>.
    const author = envelope.authAuthor;
    if (peer.authenticated && author !== undefined && author !== '<>') {
      if (!(await policy.ownedBy(author, peer.authenticated))) envelope.authAuthor = '<>';
    }
    // RFC 6409 §8.2, §8.3: a submitted message without Message-ID or Date gets them.
    const content = fields ? withSubmissionFields(received, fields, hostname, new Date()) : received;
    let examination: Examination | undefined;
    if (authentication) {
      try {
        examination = await authentication.examine(envelope, content, peer, clientKind(peer));
      } catch (err) {
        // A bug in a check must not turn into an accept or a bounce: the client retries.
        return failed(
          { session: peer.sessionId, client: peer.remoteAddress, id: envelope.id, err },
          replies.localError(),
          'authentication failed; answered 451',
        );
      }
      const { verdict } = examination;
      if (verdict.reply) {
        return refused(
          peer,
          'info',
          verdict.reply,
          {
            session: peer.sessionId,
            client: peer.remoteAddress,
            id: envelope.id,
            auth: summary(examination),
            reason: verdict.reason,
            // Every check's result and why, so the refusal can be explained from the log alone.
            checks: examination.findings.map((f) => `${f.check}=${f.result}: ${f.reason}`),
          },
          `authentication: ${verdict.action}; answered ${verdict.reply.code}`,
        );
      }
    }
    let body = withoutClientFields(examination?.content ?? content, peer.authenticated !== undefined);
    // Looked up since MAIL FROM; awaited before the filters, whose milters get it as Postfix sends it
    // (the SMFIC_CONNECT host name, `_` and `{client_name}`), and used for Received after them.
    const clientName = await policy.clientHostname(peer);
    let filtered: FilterOutcome | undefined;
    // The From address the phishing stage looked up in the sender history, recorded under the same
    // spelling once the message reaches the inbox (rememberCorrespondents), if DMARC proved it: a
    // forged From (a partner's domain without DMARC) must not earn its author a history.
    let headerFrom: string | undefined;
    const authSummary = examination ? authenticationSummary(examination) : undefined;
    if (filter?.active) {
      try {
        filtered = await filter.filter({
          envelope,
          peer,
          clientName,
          content: body,
          external: clientKind(peer) === 'external',
          ...(authSummary ? { authentication: authSummary } : {}),
          previousMessages: (from) => {
            headerFrom = from;
            return store.senderHistory(from).then((h) => h.messages);
          },
          clientLog: policy.clientLog,
        });
      } catch (err) {
        return failed(
          { session: peer.sessionId, client: peer.remoteAddress, id: envelope.id, err },
          replies.localError(),
          'content filter failed; answered 451',
        );
      }
      const early = await settleFiltered(filtered, envelope, peer, examination);
      if (early) return early;
      if (filtered.action === 'deliver') body = filtered.content;
    }
    const junk = examination?.verdict.action === 'junk' || (filtered?.action === 'deliver' && filtered.junk);
    const changes = filtered?.action === 'deliver' ? filtered.envelope : undefined;
    // A milter's SMFIR_CHGFROM: the new sender is the Return-Path and the queued job's sender.
    const mailFrom = changes?.mailFrom !== undefined ? changes.mailFrom : envelope.mailFrom;
    const receivedAt = new Date();
    const ourTrace = (examination?.trace ?? '') + receivedHeader(envelope, peer, hostname, receivedAt, clientName);
    const trace =
      returnPathHeader(mailFrom === envelope.mailFrom ? envelope : { ...envelope, mailFrom }) +
      ourTrace +
      (examination?.header ?? '');
    // Its own memory, not a slice of Node's shared pool: the store hands the bytes to its writer
    // thread whole, and would otherwise copy them out of the pool first.
    const traceLength = Buffer.byteLength(trace);
    const stored = Buffer.allocUnsafeSlow(traceLength + body.length);
    stored.write(trace, 0);
    body.copy(stored, traceLength);
    let recipients =
      filtered?.action === 'deliver' && filtered.redirect !== undefined
        ? await redirected(filtered.redirect)
        : envelope.recipients.map(({ path, route }) => ({ address: path.address, route }));
    if (filtered?.action === 'deliver' && filtered.redirect !== undefined && ownedButUnknown(recipients[0])) {
      // A rule's mistake, not the sender's: queued, the message would go to our own MX and come back,
      // refused there. 451 keeps it with the sender, who retries, until the admin fixes the rule or
      // adds the address (Postfix defers on a configuration error too: 451 4.3.0).
      return failed(
        { session: peer.sessionId, client: peer.remoteAddress, id: envelope.id, redirect: filtered.redirect },
        replies.localError(),
        `a REDIRECT rule sends the message to ${filtered.redirect}, which has no account or alias here; answered 451 (the sender retries): add it (postern user add / alias add) or fix the rule`,
      );
    }
    if (changes)
      recipients = await changedRecipients(recipients, changes, {
        session: peer.sessionId,
        client: peer.remoteAddress,
        id: envelope.id,
      });
    if (recipients.length === 0) {
      // Every recipient removed by the milters: nobody is to get it, as a DISCARD; the client gets its 250.
      logger.info(
        { session: peer.sessionId, client: peer.remoteAddress, id: envelope.id },
        'milters removed every recipient: discarded',
      );
      return { action: 'reply', reply: replies.queued(envelope.id) };
    }
    const local: { address: string; accountId: number; mailbox?: 'Junk' }[] = [];
    const outbound: string[] = [];
    for (const { address, route } of recipients) {
      if (route.kind === 'local') {
        // p=quarantine (RFC 7489 §6.3) or a phishing score past `junk`: the Junk mailbox, marked $Junk.
        local.push({ address, accountId: route.accountId, ...(junk ? { mailbox: 'Junk' as const } : {}) });
      } else outbound.push(address);
    }
    if (peer.gone) return notStored(peer, envelope);
    peer.storing = true;
    try {
      // The queue first: if local delivery then fails, the 451 makes the client retry, and an
      // outbound copy may go twice; the other order could lose the local copy's retry. Never lost.
      let job: QueueJob | undefined;
      if (outbound.length > 0) {
        // The copy that leaves gets our Received only. Return-Path is for final delivery (RFC
        // 5321 §4.4: a relayed message must not carry one), and our Authentication-Results,
        // `smtp.auth=` included, says who logged in: not for the next domain (RFC 8601 §5).
        // And the content before our phishing marks (banner, subject tag, verdict headers): they
        // are for our readers, and would break the sender's DKIM signature at the next domain.
        const leaving = Buffer.concat([
          Buffer.from(ourTrace),
          (filtered?.action === 'deliver' && filtered.unmarked) || body,
        ]);
        const sender = mailFrom?.address ?? '';
        // RFC 6152 §3, RFC 6531 §3.4: a relay passes BODY=8BITMIME and SMTPUTF8 on, and asks for them
        // when what leaves needs them though MAIL never declared them: 8-bit content (taken without
        // BODY=, as Postfix does, or put in by a milter), a UTF-8 address (a milter's), or UTF-8 header
        // fields (RFC 6532 §3, accepted without SMTPUTF8). Submission goes out the same way.
        const found = transportOf(leaving, [sender, ...outbound]);
        job = await store.enqueueJob(
          outboundJob({
            id: envelope.id,
            mailFrom: sender,
            recipients: outbound,
            content: leaving,
            receivedAt,
            body: envelope.body === '8BITMIME' ? '8BITMIME' : found.body,
            smtputf8: envelope.smtputf8 || found.smtputf8,
          }),
        );
      }
      const receipt =
        local.length > 0
          ? await store.deliver({
              mailFrom: mailFrom?.address ?? '',
              recipients: local,
              content: stored,
              receivedAt,
              handOver: true, // `stored` is ours alone and not read after this
              ...(junk ? { keywords: ['$Junk'] } : {}),
            })
          : undefined;
      // The line's fields cost a few microseconds to gather: not for a level that drops them.
      if (logger.isLevelEnabled('info')) {
        // A recipient whose account went between RCPT and now (removed on another node, or by the CLI
        // while the account cache still held it) was not stored: said so, not listed as delivered.
        const placed = new Set(receipt?.placements.map((p) => p.accountId));
        const skipped = receipt ? local.filter((r) => !placed.has(r.accountId)).map((r) => r.address) : [];
        logger.info(
          {
            session: peer.sessionId,
            client: peer.remoteAddress,
            id: envelope.id,
            from: mailFrom?.address ?? '',
            to: recipients.map((r) => r.address).filter((address) => !skipped.includes(address)),
            ...(skipped.length > 0 ? { skipped } : {}),
            size: content.length,
            stored: receipt?.messageId,
            queued: job?.id,
            user: peer.authenticated,
            ...(examination?.header ? { auth: summary(examination) } : {}),
            ...(examination && forgedResultsRemoved(examination) ? { forgedResultsRemoved: true } : {}),
            ...(junk ? { junk: junkReason(examination, filtered) } : {}),
            ...(verdictOf(filtered) ? { verdict: logVerdict(verdictOf(filtered)!) } : {}),
          },
          // The 250 said "queued", and nothing sends the job yet: the admin must not read it as sent.
          job ? QUEUED_NOT_DELIVERED : 'message stored',
        );
      }
      const unmarked = !junk && verdictOf(filtered)?.action === 'none';
      rememberCorrespondents(envelope, peer, receivedAt, unmarked ? authSummary : undefined, headerFrom);
      return { action: 'reply', reply: replies.queued(envelope.id) };
    } catch (err) {
      if (err instanceof RecipientsGoneError) {
        // Removed and made anew since RCPT (`user remove`, then `user add`, while the account cache held
        // the old one): the message accepted for the old account must not reach the new one
        // (account-reuse.test.ts), nor bounce for an address that has a mailbox. A retry's RCPT finds it.
        const remade = await Promise.all(
          local.map(({ address }) => store.resolveAddress(address).catch(() => undefined)),
        );
        // Else removed after RCPT (the account cache may lag): the mailboxes are gone for good.
        const again = remade.some((account) => account !== undefined);
        return refused(
          peer,
          'info',
          again ? replies.recipientsRemade() : replies.recipientsGone(),
          { session: peer.sessionId, client: peer.remoteAddress, id: envelope.id },
          again
            ? 'recipient accounts made anew since RCPT; answered 451'
            : 'recipients removed since RCPT; answered 550',
        );
      }
      return storeFailed({ session: peer.sessionId, client: peer.remoteAddress, id: envelope.id }, err, 'store');
    } finally {
      peer.storing = false;
    }
  }

  /**
   * The client hung up (or was cut at shutdown) while the message was being checked: it never hears a
   * 250, so it keeps the message and sends it again. Storing this copy too would deliver it twice.
   */
  function notStored(peer: Peer, envelope: Envelope): MessageOutcome {
    logger.info(
      { session: peer.sessionId, client: peer.remoteAddress, id: envelope.id },
      'client gone before the message was stored: not stored',
    );
    return { action: 'reply', reply: replies.localError() };
  }

  /** A refusal, a discard or a quarantine ends the transaction here; undefined goes on to delivery. */
  async function settleFiltered(
    filtered: FilterOutcome,
    envelope: Envelope,
    peer: Peer,
    examination: Examination | undefined,
  ): Promise<MessageOutcome | undefined> {
    const base = {
      session: peer.sessionId,
      client: peer.remoteAddress,
      id: envelope.id,
      from: envelope.mailFrom?.address ?? '',
    };
    switch (filtered.action) {
      case 'reply': {
        // With the reply's text as the client got it (an RFC 5321 §4.2.1 textstring): a milter's
        // SMFIR_REPLYCODE says why in its text alone, and the reason only names the milter.
        const { code, enhanced, lines } = filtered.reply;
        const text = lines.map((line) => textstring(line)).join(' ');
        return refused(
          peer,
          'info',
          filtered.reply,
          { ...base, reply: text, reason: filtered.reason },
          `content filter: answered ${code}${enhanced ? ` ${enhanced}` : ''} ${text}`,
        );
      }
      case 'discard':
        // Postfix DISCARD: the client is told the message was accepted, and it is dropped.
        logger.info({ ...base, reason: filtered.reason }, 'content filter: discarded');
        return { action: 'reply', reply: replies.queued(envelope.id) };
      case 'quarantine': {
        if (filtered.redirect !== undefined && ownedButUnknown((await redirected(filtered.redirect))[0])) {
          // As for a delivery (message() above): held, it could never be released to that address; the
          // rule's mistake is the admin's to fix while the sender retries.
          return failed(
            { ...base, redirect: filtered.redirect },
            replies.localError(),
            `a REDIRECT rule sends the message to ${filtered.redirect}, which has no account or alias here; answered 451 (the sender retries): add it (postern user add / alias add) or fix the rule`,
          );
        }
        const clientName = await policy.clientHostname(peer);
        const receivedAt = new Date();
        const { mailFrom, recipients } = quarantinedEnvelope(envelope, filtered.redirect, filtered.envelope);
        // The sender a release delivers with, a milter's SMFIR_CHGFROM included, as for a delivery.
        const trace =
          returnPathHeader({ ...envelope, mailFrom }) +
          (examination?.trace ?? '') +
          receivedHeader(envelope, peer, hostname, receivedAt, clientName);
        if (peer.gone) return notStored(peer, envelope);
        peer.storing = true;
        try {
          const ours = Buffer.from(trace + (examination?.header ?? ''));
          // Marked by the phishing stage: the entry keeps the content as it came and the marks apart
          // (in its verdict), so a release to another domain sends what the sender signed and a local
          // one gets the marks (src/cli/commands/quarantine.ts), as a delivery does.
          const { unmarked, marks } = filtered;
          // A field of the verdict's JSON, which the store keeps as written: no schema change.
          const verdict =
            unmarked && marks ? { ...filtered.verdict, marks: { ...marks, at: ours.length } } : filtered.verdict;
          const entry = await store.quarantine({
            mailFrom: mailFrom?.address ?? '',
            recipients,
            content: Buffer.concat([ours, unmarked && marks ? unmarked : filtered.content]),
            receivedAt,
            verdict,
          });
          logger.info({ ...base, quarantined: entry.id, verdict: logVerdict(filtered.verdict) }, 'message quarantined');
          return { action: 'reply', reply: replies.queued(envelope.id) };
        } catch (err) {
          return storeFailed(base, err, 'quarantine');
        } finally {
          peer.storing = false;
        }
      }
      default:
        return undefined;
    }
  }

  /**
   * The milters' SMFIR_ADDRCPT and SMFIR_DELRCPT, in order; an added address is routed as a REDIRECT's.
   * An added address in one of our domains without an account is left out and logged: queued for
   * outbound delivery it would go to our own MX, that is back to us (a loop), where RCPT refuses it.
   */
  async function changedRecipients(
    recipients: { address: string; route: RecipientRoute }[],
    changes: EnvelopeChanges,
    message: { session: string; client: string; id: string },
  ): Promise<{ address: string; route: RecipientRoute }[]> {
    let out = recipients;
    for (const change of changes.recipients) {
      if ('remove' in change) out = out.filter((r) => r.address.toLowerCase() !== change.remove);
      else if (!out.some((r) => r.address.toLowerCase() === change.add.address.toLowerCase())) {
        const [added] = await redirected(change.add.address);
        if (ownedButUnknown(added)) {
          const fields = { ...message, address: change.add.address };
          logger.warn(fields, 'milter added a recipient of our domains that has no account: left out');
        } else if (added) out = [...out, added];
      }
    }
    return out;
  }

  /** An address routed outbound while its domain is one of ours: no such account or alias here. */
  function ownedButUnknown(recipient: { address: string; route: RecipientRoute } | undefined): boolean {
    if (recipient?.route.kind !== 'outbound') return false;
    return policy.isOurs(recipient.address.slice(recipient.address.lastIndexOf('@') + 1));
  }

  /** header_checks REDIRECT: the message goes to that one address instead of its recipients. */
  async function redirected(address: string): Promise<{ address: string; route: RecipientRoute }[]> {
    const account = await store.resolveAddress(address);
    return [{ address, route: account ? { kind: 'local', accountId: account.id } : { kind: 'outbound' } }];
  }

  /**
   * Sender history for the first-contact signal: who wrote to us, and whom our users wrote to (a
   * reply from them is no first contact); and the domains our users write to, the phishing check's
   * learned partners. Off the acknowledgement path: a failure only costs history.
   * From outside, only addresses the message proved, and only when it reached the inbox unmarked
   * (`proof` is given then): a phisher must earn no history by a message left in Junk or marked, nor
   * by a forged envelope. The envelope sender when SPF passed for it (RFC 7208 §2.6.1: "pass" alone
   * says the client may use that domain; a "fail" or "none" envelope is anyone's to write), and the
   * author, the From address the check reads, when DMARC passed (RFC 7489 §3.1: aligned with an
   * authenticated domain): lists, ESPs and VERP send with an envelope of their own (RFC 5321 §4.4).
   * Nothing from outside teaches partner domains: five junk messages from examp1e.com made it one.
   */
  function rememberCorrespondents(
    envelope: Envelope,
    peer: Peer,
    at: Date,
    proof: AuthenticationSummary | undefined,
    author: string | undefined,
  ): void {
    if (!filter?.scoresPhishing) return;
    const record = (addresses: string[]) => {
      if (addresses.length === 0) return;
      store.recordSenders(addresses, at).catch((err: unknown) => logger.warn({ err }, 'sender history not recorded'));
    };
    if (clientKind(peer) === 'external') {
      record([
        ...(envelope.mailFrom && proof?.spf === 'pass' ? [envelope.mailFrom.address] : []),
        // RFC 5321 §4.5.3.1.3: no path is longer than 256 octets, so no mailbox past 254 is real.
        ...(author && proof?.dmarc === 'pass' && Buffer.byteLength(author) <= 254 && isStorableText(author)
          ? [author]
          : []),
      ]);
      return;
    }
    const outbound = envelope.recipients.filter((r) => r.route.kind === 'outbound').map((r) => r.path.address);
    record(outbound);
    // One count per message and registrable domain, not per recipient: one message to five people at
    // a typo domain is one message, and a.evil.example … z.evil.example are one domain.
    const domains = new Set(outbound.map(registrableDomain).filter((d) => d !== undefined));
    if (domains.size === 0) return;
    store
      .recordCorrespondentDomains([...domains], at)
      .catch((err: unknown) => logger.warn({ err }, 'correspondent domains not recorded'));
  }

  return {
    // The connection count and rate, as each connection is accepted, before any greet delay.
    admit: (peer) => policy.admit(peer),
    check,
    // Every refusal message() gives is logged there, with its reason and the message's id.
    message: (envelope: Envelope, received: Buffer, peer: Peer) =>
      message(envelope, received, peer).then((outcome) =>
        outcome.reply.code >= 400 ? { ...outcome, logged: true as const } : outcome,
      ),
    auth: options.auth ? (request, peer) => options.auth!.step(request, peer) : undefined,
    clientEnded: (peer) => policy.clientEnded(peer),
    disconnected: (peer) => {
      policy.disconnected(peer);
      options.auth?.forget(peer);
    },
  };
}

/**
 * The registrable domain (Public Suffix List, via tldts) of an address, as an A-label in lower case
 * (RFC 5890 §2.3.2.1), as lookalike.ts compares domains; none for an address literal or a bare suffix.
 */
function registrableDomain(address: string): string | undefined {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  if (domain.startsWith('[')) return undefined;
  return getDomain(domainToASCII(domain).toLowerCase() || domain.toLowerCase()) ?? undefined;
}

function authenticationSummary(examination: Examination): AuthenticationSummary {
  const dkim = examination.dkim ?? [];
  const summary: AuthenticationSummary = {};
  if (examination.spf) summary.spf = examination.spf.result;
  const dkimResult = dkimSummary(dkim);
  if (dkimResult !== undefined) summary.dkim = dkimResult;
  const dkimDomains = dkimPassDomains(dkim);
  if (dkimDomains.length > 0) summary.dkimDomains = dkimDomains;
  if (examination.dmarc) {
    // A fail a trusted ARC sealer vouched for (it saw the message authenticate before it changed it,
    // RFC 8617 §7.2.1) is scored as the pass it was there; the allow-list's override proves nothing.
    const vouched = examination.dmarc.result === 'fail' && examination.dmarcOverride === 'trusted_forwarder';
    summary.dmarc = vouched ? 'pass' : examination.dmarc.result;
    if (examination.dmarc.fromDomain !== '') summary.dmarcDomain = examination.dmarc.fromDomain;
    if (examination.dmarc.policy) summary.dmarcPolicy = examination.dmarc.policy;
  }
  return summary;
}

function verdictOf(filtered: FilterOutcome | undefined) {
  return filtered?.action === 'deliver' ? filtered.verdict : undefined;
}

/** Why the message went to Junk: the check whose verdict was junk (DMARC p=quarantine, the phishing score) or a milter. */
function junkReason(examination: Examination | undefined, filtered: FilterOutcome | undefined): string {
  if (examination?.verdict.action === 'junk') return examination.verdict.reason;
  const verdict = verdictOf(filtered);
  return verdict?.action === 'junk' ? verdict.reason : 'a milter marked it as spam';
}

/**
 * Who a quarantined message goes to on release: where it would have gone, a header_checks REDIRECT
 * and the milters' envelope changes (in their order) applied, as Postfix keeps them for a held message.
 */
function quarantinedEnvelope(
  envelope: Envelope,
  redirect: string | undefined,
  changes: EnvelopeChanges | undefined,
): { mailFrom: Path | null; recipients: string[] } {
  let recipients = redirect !== undefined ? [redirect] : envelope.recipients.map((r) => r.path.address);
  for (const change of changes?.recipients ?? []) {
    if ('add' in change) recipients.push(change.add.address);
    else recipients = recipients.filter((address) => address.toLowerCase() !== change.remove);
  }
  // Every recipient removed: the entry keeps the original ones, for the admin to decide on release.
  if (recipients.length === 0) recipients = envelope.recipients.map((r) => r.path.address);
  const mailFrom = changes?.mailFrom !== undefined ? changes.mailFrom : envelope.mailFrom;
  return { mailFrom, recipients };
}

/** `score=7.5 category=bank action=junk signals=lookalike-sender,link-text-mismatch` for the log line. */
function logVerdict(v: FilterVerdict): string {
  const line = `score=${v.score} category=${v.category} action=${v.action} signals=${v.signals.map((s) => s.name).join(',')}`;
  // The detector opens at most MAX_ATTACHED_MESSAGES (src/filter/phishing/embedded.ts): an admin reading
  // "score=0" must learn that the rest went unread.
  return v.unopenedAttachedMessages ? `${line} unopenedAttachedMessages=${v.unopenedAttachedMessages}` : line;
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

/** RFC 8601 §5: the sender's Authentication-Results fields that claimed our authserv-id were removed. */
function forgedResultsRemoved(examination: Examination): boolean {
  return examination.findings.some((f) => f.check === 'authentication-results' && f.result === 'removed');
}

function asReply(r: Reply): MessageOutcome {
  return { action: 'reply', reply: r };
}

/**
 * Postfix's reject_sender_login_mismatch applies to the envelope; a submission server should hold
 * the From header to the same rule, or the login check is only cosmetic. RFC 5322 §3.6.2 allows a
 * mailbox list: every address in it must belong to the user. Returns the first that does not.
 *
 * Read as receivers read it for DMARC (authors(): every From field, the whole header, comments and
 * quoted strings as RFC 5322 has them, no encoded-word decoding), so what passes here is what they
 * see. A second From field (RFC 5322 §3.6 allows one) is refused outright: receivers differ on which
 * one they show. So is a message without one, or with an empty one (RFC 5322 §3.6 requires it):
 * it would pass every check here and leave the receiver to show the author it guesses.
 *
 * A bounce (null sender, RFC 5321 §4.5.5) that a host of ours relays with a login (auth.bounceRelays)
 * comes from its MAILER-DAEMON (or postmaster), at that host's name: allowed when the name is one of
 * our domains or below one, so that the user hears of their failed mail; refused, Postfix would drop
 * it as a double bounce. Only for those logins: for any user, a null sender and From postmaster would
 * be the postmaster's voice for phishing, to colleagues and out. Another domain's MAILER-DAEMON stays
 * refused: it would be a forgery like any other.
 */
async function foreignFromAddress(
  header: readonly HeaderField[],
  user: string,
  policy: InboundPolicy,
  relayedBounce: boolean,
): Promise<string | undefined> {
  const fields = header.filter((f) => f.key === 'from');
  if (fields.length > 1) return MULTIPLE_FROM;
  const addresses = authors(fields);
  if (addresses.length === 0) {
    const value = fields[0]?.line.slice(fields[0].line.indexOf(':') + 1).trim() ?? '';
    return value === '' ? NO_FROM : value;
  }
  // `Alice <alice@example.com> <bob@example.com>` is no RFC 5322 §3.6.2 mailbox list: our parser reads
  // alice, Python's email package both, and the receiver's shows whichever it reads. Every "@" outside
  // quoted strings and comments must belong to an address read, or the field is refused.
  const value = fields[0]!.line.slice(fields[0]!.line.indexOf(':') + 1);
  if (unquotedAtSigns(value) !== addresses.length) return UNREADABLE_FROM;
  for (const address of addresses) {
    if (relayedBounce && isSystemSender(address) && policy.isOurs(address.slice(address.lastIndexOf('@') + 1)))
      continue;
    if (!(await policy.ownedBy(address, user))) return address;
  }
  return undefined;
}

/**
 * The Sender field's address when it is not the user's; UNREADABLE_SENDER when there is more than one
 * field or it is not exactly one address (RFC 5322 §3.6, §3.6.2: one mailbox, at most once).
 */
async function foreignSenderAddress(
  header: readonly HeaderField[],
  user: string,
  policy: InboundPolicy,
): Promise<string | undefined> {
  const fields = header.filter((f) => f.key === 'sender');
  if (fields.length === 0) return undefined;
  if (fields.length > 1) return UNREADABLE_SENDER;
  const addresses = authors(fields);
  const value = fields[0]!.line.slice(fields[0]!.line.indexOf(':') + 1);
  if (addresses.length !== 1 || unquotedAtSigns(value) !== 1) return UNREADABLE_SENDER;
  const [address] = addresses as [string];
  return (await policy.ownedBy(address, user)) ? undefined : address;
}

/** The senders of bounces and notices (RFC 5321 §4.5.1, RFC 3834 §5): MAILER-DAEMON or postmaster. */
function isSystemSender(address: string): boolean {
  return /^(mailer-daemon|postmaster)@/i.test(address);
}

/** The "@" signs of a header field value that are not inside a quoted string or a comment (RFC 5322 §3.2). */
function unquotedAtSigns(value: string): number {
  let count = 0;
  let quoted = false;
  let depth = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    // A quoted-pair exists only inside a quoted string or a comment (RFC 5322 §3.2.1, §3.2.4); outside
    // them a backslash quotes nothing, and `bob\@evil.example <alice@…>` has two "@" (Python's parser
    // reads bob's address there).
    if (c === '\\' && (quoted || depth > 0)) i++;
    else if (quoted) quoted = c !== '"';
    else if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0 && c === '"') quoted = true;
    else if (depth === 0 && c === '@') count++;
  }
  return count;
}

/** A finding of foreignFromAddress or foreignSenderAddress as the log writes it: the marker is no text. */
function withoutMarker(found: string): string {
  return found.startsWith('\0') ? found.slice(1) : found;
}

const MULTIPLE_FROM = '\0multiple From fields';
const UNREADABLE_FROM = '\0an unreadable From field';
const NO_FROM = '\0no From field';
const UNREADABLE_SENDER = '\0an unreadable Sender field';

export type { PolicyOutcome };
