/**
 * Sender authentication of one inbound transaction: SPF from the envelope (started at MAIL FROM, so
 * its DNS work overlaps the rest of the transaction), DKIM and ARC from the message, DMARC from both,
 * then the verdict and our Authentication-Results header (RFC 8601). Results become findings
 * (ARCHITECTURE.md principle 2) for the filters after this stage and for the log.
 */

import type { Config } from '../config/schema.ts';
import { AnswerCache, lifetimeTracking } from '../dns/cache.ts';
import type { Resolver } from '../dns/resolver.ts';
import type { CheckOutcome } from '../smtp/effects.ts';
import type { Envelope, Peer } from '../smtp/envelope.ts';
import { reply } from '../smtp/replies.ts';
import { authenticationResultsHeader, stripForgedResults } from './authentication-results.ts';
import type { DmarcDiscoveryCache } from './dmarc/check-dmarc.ts';
import type { ArcChainInput, ArcResult, DkimSignatureResult, DmarcResult, Finding, SpfResult } from './results.ts';
import { receivedSpfHeader } from './spf/received-spf.ts';
import { type AuthenticationVerdict, decide } from './verdict.ts';

/** The checks, loaded with the first message from outside: a node that only takes submissions never needs them. */
async function importChecks() {
  const [spf, dkim, dmarc, overrides] = await Promise.all([
    import('./spf/check-spf.ts'),
    import('./dkim/verify-dkim.ts'),
    import('./dmarc/check-dmarc.ts'),
    import('./dmarc/overrides.ts'),
  ]);
  return {
    checkSpf: spf.checkSpf,
    verifyDkim: dkim.verifyDkim,
    checkDmarc: dmarc.checkDmarc,
    DmarcDiscoveryCache: dmarc.DmarcDiscoveryCache,
    applyOverrides: overrides.applyOverrides,
  };
}
type Checks = Awaited<ReturnType<typeof importChecks>>;
let checksLoaded: Promise<Checks> | undefined;
const loadChecks = (): Promise<Checks> => (checksLoaded ??= importChecks());

/**
 * ARC validation runs on mailauth, whose dependencies (libmime's charset tables, iconv-lite, joi) take
 * about 30 MB: it is loaded with the first message that carries ARC sets (docs/benchmarks.md).
 */
let arcLoaded: Promise<typeof import('./arc/verify-arc.ts')> | undefined;
const NO_ARC: ArcResult = { result: 'none', instance: 0, sealers: [], instances: [], reason: 'no ARC sets' };

function checkArc(chain: ArcChainInput, resolver: Resolver, now: Date): Promise<ArcResult> {
  // RFC 8617 §5.2 step 1: no ARC sets, nothing to validate. A chain that could not be read carries its
  // error, which verifyArc turns into a fail.
  if (chain !== undefined && chain.chain === false && !(chain as { error?: unknown }).error) {
    return Promise.resolve(NO_ARC);
  }
  arcLoaded ??= import('./arc/verify-arc.ts');
  return arcLoaded.then(({ verifyArc }) => verifyArc(chain, { resolver, now }));
}

export type AuthenticationConfig = Config['authentication'];

export interface SenderAuthenticationOptions {
  config: AuthenticationConfig;
  hostname: string;
  resolver: Resolver;
  /** pct= sampling (RFC 7489 §6.6.4); injectable for tests. */
  random?: () => number;
  /** Clock for signature expiry (RFC 6376 §3.5 x=); injectable for tests. */
  now?: () => Date;
}

/** How the message was checked, and how it is to be: the verdict comes with what it rests on. */
export interface Examination {
  verdict: AuthenticationVerdict;
  /** The message with forged Authentication-Results fields removed (RFC 8601 §5). */
  content: Buffer;
  /** Our Authentication-Results field, CRLF-terminated; '' when checks are off. */
  header: string;
  /**
   * Received-SPF (RFC 7208 §9.1), with `spf.onFail: mark`: a trace field, to go above our Received
   * as §9.1 asks, where the Authentication-Results field goes below it.
   */
  trace?: string;
  findings: Finding[];
  spf?: SpfResult;
  /** The HELO identity's own check (RFC 7208 §2.3), when MAIL FROM was not null. */
  helo?: SpfResult;
  dkim?: DkimSignatureResult[];
  arc?: ArcResult;
  dmarc?: DmarcResult;
  /** A local override of the DMARC fail (a trusted ARC sealer, the allow-list), as the header records it. */
  dmarcOverride?: 'trusted_forwarder' | 'local_policy';
}

/** Who the client is, as far as the checks care. */
export type ClientKind = 'external' | 'login' | 'mynetworks';

const PASS: AuthenticationVerdict = { action: 'accept', reason: 'not checked' };

export class SenderAuthentication {
  readonly authservId: string;
  readonly #config: AuthenticationConfig;
  readonly #hostname: string;
  readonly #resolver: Resolver;
  readonly #random: () => number;
  readonly #now: () => Date;
  readonly #spfCache: AnswerCache<SpfResult> | undefined;
  #dmarcCache: DmarcDiscoveryCache | undefined;
  /** SPF started at MAIL FROM, picked up at the end of DATA; the envelope dies with the transaction. */
  readonly #pending = new WeakMap<Envelope, Promise<SpfResult>>();

  constructor(options: SenderAuthenticationOptions) {
    this.#config = options.config;
    this.#hostname = options.hostname;
    this.authservId = options.config.authservId ?? options.hostname;
    this.#resolver = options.resolver;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => new Date());
    const seconds = options.config.cacheSeconds;
    this.#spfCache = seconds > 0 ? new AnswerCache({ ttlMs: seconds * 1000, maxEntries: 10_000 }) : undefined;
  }

  get enabled(): boolean {
    return this.#config.enabled;
  }

  /**
   * MAIL FROM was accepted: SPF starts now. With `spf.onFail: reject` the reply waits for it: 550 5.7.23
   * on a fail (RFC 7208 §8.4, RFC 7372 §3.2), 451 4.7.24 on a temperror (RFC 7208 §8.6).
   */
  atMail(peer: Peer, envelope: Envelope, client: ClientKind): CheckOutcome | Promise<CheckOutcome> {
    if (!this.#config.enabled || client !== 'external') return { action: 'continue' };
    const spf = this.#spf(peer, envelope);
    this.#pending.set(envelope, spf);
    if (this.#config.spf.onFail !== 'reject') return { action: 'continue' };
    return spf.then((result): CheckOutcome => {
      if (result.result === 'fail') {
        const why = result.explanation ?? `${peer.remoteAddress} is not allowed to send mail for ${result.domain}`;
        return { action: 'reject', reply: reply(550, '5.7.23', `SPF fail: ${why}`) };
      }
      if (result.result === 'temperror') {
        return {
          action: 'reject',
          reply: reply(451, '4.7.24', `SPF temporary error for ${result.domain}; try again later`),
        };
      }
      return { action: 'continue' };
    });
  }

  /** The end of DATA: every check of the message, the verdict and the header. */
  async examine(envelope: Envelope, content: Buffer, peer: Peer, client: ClientKind): Promise<Examination> {
    const stripped = stripForgedResults(content, this.authservId);
    const findings: Finding[] = [];
    if (stripped.removed > 0) {
      findings.push({
        check: 'authentication-results',
        result: 'removed',
        reason: `${stripped.removed} Authentication-Results field(s) claiming our authserv-id ${this.authservId} removed`,
        rfc: 'RFC 8601 §5',
      });
    }
    if (!this.#config.enabled) return { verdict: PASS, content: stripped.content, header: '', findings };
    if (client === 'login') {
      const header = authenticationResultsHeader(this.authservId, { login: peer.authenticated ?? '' });
      return { verdict: PASS, content: stripped.content, header, findings };
    }
    if (client === 'mynetworks') return { verdict: PASS, content: stripped.content, header: '', findings };

    const { verifyDkim, checkDmarc, applyOverrides, DmarcDiscoveryCache } = await loadChecks();
    const seconds = this.#config.cacheSeconds;
    // DMARC records change rarely but matter at once when they do: at most a minute.
    if (seconds > 0) this.#dmarcCache ??= new DmarcDiscoveryCache(Math.min(seconds, 60) * 1000);
    const spfPromise = this.#pending.get(envelope) ?? this.#spf(peer, envelope);
    const heloPromise = envelope.mailFrom ? this.#helo(peer, envelope) : undefined;
    const now = this.#now();
    // All three run at once and are awaited one by one: Promise.all would cost a promise per element
    // for every message. None of them rejects (each turns its failures into results), so none is
    // left rejected and unawaited behind another.
    const dkimPromise = verifyDkim(stripped.content, { resolver: this.#resolver, now });
    const spf = await spfPromise;
    const helo = await heloPromise;
    const dkimVerification = await dkimPromise;
    const dkim = dkimVerification.signatures;
    // ARC first, then DMARC: a rejected promise left unawaited would be an unhandled rejection, and
    // ARC has work to do only for forwarded mail.
    const arc = await checkArc(dkimVerification.arc, this.#resolver, now);
    const dmarc = await checkDmarc({
      headerFrom: dkimVerification.headerFrom,
      fromFields: dkimVerification.fromFields,
      spf: { result: spf.result, domain: spf.domain },
      dkim,
      resolver: this.#resolver,
      random: this.#random,
      ...(this.#dmarcCache ? { cache: this.#dmarcCache } : {}),
    });
    const overridden = applyOverrides(dmarc, {
      arc,
      trustedArcSealers: this.#config.trustedArcSealers,
      allowlist: this.#config.allowlist,
    });
    const verdict = decide({
      spf,
      dkim,
      dmarc,
      disposition: overridden.disposition,
      enforce: this.#config.dmarc.enforce,
      ...(overridden.pending ? { pendingOverride: overridden.pending } : {}),
      ...(overridden.override ? { override: overridden.override.type } : {}),
    });
    findings.push(
      { check: 'spf', result: spf.result, reason: `${spf.domain}: ${spf.reason}`, rfc: 'RFC 7208' },
      ...(helo
        ? [{ check: 'spf-helo', result: helo.result, reason: `${helo.domain}: ${helo.reason}`, rfc: 'RFC 7208 §2.3' }]
        : []),
      ...(dkim.length === 0
        ? [{ check: 'dkim', result: 'none', reason: 'no DKIM signature', rfc: 'RFC 6376' }]
        : dkim.map((s) => ({ check: 'dkim', result: s.result, reason: `${s.domain}: ${s.reason}`, rfc: 'RFC 6376' }))),
      { check: 'arc', result: arc.result, reason: arc.reason, rfc: 'RFC 8617' },
      {
        check: 'dmarc',
        result: dmarc.result,
        reason: overridden.override ? `${dmarc.reason}; ${overridden.override.reason}` : dmarc.reason,
        rfc: 'RFC 7489',
      },
    );
    if (spf.result === 'fail' && this.#config.spf.onFail === 'mark') {
      findings.push({
        check: 'spf-policy',
        result: 'marked',
        reason: 'SPF fail marked (spf.onFail: mark)',
        rfc: 'RFC 7208 §8.4',
      });
    }
    const header = authenticationResultsHeader(this.authservId, {
      spf: { ...spf, identity: envelope.mailFrom ? 'mailfrom' : 'helo' },
      ...(helo ? { helo } : {}),
      dkim,
      arc,
      dmarc,
      ...(overridden.override
        ? { override: { type: overridden.override.type, disposition: overridden.disposition } }
        : {}),
      enforced: this.#config.dmarc.enforce,
      remoteIp: peer.remoteAddress,
    });
    const trace =
      this.#config.spf.onFail === 'mark'
        ? receivedSpfHeader({
            spf,
            identity: envelope.mailFrom ? 'mailfrom' : 'helo',
            clientIp: peer.remoteAddress,
            envelopeFrom: envelope.mailFrom?.address ?? '',
            helo: envelope.helo,
            receiver: this.#hostname,
          })
        : undefined;
    return {
      verdict,
      content: stripped.content,
      header,
      ...(trace ? { trace } : {}),
      findings,
      spf,
      ...(helo ? { helo } : {}),
      dkim,
      arc,
      dmarc,
      ...(overridden.override ? { dmarcOverride: overridden.override.type } : {}),
    };
  }

  /** SPF of the MAIL FROM identity (HELO's for the null sender, RFC 7208 §2.4), cached per (IP, domain). */
  #spf(peer: Peer, envelope: Envelope): Promise<SpfResult> {
    const sender = envelope.mailFrom?.address ?? '';
    if (sender === '') return this.#helo(peer, envelope) ?? this.#evaluate(peer.remoteAddress, '', envelope.helo);
    return this.#evaluate(peer.remoteAddress, sender, envelope.helo);
  }

  /**
   * The separate HELO identity check RFC 7208 §2.3 recommends: recorded (smtp.helo), never decisive.
   * Undefined for an address literal, which names no domain with a policy.
   */
  #helo(peer: Peer, envelope: Envelope): Promise<SpfResult> | undefined {
    if (envelope.helo.startsWith('[') || !envelope.helo.includes('.')) return undefined;
    return this.#evaluate(peer.remoteAddress, '', envelope.helo);
  }

  #evaluate(ip: string, sender: string, helo: string): Promise<SpfResult> {
    const domain = sender === '' ? helo.toLowerCase() : sender.slice(sender.lastIndexOf('@') + 1).toLowerCase();
    // Keyed by domain, not address: one result per (IP, domain) is what saves the DNS work of a busy
    // sender. A result that used the sender's own address, local part or HELO (a %{l} in the record, a
    // %{s} in the exp= text, RFC 7208 §7.3) is that sender's alone and is not kept: §6.2's explanation is
    // expanded for this check, not handed to the next sender of the domain.
    const key = sender === '' ? `${ip} helo ${domain}` : `${ip} ${domain}`;
    const cached = this.#spfCache?.get(key);
    if (cached) return Promise.resolve(cached);
    // RFC 1035 §3.2.1, RFC 2181 §8: the result is data derived from every answer the evaluation read (the
    // record, include: and redirect= targets, a:/mx:/ptr: names, negative answers by their SOA, RFC 2308 §5),
    // so it is kept no longer than the shortest-lived of them: a record fixed with TTL 60 holds in a minute.
    const tracked = this.#spfCache ? lifetimeTracking(this.#resolver) : undefined;
    const query = { ip, sender, helo, resolver: tracked?.resolver ?? this.#resolver, hostname: this.#hostname };
    return loadChecks()
      .then(({ checkSpf }) => checkSpf(query))
      .then(
        (result) => {
          // A temporary failure is never cached (src/dns/cache.ts says why).
          if (result.result !== 'temperror' && !result.senderSpecific && tracked) {
            this.#spfCache?.set(key, result, tracked.lifetimeMs());
          }
          return result;
        },
        // Never a rejection: the MAIL-time check is awaited only at the end of DATA, if at all, and a
        // bug must read as a temporary error (RFC 7208 §2.6.6), not end the process.
        (err: unknown): SpfResult => ({ result: 'temperror', domain, reason: `spf evaluation failed: ${String(err)}` }),
      );
  }
}
