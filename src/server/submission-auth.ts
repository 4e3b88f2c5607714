/**
 * SMTP AUTH on the submission listeners (RFC 4954): one SASL exchange per session, against the
 * accounts in the store, with brute-force protection shared by all nodes (the counters are in the
 * store). Failures are delayed, counted per client address and per account; a client address over
 * the threshold is blocked for a while. An account is never blocked as a whole, so an attacker
 * cannot lock its owner out from elsewhere (no account-wide denial of service).
 */

import { randomBytes } from 'node:crypto';
import { verifyPassword } from '../accounts/password.ts';
import { type Credentials, createExchange, type SaslExchange, type SaslStep } from '../accounts/sasl/index.ts';
import { fakeCredentials, KEY_BYTES, parseScramCredentials } from '../accounts/sasl/scram.ts';
import type { Config } from '../config/schema.ts';
import { asciiName } from '../dns/a-labels.ts';
import type { ClientLogBudget } from '../log/client-budget.ts';
import type { Logger } from '../log/logger.ts';
import { clientKey, type Networks, parseNetworks } from '../policy/cidr.ts';
import type { AuthOutcome, Effect } from '../smtp/effects.ts';
import type { Peer } from '../smtp/envelope.ts';
import { type Reply, replies, reply } from '../smtp/replies.ts';
import { accountLoginKey } from '../store/login-failures.ts';
import type { Store } from '../store/store.ts';

type AuthRequest = Extract<Effect, { type: 'auth' }>;

/** What one SASL step came to, inside the one-at-a-time section of its client address. */
type StepOutcome =
  | { kind: 'blocked'; until: Date }
  | { kind: 'unknown-mechanism' }
  | { kind: 'failed'; answer: Reply; delayMs: number }
  | { kind: 'blocked-success'; answer: Reply; delayMs: number }
  | { kind: 'step'; step: Exclude<SaslStep, { type: 'failure' }> };

/** A hash that matches nothing, verified for unknown users so they take as long as known ones. */
/** The store's secret that SCRAM's made-up salts for unknown users come from (Credentials.fakeSaltKey). */
const FAKE_SALT_SECRET = 'scram-fake-salt';
const DUMMY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXlkdW1teWR1bW15$ZHVtbXlkdW1teWR1bW15ZHVtbXlkdW1teWR1bW15ZGQ';

export class SubmissionAuth {
  readonly #store: Store;
  readonly #options: Config['auth'];
  readonly #logger: Logger;
  /**
   * The log lines a client's refusals may add a minute, shared with the listeners and the policy
   * (src/log/client-budget.ts); absent, every failed login is a line.
   */
  readonly #clientLog: ClientLogBudget | undefined;
  readonly #exchanges = new Map<string, SaslExchange>();
  /**
   * Logins proved but not done: SCRAM's server-final message (RFC 5802 §5) went out in a 334, and only
   * the client's empty answer to it ends the exchange with 235 (RFC 4954 §4). Until then the session is
   * not logged in, nor logged as such: a client that answers anything else gets 535.
   */
  readonly #unconfirmed = new Map<string, { username: string; accountId?: number; mechanism: string }>();
  /** Per client address, the last step under way (#oneAtATime). */
  readonly #steps = new Map<string, Promise<void>>();
  readonly #credentials: Credentials;

  /** The IPv6 network one client is blocked by (config limits.ipv6Prefix). */
  readonly #ipv6Prefix: number;
  /** auth.exceptions: clients never blocked (a NAT many users share). */
  readonly #exceptions: Networks;
  #fakeSaltKey: Promise<Buffer> | undefined;
  constructor(store: Store, options: Config['auth'], logger: Logger, ipv6Prefix = 64, clientLog?: ClientLogBudget) {
    this.#store = store;
    this.#clientLog = clientLog;
    this.#ipv6Prefix = ipv6Prefix;
    this.#exceptions = parseNetworks(options.exceptions ?? []);
    this.#options = options;
    this.#logger = logger;
    this.#credentials = {
      verifyPassword: async (username, password) => {
        const account = await store.findAccount(accountName(username));
        if (!account || account.disabled) {
          await verifyPassword(password, DUMMY_HASH).catch(() => false);
          return false;
        }
        return verifyPassword(password, account.passwordHash);
      },
      scramCredentials: async (username) => {
        const account = await store.findAccount(accountName(username));
        if (!account?.scram) {
          // Made up from the name as accounts are looked up (lower case, A-labels), not as typed: a real
          // account shows one salt under Bob@…, bob@… and bob@bücher.example alike, and a made-up one
          // that changed with the spelling would tell which accounts exist (RFC 5802 §7).
          return fakeCredentials(
            accountName(username),
            await this.#credentials.fakeSaltKey!(),
            this.#options.scramIterations,
          );
        }
        const credentials = parseScramCredentials(account.scram);
        // A disabled account keeps showing its own salt (a made-up one would tell that it changed),
        // with keys no proof matches: the login fails as a wrong password does.
        if (account.disabled) {
          return { ...credentials, storedKey: randomBytes(KEY_BYTES), serverKey: randomBytes(KEY_BYTES) };
        }
        return credentials;
      },
      // Read once, then kept: the value never changes (Store.secret).
      fakeSaltKey: () => {
        this.#fakeSaltKey ??= store.secret(FAKE_SALT_SECRET).catch((error: unknown) => {
          this.#fakeSaltKey = undefined; // a store that failed now may answer next time
          throw error;
        });
        return this.#fakeSaltKey;
      },
    };
  }

  /**
   * One step of an AUTH exchange. A failure of ours (the store not answering while a password is
   * checked or a failure counted) ends the exchange with RFC 4954 §6's 454 4.7.0, the temporary
   * authentication failure a client retries, rather than the generic 451 of a command that failed.
   */
  async step(request: AuthRequest, peer: Peer): Promise<AuthOutcome> {
    try {
      return await this.#step(request, peer);
    } catch (error) {
      this.#exchanges.delete(peer.sessionId);
      const answer = reply(454, '4.7.0', 'Temporary authentication failure');
      this.#logger.error(
        { session: peer.sessionId, client: peer.remoteAddress, err: error, ...codes(answer) },
        'login could not be checked: answered 454 4.7.0',
      );
      return { action: 'reject', reply: answer, logged: true };
    }
  }

  async #step(request: AuthRequest, peer: Peer): Promise<AuthOutcome> {
    const proved = this.#unconfirmed.get(peer.sessionId);
    // A new AUTH after a cancelled one ("*" to the server-final message) starts afresh.
    if (request.first) this.#unconfirmed.delete(peer.sessionId);
    else if (proved) {
      this.#unconfirmed.delete(peer.sessionId);
      const log = {
        session: peer.sessionId,
        client: peer.remoteAddress,
        user: proved.username,
        mechanism: proved.mechanism,
      };
      if (request.response && request.response.length > 0) {
        // Not a guess (the proof was right): a client out of step, refused without counting a failure.
        const answer = replies.authFailed();
        this.#logger.info(
          { ...log, reason: 'no empty answer to the server-final message', ...codes(answer) },
          'login failed',
        );
        return { action: 'reject', reply: answer, logged: true };
      }
      this.#logger.info(log, 'login');
      const { username, accountId } = proved;
      return { action: 'success', username, ...(accountId ? { accountId } : {}) };
    }
    // An excepted client is never blocked: no key to count its failures under, or to look a block up by.
    const ipKey = this.#exceptions.contains(peer.remoteAddress)
      ? undefined
      : `ip:${clientKey(peer.remoteAddress, this.#ipv6Prefix)}`;
    let exchange: SaslExchange | undefined;
    if (request.first) {
      exchange = createExchange(request.mechanism, this.#credentials, {
        plusOffered: channelBinding(peer) !== undefined,
        channelBinding: channelBinding(peer),
      });
      // Held before anything is awaited, so that forget() at the session's end finds it: set after
      // an await, an exchange whose client had meanwhile gone stayed in the map for good.
      if (exchange) this.#exchanges.set(peer.sessionId, exchange);
    } else {
      exchange = this.#exchanges.get(peer.sessionId);
      if (!exchange || !request.response) return { action: 'reject', reply: replies.authAborted() };
    }
    const current = exchange;
    // One step at a time per client address, the block asked first: a step may check a password, and
    // the failure that blocks the client must be seen by every check after it. Run in parallel (forty
    // sessions from one address each sending a guess at once), every guess was checked before the
    // first failure was counted; and an exchange begun before the block (a 334 left waiting) was
    // checked once the client was blocked.
    const outcome = await this.#oneAtATime(ipKey, async (): Promise<StepOutcome> => {
      const blocked = await this.#blockedUntil(ipKey);
      if (blocked) return { kind: 'blocked', until: blocked };
      if (!current) return { kind: 'unknown-mechanism' };
      const step = request.first ? await current.start(request.response) : await current.next(request.response!);
      // A binding failure counts as well: no password was tried, but it costs nothing to send (no
      // password needed), and uncounted a client could repeat it, and be logged, without end.
      if (step.type === 'failure') {
        // Counted even when the client has gone meanwhile: a guess sent before a hang-up is a guess.
        return {
          kind: 'failed',
          ...(await this.#recordFailure(peer, ipKey, step.username, step.message, step.reason, (until) =>
            failureReply(step, until),
          )),
        };
      }
      if (step.type === 'success') {
        // Asked again at the end for failures counted by another node (PostgreSQL) during the check.
        // A blocked client's right password is refused as its wrong ones are, delay included, so that
        // the reply's timing does not tell which guess was right.
        const late = await this.#blockedUntil(ipKey);
        if (late) {
          const recorded = await this.#recordFailure(
            peer,
            ipKey,
            step.username,
            'the client is blocked for failed logins',
            'blocked',
            () => blockedReply(late),
          );
          return { kind: 'blocked-success', ...recorded };
        }
      }
      return { kind: 'step', step };
    });
    if (outcome.kind === 'unknown-mechanism')
      return { action: 'reject', reply: replies.authUnknownMechanism(request.mechanism) };
    if (outcome.kind === 'blocked') {
      this.#exchanges.delete(peer.sessionId);
      return { action: 'reject', reply: blockedReply(outcome.until) };
    }
    const gone = this.#exchanges.get(peer.sessionId) !== current;
    if (outcome.kind === 'failed' || outcome.kind === 'blocked-success') {
      this.#exchanges.delete(peer.sessionId);
      // Outside the one-at-a-time section: another session of this address need not wait for it.
      if (outcome.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, outcome.delayMs));
      // #recordFailure logged it, with this reply's codes.
      return { action: 'reject', reply: outcome.answer, logged: true };
    }
    // The session ended while we waited: nothing to answer, and nothing to keep.
    if (gone) return { action: 'reject', reply: replies.authAborted() };
    const step = outcome.step;
    if (step.type === 'challenge') return { action: 'challenge', data: step.data };
    this.#exchanges.delete(peer.sessionId);
    if (step.type === 'success') {
      // A success does not clear the client's failures: with one account of their own, a guesser could
      // otherwise reset the count between guesses at other accounts. They age out of the window instead.
      // The session's user in A-labels, as the account is: the sender checks (ownedBy) compare with it.
      const username = asciiUsername(step.username);
      const accountId = (await this.#store.findAccount(accountName(step.username)))?.id;
      const mechanism = current!.mechanism;
      if (step.data && step.data.length > 0) {
        this.#unconfirmed.set(peer.sessionId, { username, mechanism, ...(accountId ? { accountId } : {}) });
        return { action: 'challenge', data: step.data };
      }
      this.#logger.info({ session: peer.sessionId, client: peer.remoteAddress, user: username, mechanism }, 'login');
      return { action: 'success', username, ...(accountId ? { accountId } : {}) };
    }
    // Every failure was counted and answered above ('failed').
    return step satisfies never;
  }

  /**
   * Runs `work` after every earlier one of the same client address has finished (in this process);
   * an excepted client (no key) runs at once. The queue holds one promise per address with work under
   * way, so it is bounded by the sessions open.
   */
  async #oneAtATime<T>(key: string | undefined, work: () => Promise<T>): Promise<T> {
    if (key === undefined) return work();
    const before = this.#steps.get(key);
    // With nothing before it, at once (in this turn, as a step without the queue would run).
    const run = before ? before.then(work) : work();
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#steps.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.#steps.get(key) === settled) this.#steps.delete(key);
    }
  }

  /**
   * The client's block, at most blockMinutes from now: one written while the clock ran fast (a VM
   * resumed, NTP at boot stepping it back) would otherwise hold for the step as well. Such a record is
   * written again from now, so every later check sees the same end.
   */
  async #blockedUntil(ipKey: string | undefined): Promise<Date | null> {
    if (ipKey === undefined) return null;
    const now = Date.now();
    const blocked = await this.#store.loginBlockedUntil(ipKey, new Date(now));
    const blockMs = this.#options.blockMinutes * 60_000;
    if (!blocked || blocked.getTime() <= now + blockMs) return blocked;
    await this.#store.clearLoginFailures(ipKey);
    const record = await this.#store.recordLoginFailure(ipKey, {
      now: new Date(now),
      windowMs: this.#options.failureWindowMinutes * 60_000,
      threshold: 1,
      blockMs,
    });
    return record.blockedUntil;
  }

  /** The session ended: forget its half-done exchange. */
  forget(peer: Peer): void {
    this.#exchanges.delete(peer.sessionId);
    this.#unconfirmed.delete(peer.sessionId);
  }

  /** Exchanges under way (a 334 sent, the answer awaited): at most one per open session. */
  get pendingExchanges(): number {
    return this.#exchanges.size;
  }

  /**
   * Counts a failed login for the client address (which may block it) and for the account (which
   * only slows guessing spread over many addresses), logs it with the reply `answer` makes of the
   * client's block (null: not blocked), and says that reply and how long to wait before it.
   */
  async #recordFailure(
    peer: Peer,
    ipKey: string | undefined,
    username: string | undefined,
    message: string,
    reason: string,
    answer: (blockedUntil: Date | null) => Reply,
  ): Promise<{ answer: Reply; delayMs: number }> {
    const now = new Date();
    const windowMs = this.#options.failureWindowMinutes * 60_000;
    const blockMs = this.#options.blockMinutes * 60_000;
    const ip = ipKey
      ? await this.#store.recordLoginFailure(ipKey, {
          now,
          windowMs,
          threshold: this.#options.maxFailuresPerClient,
          blockMs,
        })
      : { count: 0, blockedUntil: null };
    // Per account only to slow guessing spread over many addresses: it delays, it never blocks.
    // One key for bob@bücher.example and bob@xn--bcher-kva.example: one account, one count.
    const user = username === undefined ? undefined : accountName(username);
    const account = user
      ? await this.#store.recordLoginFailure(accountLoginKey(user), {
          now,
          windowMs,
          threshold: Number.MAX_SAFE_INTEGER,
          blockMs: 0,
        })
      : { count: 0 };
    // The line that names the client, the user and why; the reply is not logged again (`logged`). The
    // failure that starts a block says so and until when: the client's later AUTH commands are refused.
    const blocked = ip.blockedUntil ? { blockedUntil: ip.blockedUntil.toISOString() } : {};
    const delayMs = Math.min(this.#options.failureDelayMs * (1 + Math.floor(account.count / 5)), 10_000);
    // Within the client's budget, as its other refusals' lines: a client that is never blocked
    // (auth.exceptions) may fail without end, in parallel sessions. Counted above, logged or not. The
    // line that starts a block is always written: it comes once per block and says until when.
    const sent = answer(ip.blockedUntil);
    const logged = ip.blockedUntil !== null || (this.#clientLog?.allows(peer.remoteAddress, 'warn') ?? true);
    if (!logged) return { answer: sent, delayMs };
    this.#logger.warn(
      {
        session: peer.sessionId,
        client: peer.remoteAddress,
        user: user === undefined ? undefined : loggableName(user),
        reason,
        failures: ip.count,
        ...blocked,
        ...codes(sent),
      },
      ip.blockedUntil
        ? `login failed: ${message}; the client is blocked until ${blocked.blockedUntil}`
        : `login failed: ${message}`,
    );
    return { answer: sent, delayMs };
  }
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A username that is an address with a U-label domain (bob@bücher.example), the domain in A-labels
 * (bob@xn--bcher-kva.example), as accounts are stored and RCPT, `postern mail list` and the config read
 * it: RFC 5890 §2.3.2.1 makes the two forms one name (RFC 5891 §4.2: NFC first, then the labels
 * converted). Given after SASLprep (RFC 4013), which the exchange applies. Anything else, a name
 * without "@" or a domain that converts to nothing, is kept as given.
 */
function asciiUsername(username: string): string {
  const at = username.lastIndexOf('@');
  if (at < 0) return username;
  const domain = username.slice(at + 1);
  if (!NON_ASCII.test(domain)) return username;
  const ascii = asciiName(domain.normalize('NFC'));
  return ascii === undefined ? username : `${username.slice(0, at)}@${ascii}`;
}

/**
 * A failed login's name as the log may show it. Every login is an account's address; a name that is
 * not shaped like one (`local@domain.tld`) names no account and is most often a password typed into
 * the user field (or sent in its place): the log says how long it was, not what it was.
 */
function loggableName(name: string): string {
  return /^[^@\s]+@[a-z0-9_-]+(\.[a-z0-9_-]+)+\.?$/i.test(name)
    ? name
    : `(not an address, ${[...name].length} characters: not logged, it may be a password)`;
}

/** The account a username names, for the look-up and the per-account failure count. */
function accountName(username: string): string {
  return asciiUsername(username).toLowerCase();
}

/**
 * RFC 9266 §2: tls-exporter, 32 octets with the label "EXPORTER-Channel-Binding" and an empty
 * context. Only on TLS 1.3: on TLS 1.2 it is safe only with extended master secret (RFC 9266 §3),
 * which Node does not let us see, so there is no binding and SCRAM-SHA-256-PLUS is not offered.
 */
export function channelBinding(peer: Pick<Peer, 'tlsSocket'>): { type: 'tls-exporter'; data: Buffer } | undefined {
  const socket = peer.tlsSocket;
  if (socket?.getProtocol() !== 'TLSv1.3') return undefined;
  try {
    return {
      type: 'tls-exporter',
      data: socket!.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)),
    };
  } catch {
    return undefined;
  }
}

/** The reply to a failed step: the 454 of the block it started, if it did, else the failure's own. */
function failureReply(step: Extract<SaslStep, { type: 'failure' }>, blockedUntil: Date | null): Reply {
  if (blockedUntil) return blockedReply(blockedUntil);
  // RFC 4954 §4, §6: a response the server cannot decode is refused with 501 5.5.2.
  if (step.reason === 'malformed') return reply(501, '5.5.2', step.message);
  // The client is told what failed, not that its password is wrong: the binding is checked before
  // the proof (a client that cannot do SCRAM-SHA-256-PLUS, or a man in the middle, RFC 5802 §6).
  if (step.reason === 'binding') return reply(535, '5.7.8', `Authentication failed: ${step.message}`);
  // RFC 4954 §6: 535 5.7.8, the credentials are invalid.
  return replies.authFailed();
}

/** A refusal line's fields for the reply sent, as the listener's own lines carry them (effect-runner.ts). */
function codes(answer: Reply): { code: number; enhanced: string | undefined } {
  return { code: answer.code, enhanced: answer.enhanced };
}

/** Like HTTP's 429: too many failures from this address; it may try again later. */
function blockedReply(until: Date): Reply {
  return reply(454, '4.7.0', `Too many failed logins from your address; try again after ${until.toISOString()}`);
}
