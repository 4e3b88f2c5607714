/**
 * Greylisting as postgrey does it, with the triplets in the shared store (Store.greylist), so every
 * node of a cluster knows a sender's first attempt whichever node it reached. A first delivery
 * attempt for a (client network, sender, recipient) triplet is deferred with 450 4.7.1; a real MTA
 * retries (RFC 5321 §4.5.4.1) and then passes, while much bulk software never comes back.
 *
 * The learning pass-list is postgrey's auto-whitelist-clients: a client passes at once after
 * `autoPassAfter` triplets of its own waited out their delay, at most one counted an hour (the store
 * keeps those rules, see GreylistRequest): one message retried to many recipients, a session
 * repeating an RCPT, or one sender writing again and again counts once, so a spam run that retries
 * once does not exempt its client. As in postgrey, the pass-list lists the host that proved it
 * retries, not its /24 (greylistClient).
 * As postgrey does, the sender is keyed without what changes from one attempt to the next (BATV and
 * SRS tags, VERP numbers, a +extension; greylistSender), or a sender re-signing each retry would
 * be deferred again and again.
 */

import type { Logger } from '../log/logger.ts';
import { echoAddress, reply } from '../smtp/replies.ts';
import type { Store } from '../store/store.ts';
import { clientKey, formatAddress, parseAddress } from './cidr.ts';
import { DUNNO, type Greylister, type Verdict } from './restriction.ts';

export interface StoreGreylisterOptions {
  /** How long a new triplet is deferred; default 5 minutes (postgrey's --delay). */
  delayMs?: number;
  /** How long after the delay a retry still passes; later, the triplet starts over. Default 24 hours. */
  retryWindowMs?: number;
  /** Triplets and clients unseen this long are forgotten; default 35 days (postgrey's --max-age). */
  expireMs?: number;
  /** Passed triplets (at most one an hour counts) after which a client is no longer greylisted; 0 never. Default 5. */
  autoPassAfter?: number;
  /** The most triplets kept that never passed (the oldest go first); default 100 000, 0 no bound. */
  maxPendingTriplets?: number;
  /** Told when triplets are removed to keep to maxPendingTriplets (a flood), at most once in WARN_EVERY_MS. */
  logger?: Pick<Logger, 'warn'>;
  now?: () => Date;
}

/** A flood of new senders trims the triplets at every count: one warning in this long says so. */
const WARN_EVERY_MS = 600_000;

/**
 * The network a client is greylisted by, as postgrey's --lookup-by-subnet: a sender's outbound
 * pool often retries from another address of the same /24. IPv6: the /64 (RFC 6177 §2: one site's
 * subnet). An IPv4-mapped IPv6 address counts as its IPv4 address. A text that is not an address
 * (a zone-scoped one included) is its own network, lower-cased.
 */
export function greylistNetwork(clientAddress: string): string {
  const ip = parseAddress(clientAddress);
  if (ip === undefined) return clientAddress.toLowerCase();
  if (ip.version === 4) return `${formatAddress({ version: 4, value: ip.value & 0xffffff00n })}/24`;
  return `${formatAddress({ version: 6, value: (ip.value >> 64n) << 64n })}/64`;
}

/**
 * The client the pass-list knows, as postgrey's auto-whitelist-clients, which lists the host: an
 * IPv4 address, not its /24 (a /24 is often a hosting network's many customers, and one mail server
 * among them proving it retries says nothing of its neighbours). IPv6: the /64, since a host picks
 * any address of its /64 (RFC 6177 §2), so its own address would not find it again. An IPv4-mapped
 * IPv6 address is its IPv4 address (RFC 4291 §2.5.5.2); a text that is not an address, lower-cased.
 */
export function greylistClient(clientAddress: string): string {
  return clientKey(clientAddress, 64);
}

/**
 * BATV (draft-levine-smtp-batv-01, not an RFC): tag-type "=" tag-val "=" loc-core, with tag-type
 * `prvs` (its tag-val holds a day code and a hash) or `btv1`, also seen written with `==`.
 */
const BATV = /^(?:prvs|btv1)==?[0-9a-z]+==?(.+)$/s;
/**
 * SRS (Shevek's Sender Rewriting Scheme, as libsrs2 writes it; not an RFC):
 * SRS0=HHH=TT=orig-domain=orig-local, the separator after SRS0 `=`, `+` or `-`. HHH is a hash and
 * TT a day stamp: a forwarder signing a retry on a later day writes both anew.
 */
const SRS0 = /^srs0[=+-][^=]*=[^=]*=([^=]*)=(.+)$/s;
/**
 * SRS1=HHH=first-forwarder=<SRS0's separator>HHH=TT=orig-domain=orig-local: a second forwarder keeps
 * the first one's SRS0 tail (its hash and day stamp included) and hashes it again.
 */
const SRS1 = /^srs1[=+-][^=]*=([^=]*)=[=+-][^=]*=[^=]*=([^=]*)=(.+)$/s;

/**
 * The sender as a triplet knows it, lower-cased: the parts of the address that change from one
 * delivery attempt to the next are left out, as postgrey does, so that the retry finds the first
 * attempt's triplet. A BATV tag (its day code and hash change daily, and some MTAs sign each attempt
 * anew) is dropped; an SRS address keeps only its domains and the original local part, without hash
 * and timestamp; a `+extension` goes (a list's per-message bounce address), and each number of the
 * local part that stands alone, between non-word characters (`-`, `.`, `=`) or at an end, is `#`
 * (VERP numbers: `bounce-12345-678` is `bounce-#-#`). Digits within a word stay, so `news1` and
 * `news2` remain two senders. Only the local part changes: the domain, which the forwarder or list is
 * known by, stays. The null reverse-path ("") and a text without `@` are kept as they are.
 */
export function greylistSender(sender: string): string {
  const address = sender.toLowerCase();
  const at = address.lastIndexOf('@');
  if (at <= 0) return address;
  const local = withoutBatv(address.slice(0, at));
  const domain = address.slice(at + 1);
  const srs0 = SRS0.exec(local);
  if (srs0) return `srs0=${srs0[1]}=${steadyLocal(srs0[2]!)}@${domain}`;
  const srs1 = SRS1.exec(local);
  if (srs1) return `srs1=${srs1[1]}=${srs1[2]}=${steadyLocal(srs1[3]!)}@${domain}`;
  return `${steadyLocal(local)}@${domain}`;
}

function withoutBatv(local: string): string {
  return BATV.exec(local)?.[1] ?? local;
}

/** A local part without a BATV tag (an SRS address's original local part may carry one), +extension or numbers. */
function steadyLocal(local: string): string {
  return withoutBatv(local)
    .replace(/\+.*$/s, '')
    .replace(/\b[0-9]+\b/g, '#');
}

export class StoreGreylister implements Greylister {
  readonly #store: Pick<Store, 'greylist'>;
  readonly #delayMs: number;
  readonly #retryWindowMs: number;
  readonly #expireMs: number;
  readonly #autoPassAfter: number;
  readonly #maxPending: number;
  readonly #logger: Pick<Logger, 'warn'> | undefined;
  readonly #now: () => Date;
  /** Triplets removed since the last warning, and when (monotonic clock) the next one may come. */
  #trimmed = 0;
  #warnAfter = 0;

  constructor(store: Pick<Store, 'greylist'>, options: StoreGreylisterOptions = {}) {
    this.#store = store;
    this.#delayMs = nonNegativeInteger('delayMs', options.delayMs ?? 300_000);
    this.#retryWindowMs = nonNegativeInteger('retryWindowMs', options.retryWindowMs ?? 24 * 3_600_000);
    this.#expireMs = nonNegativeInteger('expireMs', options.expireMs ?? 35 * 86_400_000);
    this.#autoPassAfter = nonNegativeInteger('autoPassAfter', options.autoPassAfter ?? 5);
    this.#maxPending = nonNegativeInteger('maxPendingTriplets', options.maxPendingTriplets ?? 100_000);
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
  }

  /** DUNNO on a pass, so the rules after check_greylist still run; a 450 on a defer. */
  async check(triplet: { clientAddress: string; sender: string; recipient: string }): Promise<Verdict> {
    const network = greylistNetwork(triplet.clientAddress);
    const sender = greylistSender(triplet.sender); // "" for the null reverse-path
    const recipient = triplet.recipient.toLowerCase();
    const result = await this.#store.greylist({
      triplet: `${network}/${sender}/${recipient}`,
      network: greylistClient(triplet.clientAddress), // the pass-list's key
      now: this.#now(),
      delayMs: this.#delayMs,
      retryWindowMs: this.#retryWindowMs,
      expireMs: this.#expireMs,
      autoPassAfter: this.#autoPassAfter,
      ...(this.#maxPending > 0 ? { maxPending: this.#maxPending } : {}),
    });
    if (result.trimmed) this.#noteTrimmed(result.trimmed);
    if (result.outcome === 'pass') return DUNNO;
    const retryInMs = result.retryInMs ?? this.#delayMs;
    const seconds = Math.max(1, Math.ceil(retryInMs / 1000));
    const what = `from ${network} for ${sender === '' ? '<>' : sender} -> ${recipient}`;
    return {
      action: 'reject',
      // 450: RFC 5321 §4.2.2's code for a mailbox "temporarily blocked for policy reasons", as Postfix
      // answers postgrey's DEFER_IF_PERMIT; 4yz, so the client retries (§4.2.1). RFC 3463 §3.8: X.7.1.
      reply: reply(
        450,
        '4.7.1',
        `<${echoAddress(triplet.recipient)}>: Recipient address rejected: Greylisted for ${seconds} seconds, please try again later`,
      ),
      reason:
        retryInMs >= this.#delayMs
          ? `first delivery attempt ${what}`
          : `retried ${what} before the greylisting delay (${seconds} s left)`,
    };
  }

  #noteTrimmed(rows: number): void {
    this.#trimmed += rows;
    const now = performance.now(); // monotonic: a wall clock stepped back must not silence it
    if (now < this.#warnAfter) return;
    this.#warnAfter = now + WARN_EVERY_MS;
    this.#logger?.warn(
      { removed: this.#trimmed, maxPendingTriplets: this.#maxPending },
      'greylisting: too many triplets waiting for a retry (a flood of new senders?); the oldest were forgotten',
    );
    this.#trimmed = 0;
  }
}

/** A configured number must be a non-negative safe integer: anything else is a configuration bug. */
function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`greylisting: ${name} must be an integer >= 0`);
  return value;
}
