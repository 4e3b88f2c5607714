/**
 * The receiving server's policy: the configured restriction lists per stage (engine.ts), the
 * per-client limits (anvil.ts), the tarpit, greylisting and VRFY, with every decision logged with
 * its rule, reply and reason, and counted per rule for `postern stats`.
 */

import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { Resolver } from '../dns/resolver.ts';
import { ClientLogBudget } from '../log/client-budget.ts';
import type { Logger } from '../log/logger.ts';
import type { Envelope, Peer, RecipientRoute } from '../smtp/envelope.ts';
import { type Path, parseMailbox } from '../smtp/path.ts';
import { echoAddress, type Reply, replies, reply } from '../smtp/replies.ts';
import type { Store } from '../store/store.ts';
import { Anvil } from './anvil.ts';
import { clientKey, parseNetworks } from './cidr.ts';
import type { Decision, ListResult, RestrictionList } from './engine.ts';
import { StoreGreylister } from './greylist.ts';
import { localAddress, postmasterDomainOf } from './local-address.ts';
import { PolicyCounters } from './policy-counters.ts';
import { assertClosedRelay, buildList, DEFAULT_RESTRICTIONS, type RuleEntryConfig } from './registry.ts';
import { type NetworkList, type PolicyContext, type ServerIdentity, STAGES, type Stage } from './restriction.ts';
import { verifiedClientHostname } from './rules/client.ts';
import { Tarpit } from './tarpit.ts';

type Found = { id: number } | undefined;
export interface AccountLookup {
  /** May answer synchronously (from a cache). */
  findAccount(address: string): Found | Promise<Found>;
}

/**
 * What a check answers the SMTP session. `logged`: the refusal is logged here with its rule and
 * reason (#record), so the listener does not log its reply again.
 */
export type PolicyOutcome =
  | { action: 'continue'; route?: RecipientRoute }
  | { action: 'reject'; reply: Reply; logged?: true }
  | { action: 'disconnect'; reply: Reply; logged?: true };

export interface InboundPolicyOptions {
  config: Config;
  resolver: Resolver;
  store: Store;
  accounts: AccountLookup;
  logger: Logger;
}

const CONTINUE: PolicyOutcome = { action: 'continue' };

export class InboundPolicy {
  readonly lists: Readonly<Record<Stage, RestrictionList>>;
  /**
   * The log lines a client's refusals may add a minute, across its connections (src/log/client-budget.ts),
   * counted by the client the limits count (an IPv4 address, an IPv6 /64); `limits.exceptions` are never
   * held back. The policy's decisions count, and the server's listeners share it for their refusals.
   */
  readonly clientLog: ClientLogBudget;
  readonly #server: ServerIdentity;
  readonly #resolver: Resolver;
  readonly #accounts: AccountLookup;
  readonly #store: Store;
  /**
   * Until when the store is known to hold accounts: asked again 10 s after (a PostgreSQL database
   * replaced by an empty one under running nodes is seen), and every time while it holds none.
   */
  #accountsUntil = 0;
  readonly #logger: Logger;
  readonly #anvil: Anvil;
  readonly #limitExceptions: NetworkList;
  readonly #tarpit: Tarpit | undefined;
  readonly #counters: PolicyCounters;
  readonly #vrfy: Config['smtp']['vrfy'];
  /** Per-session memory for rules (a PTR looked up once), dropped at disconnect. */
  readonly #memos = new Map<string, Map<string, unknown>>();
  /** Sessions anvil counted at connect, so only those are uncounted at disconnect. */
  readonly #counted = new Set<string>();
  /** Per session that met the tarpit, aborted once its client is done sending or gone (#delayed). */
  readonly #hangups = new Map<string, AbortController>();
  /**
   * The routing guard's refusal of a local address without an account, whatever the lists hold: as
   * Postfix's smtpd_reject_unlisted_recipient = yes runs reject_unlisted_recipient when no list names
   * it, with the same reply, and logged, counted and tarpitted as that rule's refusals are.
   */
  readonly #unlisted = buildList('recipient', ['reject_unlisted_recipient'], {});

  constructor(options: InboundPolicyOptions) {
    const { config } = options;
    this.#resolver = options.resolver;
    this.#accounts = options.accounts;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#vrfy = config.smtp.vrfy;
    const mynetworks = networks(config.mynetworks, 'mynetworks');
    this.#server = {
      hostname: config.hostname,
      localDomains: new Set(config.domains),
      addresses: config.serverAddresses,
      mynetworks,
    };
    const greylisting = config.greylisting;
    // Off means off: a check_greylist placed by hand without `greylisting.enabled` stops the start.
    const services = greylisting.enabled
      ? {
          greylist: new StoreGreylister(options.store, {
            delayMs: greylisting.delaySeconds * 1000,
            retryWindowMs: greylisting.retryWindowHours * 3_600_000,
            expireMs: greylisting.expireDays * 86_400_000,
            autoPassAfter: greylisting.autoPassAfter,
            maxPendingTriplets: greylisting.maxPendingTriplets,
            logger: options.logger,
          }),
        }
      : {};
    const lists = {} as Record<Stage, RestrictionList>;
    for (const stage of STAGES) {
      const configured = config.restrictions[stage] as RuleEntryConfig[] | undefined;
      const entries: RuleEntryConfig[] = [...(configured ?? DEFAULT_RESTRICTIONS[stage])];
      // Enabling greylisting adds it last in the recipient list unless the admin placed it.
      if (stage === 'recipient' && greylisting.enabled && !entries.some((e) => ruleName(e) === 'check_greylist')) {
        entries.push('check_greylist');
      }
      lists[stage] = buildList(stage, entries, services);
    }
    assertClosedRelay(lists.relay, lists.recipient);
    this.lists = lists;
    const limits = config.limits;
    // Trusted clients are neither limited nor slowed down: an application server of ours that sends
    // to a stale address must not be tarpitted like a dictionary attack.
    const exceptions = limits.exceptions ? networks(limits.exceptions, 'limits.exceptions') : mynetworks;
    this.#limitExceptions = exceptions;
    this.clientLog = new ClientLogBudget(options.logger, {
      clientOf: (ip) => (exceptions.contains(ip) ? undefined : clientKey(ip, limits.ipv6Prefix)),
    });
    this.#anvil = new Anvil({
      maxConcurrent: limits.maxConnectionsPerClient,
      connectionsPerMinute: limits.connectionsPerMinute,
      messagesPerMinute: limits.messagesPerMinute,
      recipientsPerMinute: limits.recipientsPerMinute,
      vrfyPerMinute: limits.vrfyPerMinute,
      exceptions,
      ipv6Prefix: limits.ipv6Prefix,
    });
    const tarpit = config.tarpit;
    this.#tarpit = tarpit.enabled
      ? new Tarpit({
          threshold: tarpit.threshold,
          windowMs: tarpit.windowMs,
          stepMs: tarpit.stepMs,
          maxMs: tarpit.maxMs,
          exceptions,
          ipv6Prefix: limits.ipv6Prefix,
        })
      : undefined;
    this.#counters = new PolicyCounters(options.store, options.logger);
  }

  /** Whether the client is in mynetworks: trusted like Postfix's permit_mynetworks (later stages skip checks). */
  fromMynetworks(address: string): boolean {
    return this.#server.mynetworks.contains(address);
  }

  /**
   * The per-client connection limits (count and rate), taken when the connection is accepted: before
   * any greet delay, as postscreen counts a client at accept, so that connections waiting for their
   * greeting cannot fill the listener's slots. A refused one holds no slot (no disconnected() needed).
   * Once per session: connect() takes them itself for a session not admitted here.
   */
  admit(peer: Peer): { action: 'continue' } | { action: 'disconnect'; reply: Reply; logged: true } {
    if (this.#counted.has(peer.sessionId)) return { action: 'continue' };
    const ip = peer.remoteAddress;
    const limit = this.#anvil.connect(ip, service(peer));
    if (!limit.allowed) {
      const closing = reply(421, '4.7.0', `${this.#server.hostname} Error: too many connections from ${ip}`);
      const rule =
        limit.limit === 'connection' ? 'smtpd_client_connection_rate_limit' : 'smtpd_client_connection_count_limit';
      this.#limitHit(peer, 'client', rule, closing, limit.reason);
      return { action: 'disconnect', reply: closing, logged: true };
    }
    this.#counted.add(peer.sessionId);
    return { action: 'continue' };
  }

  /** Client restrictions, before the greeting (and the connection limits, unless admit() took them). */
  connect(peer: Peer, pregreet: boolean, talked?: () => boolean): PolicyOutcome | Promise<PolicyOutcome> {
    const admitted = this.admit(peer);
    if (admitted.action === 'disconnect') return admitted;
    // RFC 6409: a submission client is a user's mail program, known by its login, not by its address.
    // A DNS blocklist lists home and mobile networks (Spamhaus PBL) precisely because users send from
    // there; Postfix's submission service replaces these lists with permit_sasl_authenticated, reject.
    if (peer.submission) return { action: 'continue' };
    const ctx = this.#context(peer, 'client', { pregreet });
    return this.#run(
      peer,
      this.lists.client,
      ctx,
      (result) => {
        if (!pregreet && result.action !== 'reject' && talked?.() && this.#pregreetDecides(result)) {
          return this.#latePregreet(peer);
        }
        if (result.action !== 'reject') return undefined;
        const sent = greetingReply(result.reply);
        return { action: sent.code === 421 ? 'disconnect' : 'reject', reply: sent, logged: true };
      },
      undefined,
      greetingReply,
    );
  }

  /**
   * reject_pregreet for a client that talked while the later client rules (a DNS list) still ran: the
   * greeting is not out yet, so that is a pregreet too (postscreen counts anything before its banner).
   * Every rule having said DUNNO, reject_pregreet's own answer is the list's.
   */
  /** Whether reject_pregreet came before whatever ended the client list (no decision, or a later permit). */
  #pregreetDecides(result: ListResult): boolean {
    const entries = this.lists.client.entries;
    const pregreetAt = entries.findIndex((e) => e.restriction.name === 'reject_pregreet');
    if (pregreetAt < 0) return false;
    if (result.action !== 'permit') return true;
    return entries.findIndex((e) => e.restriction.label === result.rule) > pregreetAt;
  }

  #latePregreet(peer: Peer): PolicyOutcome | undefined {
    const entry = this.lists.client.entries.find((e) => e.restriction.name === 'reject_pregreet');
    if (!entry) return undefined;
    const verdict = entry.restriction.evaluate(this.#context(peer, 'client', { pregreet: true }));
    if (verdict instanceof Promise || verdict.action !== 'reject') return undefined;
    const rule = entry.restriction.label;
    const reason = `${verdict.reason}, while the client restrictions ran`;
    if (entry.warnOnly) {
      this.#record(peer, { stage: 'client', rule, action: 'warn', reply: verdict.reply, reason });
      return undefined;
    }
    this.#record(peer, { stage: 'client', rule, action: 'reject', reply: verdict.reply, reason });
    return { action: 'reject', reply: asRefusedGreeting(verdict.reply), logged: true };
  }

  helo(peer: Peer, helo: string): PolicyOutcome | Promise<PolicyOutcome> {
    // A laptop's EHLO name is whatever its mail program says: msmtp's default is `localhost`, its
    // manual suggests the user's own domain (both refused by reject_helo_own_identity), and curl sends
    // the name of the file it uploads. The login that follows decides (RFC 6409 §4.3: submission needs
    // it for MAIL), as Postfix's submission service puts permit_sasl_authenticated first.
    if (peer.submission) return { action: 'continue' };
    return this.#run(peer, this.lists.helo, this.#context(peer, 'helo', { helo }));
  }

  sender(peer: Peer, envelope: Readonly<Envelope>): PolicyOutcome | Promise<PolicyOutcome> {
    // Counted before the login is looked at: Postfix's smtpd_client_message_rate_limit counts a SASL
    // client's MAIL FROMs too (only smtpd_client_event_limit_exceptions are spared), so a stolen
    // password cannot send without limit from one address.
    const limit = this.#anvil.message(peer.remoteAddress, service(peer));
    if (!limit.allowed) {
      const r = reply(450, '4.7.1', `Error: too much mail from ${peer.remoteAddress}, try again later`);
      this.#limitHit(peer, 'sender', 'smtpd_client_message_rate_limit', r, limit.reason);
      return { action: 'reject', reply: r, logged: true };
    }
    if (peer.authenticated) return this.#ownSender(peer, envelope);
    return this.#run(peer, this.lists.sender, this.#context(peer, 'sender', { envelope }));
  }

  /**
   * Whether the logged-in account was removed (or replaced by a new one of the same name) or disabled
   * since the login; undefined while it is active, or for a session that is not logged in.
   */
  async accountGone(peer: Peer): Promise<'removed' | 'disabled' | undefined> {
    if (!peer.authenticated) return undefined;
    const account = await this.#store.findAccount(peer.authenticated.toLowerCase());
    const replaced = account !== undefined && peer.authAccountId !== undefined && account.id !== peer.authAccountId;
    if (!account || replaced) return 'removed';
    return account.disabled ? 'disabled' : undefined;
  }

  /**
   * Postfix reject_sender_login_mismatch: a logged-in user sends as one of its own addresses (the
   * account's or an alias of it). The null sender is allowed, for the bounces a client may send.
   */
  async #ownSender(peer: Peer, envelope: Readonly<Envelope>): Promise<PolicyOutcome> {
    // A login lasts the session, but an account disabled or removed since must not keep sending in it.
    const gone = await this.accountGone(peer);
    if (gone) {
      const r = reply(530, '5.7.0', `Authentication required: the account ${peer.authenticated} is no longer active`);
      this.#record(peer, {
        stage: 'sender',
        rule: 'reject_sender_login_mismatch',
        action: 'reject',
        reply: r,
        reason: `${peer.authenticated} was ${gone} after logging in`,
      });
      // #record wrote the line: the listener's own line for the reply would log the refusal twice.
      return { action: 'reject', reply: r, logged: true };
    }
    const sender = envelope.mailFrom;
    if (!sender || (await this.ownedBy(sender.address, peer.authenticated!))) {
      return this.#run(peer, this.lists.sender, this.#context(peer, 'sender', { envelope }));
    }
    const r = reply(
      553,
      '5.7.1',
      `<${echoAddress(sender.address)}>: Sender address rejected: not owned by user ${peer.authenticated}`,
    );
    this.#record(peer, {
      stage: 'sender',
      rule: 'reject_sender_login_mismatch',
      action: 'reject',
      reply: r,
      reason: `${peer.authenticated} may not send as ${sender.address}`,
    });
    return { action: 'reject', reply: r, logged: true };
  }

  /** Whether the per-client limits never apply to this client (`limits.exceptions`, by default mynetworks). */
  limitExempt(ip: string): boolean {
    return this.#limitExceptions.contains(ip);
  }

  /** Whether `domain` is one of our domains, our host name, or a name below one of them (a host of ours). */
  isOurs(domain: string): boolean {
    const name = domain.toLowerCase().replace(/\.$/, '');
    const ours = [...this.#server.localDomains, this.#server.hostname.toLowerCase()];
    return ours.some((own) => name === own || name.endsWith(`.${own}`));
  }

  /** Whether `address` is the account `user` or one of its aliases. */
  async ownedBy(address: string, user: string): Promise<boolean> {
    const at = address.lastIndexOf('@');
    if (at < 0) return false;
    const target = localAddress(
      { localPart: address.slice(0, at), domain: address.slice(at + 1).toLowerCase(), address, utf8: false },
      this.#server,
    );
    if (!target.local) return false;
    const owner = await this.#store.resolveAddress(target.address);
    return owner !== undefined && owner.address === user.toLowerCase();
  }

  /** Relay restrictions, then recipient restrictions (Postfix's order), then where the mail goes. */
  recipient(peer: Peer, envelope: Readonly<Envelope>, recipient: Path): PolicyOutcome | Promise<PolicyOutcome> {
    const limit = this.#anvil.recipient(peer.remoteAddress, service(peer));
    if (!limit.allowed) {
      const r = reply(450, '4.7.1', `Error: too many recipients from ${peer.remoteAddress}, try again later`);
      this.#limitHit(peer, 'recipient', 'smtpd_client_recipient_rate_limit', r, limit.reason);
      return { action: 'reject', reply: r, logged: true };
    }
    const ctx = this.#context(peer, 'relay', { envelope, recipient });
    // A permit in either list lets the mail go out: the relay list is Postfix's smtpd_relay_restrictions,
    // and a Postfix 2.9-style config (relay: [], permit_mynetworks in the recipient list) relays as there.
    let relayPermitted = false;
    return this.#run(
      peer,
      this.lists.relay,
      ctx,
      (relay) => {
        relayPermitted = relay.action === 'permit';
        return undefined;
      },
      () =>
        this.#run(
          peer,
          this.lists.recipient,
          { ...ctx, stage: 'recipient' },
          (listed) => {
            if (listed.action === 'permit') relayPermitted = true;
            return undefined;
          },
          () =>
            this.#route(
              peer,
              { ...ctx, stage: 'recipient' },
              relayPermitted,
              peer.authenticated !== undefined || this.#server.mynetworks.contains(peer.remoteAddress),
            ),
        ),
    );
  }

  data(peer: Peer, envelope: Readonly<Envelope>, unauthPipelining: boolean): PolicyOutcome | Promise<PolicyOutcome> {
    return this.#run(peer, this.lists.data, this.#context(peer, 'data', { envelope, unauthPipelining }));
  }

  /** RFC 5321 §3.5.3 when VRFY is on: 250 with the mailbox, 550 for an unknown local user, 252 otherwise. */
  vrfy(peer: Peer, argument: string): Reply | Promise<Reply> {
    if (this.#vrfy !== 'on') return replies.vrfyAmbiguous();
    const limit = this.#anvil.vrfy(peer.remoteAddress, service(peer));
    if (!limit.allowed) {
      const r = reply(450, '4.7.1', 'Error: too many VRFY requests, slow down');
      this.#limitHit(peer, 'recipient', 'vrfy_rate_limit', r, limit.reason);
      return r;
    }
    const path = vrfyPath(argument);
    if (!path) return replies.syntax('Syntax: VRFY <local-part@domain>');
    // A bare local part (VRFY alice) names a mailbox of the postmaster's domain.
    const target = localAddress(
      path.domain === '' ? { ...path, domain: postmasterDomainOf(this.#server) } : path,
      this.#server,
    );
    if (!target.local) return replies.vrfyAmbiguous();
    const answer = (found: Found): Reply =>
      found ? replies.vrfyFound(target.address) : reply(550, '5.1.1', `<${target.address}>: User unknown`);
    const found = this.#accounts.findAccount(target.address);
    return found instanceof Promise ? found.then(answer) : answer(found);
  }

  /**
   * The client's forward-confirmed hostname for the Received header's TCP-info (RFC 5321 §4.4), as
   * Postfix writes it; undefined when DNS confirms none or a lookup failed. Looked up once a session
   * and shared with the client-name rules, so a session the rules already looked up costs nothing.
   */
  clientHostname(peer: Peer): Promise<string | undefined> {
    // A session already gone (its message still being checked) has had its memory dropped: asking now
    // would make it again, for good, since disconnected() will not run twice.
    if (peer.gone) return Promise.resolve(undefined);
    const memo = this.#memoOf(peer);
    return verifiedClientHostname({ clientAddress: peer.remoteAddress, resolver: this.#resolver, memo }).then(
      (found) => found.name,
      () => undefined,
    );
  }

  /**
   * The client closed its sending side (a TCP half-close): nothing more can come, and the runner
   * closes once it has answered what was sent. A tarpit delay under way ends now, its refusal sent
   * and the connection closed, so the client's slot (maxConnectionsPerClient, smtp.maxConnections)
   * is not held for the rest of the delay; so does any delay of the rest of what it pipelined, which
   * is not answered then (the tarpit is not skipped by a hang-up).
   */
  clientEnded(peer: Peer): void {
    let hangup = this.#hangups.get(peer.sessionId);
    if (!hangup) {
      if (peer.gone) return; // disconnected() has run, or is about to
      hangup = new AbortController();
      this.#hangups.set(peer.sessionId, hangup);
    }
    hangup.abort();
  }

  disconnected(peer: Peer): void {
    this.#hangups.get(peer.sessionId)?.abort();
    this.#hangups.delete(peer.sessionId);
    this.#memos.delete(peer.sessionId);
    if (this.#counted.delete(peer.sessionId)) this.#anvil.disconnect(peer.remoteAddress, service(peer));
  }

  /** Writes the counts not yet stored; call before the store closes. */
  close(): Promise<void> {
    this.clientLog.close();
    return this.#counters.close();
  }

  /** A local account's route; mail for elsewhere needs the relay permit and goes to the outbound queue. */
  #route(
    peer: Peer,
    ctx: PolicyContext,
    relayPermitted: boolean,
    trusted: boolean,
  ): PolicyOutcome | Promise<PolicyOutcome> {
    const recipient = ctx.recipient!;
    const target = localAddress(recipient, this.#server);
    if (!target.local) {
      // Postfix's allow_untrusted_routing = no: sender-specified routing (user%site@relay, user!site,
      // user@site@relay) from a stranger to a domain we relay for would let the next hop relay on.
      if (relayPermitted && !trusted && /[@%!]/.test(recipient.localPart)) {
        return { action: 'reject', reply: replies.relayDenied(recipient.address) };
      }
      if (relayPermitted) return { action: 'continue', route: { kind: 'outbound' } };
      return { action: 'reject', reply: replies.relayDenied(recipient.address) };
    }
    // Whatever the restriction lists hold (a permit first, none at all), a local address known to have no
    // account gets its 550 now (RFC 5321 §3.3), from reject_unlisted_recipient itself: one reply text, and
    // a dictionary attack is logged, counted and tarpitted whatever the lists say. The rule answers 451
    // while the store holds no account at all: a missing table, not a missing user. The look-up above
    // has answered, so the rule is told rather than asking again.
    const unknown = { ...ctx, accountExists: () => false };
    // Not reached: the rule refuses every local address said not to exist. Should it ever let one pass,
    // the recipient has no route; a temporary refusal keeps the mail at the sender.
    const unrouted = (): PolicyOutcome => ({ action: 'reject', reply: replies.localError() });
    const decide = (found: Found): PolicyOutcome | Promise<PolicyOutcome> => {
      if (found) return { action: 'continue', route: { kind: 'local', accountId: found.id } };
      return this.#run(peer, this.#unlisted, unknown, undefined, unrouted);
    };
    const found = this.#accounts.findAccount(target.address);
    return found instanceof Promise ? found.then(decide) : decide(found);
  }

  /**
   * Runs a list; a permit or no decision goes on to `next` (or continues), a reject answers —
   * after the tarpit's delay for a client that keeps being rejected.
   */
  #run(
    peer: Peer,
    list: RestrictionList,
    ctx: PolicyContext,
    adapt: (result: ListResult) => PolicyOutcome | undefined = () => undefined,
    next: () => PolicyOutcome | Promise<PolicyOutcome> = () => CONTINUE,
    asSent: (reply: Reply) => Reply = (reply) => reply,
  ): PolicyOutcome | Promise<PolicyOutcome> {
    const finish = (result: ListResult): PolicyOutcome | Promise<PolicyOutcome> => {
      const adapted = adapt(result);
      if (adapted) return this.#delayed(peer, adapted);
      // #record logged the rejecting decision as the list reported it.
      if (result.action === 'reject')
        return this.#delayed(peer, { action: 'reject', reply: result.reply, logged: true });
      return next();
    };
    // Logged with the reply the client gets (a refusal at connection is sent as 554 or 421).
    const report = (decision: Decision) =>
      this.#record(peer, decision.reply ? { ...decision, reply: asSent(decision.reply) } : decision);
    const result = list.evaluate(ctx, report);
    return result instanceof Promise ? result.then(finish) : finish(result);
  }

  #delayed(peer: Peer, outcome: PolicyOutcome): PolicyOutcome | Promise<PolicyOutcome> {
    if (outcome.action === 'continue' || !this.#tarpit) return outcome;
    const ms = this.#tarpit.delayFor(peer.remoteAddress);
    this.#tarpit.rejected(peer.remoteAddress);
    // A client gone needs no delay: no one hears the reply, and disconnected() has run, or is about to.
    if (ms <= 0 || peer.gone) return outcome;
    // A client done sending (clientEnded()) is answered now and the connection closed: its session is
    // over either way, and the rest of its pipeline is not answered, or it would be without the delay.
    const last: PolicyOutcome = { ...outcome, action: 'disconnect' };
    let hangup = this.#hangups.get(peer.sessionId);
    if (!hangup) {
      hangup = new AbortController();
      this.#hangups.set(peer.sessionId, hangup);
    }
    const { signal } = hangup;
    if (signal.aborted) return last;
    return new Promise((resolve) => {
      const cut = () => {
        clearTimeout(timer);
        resolve(last);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', cut);
        resolve(outcome);
      }, ms);
      timer.unref();
      signal.addEventListener('abort', cut, { once: true });
    });
  }

  #record(peer: Peer, decision: Decision): void {
    if (decision.action === 'permit') return;
    // Every decision is counted; its line only within the client's budget (the rest are summed up).
    this.#counters.add(`restriction:${decision.stage}:${decision.rule}:${decision.action}`);
    const level =
      decision.action === 'warn' || decision.action === 'undecided' || decision.level === 'warn' ? 'warn' : 'info';
    if (!this.clientLog.allows(peer.remoteAddress, level)) return;
    const fields = {
      session: peer.sessionId,
      client: peer.remoteAddress,
      stage: decision.stage,
      rule: decision.rule,
      code: decision.reply?.code,
      enhanced: decision.reply?.enhanced,
      reply: decision.reply ? `${decision.reply.enhanced ?? ''} ${decision.reply.lines.join(' ')}`.trim() : undefined,
      reason: decision.reason,
    };
    if (decision.action === 'warn') this.#logger.warn(fields, 'restriction would reject (warn_if_reject)');
    else if (decision.action === 'undecided') this.#logger.warn(fields, 'restriction could not decide; skipped');
    else if (decision.action === 'noted') this.#logger[level](fields, `access map ${level.toUpperCase()}: no decision`);
    else this.#logger.info(fields, `restriction ${decision.action === 'defer' ? 'deferred' : 'rejected'}`);
  }

  #limitHit(peer: Peer, stage: Stage, rule: string, r: Reply, reason = ''): void {
    this.#record(peer, { stage, rule, action: r.code < 500 ? 'defer' : 'reject', reply: r, reason });
  }

  /**
   * Resolves once the policy knows whether the store holds any account, so that the first refusal of an
   * unknown recipient is answered without a store round trip (a pipelined RCPT group waits on none).
   */
  async ready(): Promise<void> {
    try {
      await this.#noAccounts();
    } catch {
      // the store is asked again at the first unknown recipient, and its failure is answered there
    }
  }

  #noAccounts(): boolean | Promise<boolean> {
    // The monotonic clock: a wall clock stepped back must not stretch the 10 s to hours.
    if (performance.now() < this.#accountsUntil) return false;
    return this.#store.hasAccounts().then((any) => {
      if (any) this.#accountsUntil = performance.now() + 10_000;
      return !any;
    });
  }

  #memoOf(peer: Peer): Map<string, unknown> {
    let memo = this.#memos.get(peer.sessionId);
    if (!memo) {
      memo = new Map();
      this.#memos.set(peer.sessionId, memo);
    }
    return memo;
  }

  #context(
    peer: Peer,
    stage: Stage,
    facts: {
      pregreet?: boolean;
      helo?: string;
      envelope?: Readonly<Envelope>;
      recipient?: Path;
      unauthPipelining?: boolean;
    },
  ): PolicyContext {
    const memo = this.#memoOf(peer);
    const { envelope } = facts;
    return {
      stage,
      clientAddress: peer.remoteAddress,
      serverAddress: peer.localAddress,
      pregreet: facts.pregreet ?? false,
      helo: facts.helo ?? envelope?.helo,
      sender: envelope ? envelope.mailFrom : undefined,
      recipient: facts.recipient,
      recipients: envelope?.recipients.map((r) => r.path) ?? [],
      authenticated: peer.authenticated,
      unauthPipelining: facts.unauthPipelining ?? false,
      server: this.#server,
      resolver: this.#resolver,
      memo,
      accountExists: (address) => {
        const found = this.#accounts.findAccount(address);
        return found instanceof Promise ? found.then(Boolean) : Boolean(found);
      },
      noAccounts: () => this.#noAccounts(),
    };
  }
}

function ruleName(entry: RuleEntryConfig): string {
  const text = typeof entry === 'string' ? entry : entry.rule;
  return (
    text
      .trim()
      .split(/\s+/)
      .filter((w) => w !== 'warn_if_reject')[0] ?? ''
  );
}

function networks(entries: readonly string[], key: string) {
  try {
    return parseNetworks(entries);
  } catch (error) {
    throw new ConfigError(`${key}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The service a client's limits are counted per, as Postfix's anvil keys them by service and address:
 * port 25 and each submission port (587, 465) apart, so sessions on one do not use up the other's.
 */
function service(peer: Peer): string {
  return `${peer.submission ? 'submission' : 'smtp'}:${peer.localPort}`;
}

/** A refusal at connection as the client gets it: 421 for a temporary one, 554 for a lasting one. */
function greetingReply(r: Reply): Reply {
  return r.code < 500 ? asClosing(r) : asRefusedGreeting(r);
}

/** A temporary refusal at connection closes it: RFC 5321 §3.1 offers 554 or 421 there, not 450. */
function asClosing(r: Reply): Reply {
  return { ...r, code: 421 };
}

/**
 * A lasting refusal at connection is the greeting: RFC 5321 §3.1 and §4.3.2 allow 220, 554 or 421 there,
 * so a 550 from `reject_unknown_reverse_client_hostname` or an access map is sent as 554, its enhanced
 * code and text kept.
 */
function asRefusedGreeting(r: Reply): Reply {
  return r.code === 554 ? r : { ...r, code: 554 };
}

/**
 * VRFY's argument (RFC 5321 §3.5.3): a mailbox, bare or in angle brackets, or a local part alone. The
 * mailbox is read as RCPT reads one (RFC 5321 §4.1.2), so a quoted local part may hold spaces and "<"
 * ("John Doe"@example.com): what RCPT takes, VRFY can ask about. 501 only for what no parse takes
 * (RFC 5321 §4.1.1.6: a syntax error in the argument).
 */
function vrfyPath(argument: string): Path | undefined {
  const text = argument.trim().replace(/^<(.*)>$/, '$1');
  const mailbox = parseMailbox(text);
  if (typeof mailbox !== 'string') return mailbox;
  // A local part alone (VRFY alice): a malformed mailbox is not one.
  if (text === '' || /[\s<>@]/.test(text)) return undefined;
  return { localPart: text, domain: '', address: text, utf8: /[^\x00-\x7f]/.test(text) };
}
