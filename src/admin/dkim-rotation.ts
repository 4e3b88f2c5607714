/**
 * DKIM key rotation, the schedule Stalwart automates: a new key is published beside the one that
 * signs (`pending`), signing switches to it once DNS serves its record with the same key (`active`),
 * and the key it replaced stays published (`retiring`) for config.dkim.retireAfterDays, so receivers
 * can still verify mail signed before the switch, then is `retired`.
 *
 * A key replaces the active keys of its domain with the same algorithm: a domain may sign with an
 * RSA and an Ed25519 key side by side (RFC 8463 signatures are not verified by every receiver, so an
 * Ed25519 key goes beside an RSA one, not instead of it), each rotated on its own. advanceRotation is
 * idempotent and safe to run from every node.
 */

import { isKeyBase64, keyFor, lookupKey } from '../authentication/dkim/key-record.ts';
import { parseTagList } from '../authentication/dkim/tag-list.ts';
import type { Config } from '../config/schema.ts';
import type { Resolver } from '../dns/resolver.ts';
import type { Logger } from '../log/logger.ts';
import type { DkimKey, Store } from '../store/store.ts';
import {
  type CreatedKey,
  createDkimKey,
  type DkimAlgorithm,
  DkimKeyError,
  dkimPublicKey,
  dkimRecordName,
} from './dkim-keys.ts';
import { judgeDkimRecord } from './dns-check/dkim.ts';

const DAY_MS = 86_400_000;

export interface RotateOptions {
  /** Checked like keygen's; a fresh `postern-YYYYMM` (or `-2` …) when absent. */
  selector?: string;
  /** Which active key to replace; needed only when the domain signs with both algorithms. */
  algorithm?: DkimAlgorithm;
  /** RSA: the replaced key's size when absent. */
  bits?: number;
}

/**
 * `postern dkim rotate`: a pending key for `domain` (already checked) that will replace its active
 * key of the same algorithm. Refused while a rotation of that algorithm waits for DNS, so pending
 * keys do not pile up.
 */
export async function rotateDkimKey(
  store: Store,
  domain: string,
  now: Date,
  options: RotateOptions = {},
): Promise<CreatedKey> {
  const { algorithm, replaced } = rotationTarget(await store.listDkimKeys(domain), domain, options.algorithm);
  // A rotation already under way for this algorithm is refused by createDkimKey.
  return createDkimKey(store, {
    domain,
    selector: options.selector, // a fresh postern-YYYYMM when absent
    algorithm,
    bits: algorithm === 'rsa' ? (options.bits ?? replaced[0]?.bits) : undefined,
    now,
  });
}

/**
 * The algorithm `dkim rotate` works on (`requested`, else the one of the domain's active keys) and the
 * active keys it replaces, from the domain's keys; the CLI asks first, to check --bits for it. Without
 * an active key of that algorithm, a pending one is what waits: the way on is DNS, not another key.
 */
export function rotationTarget(
  keys: readonly DkimKey[],
  domain: string,
  requested?: DkimAlgorithm,
): { algorithm: DkimAlgorithm; replaced: DkimKey[] } {
  const active = keys.filter((key) => key.state === 'active');
  const waiting = (algorithm?: DkimAlgorithm) =>
    keys.find((key) => key.state === 'pending' && (algorithm === undefined || key.algorithm === algorithm));
  if (active.length === 0) {
    const pending = waiting(requested);
    if (pending) throw pendingWaits(domain, pending);
    throw new DkimKeyError(
      'nothing-to-rotate',
      `${domain} has no active DKIM key to rotate; create one with postern dkim keygen --domain ${domain}`,
    );
  }
  const algorithms = [...new Set(active.map((key) => key.algorithm))];
  const algorithm = requested ?? (algorithms.length === 1 ? algorithms[0] : undefined);
  if (algorithm === undefined) {
    throw new DkimKeyError(
      'which-algorithm',
      `${domain} signs with an RSA and an Ed25519 key: say which to rotate with --algo rsa or --algo ed25519`,
    );
  }
  const replaced = active.filter((key) => key.algorithm === algorithm);
  if (replaced.length === 0) {
    const pending = waiting(algorithm);
    if (pending) throw pendingWaits(domain, pending);
    throw new DkimKeyError(
      'nothing-to-rotate',
      `${domain} has no active ${algorithm} key to rotate; to sign with one beside the ${algorithms.join(' and ')} ` +
        `key, add it with postern dkim keygen --domain ${domain} --algo ${algorithm}`,
    );
  }
  return { algorithm, replaced };
}

function pendingWaits(domain: string, key: DkimKey): DkimKeyError {
  return new DkimKeyError(
    'rotation-under-way',
    `${domain} has no active ${key.algorithm} key to rotate: its pending ${key.algorithm} key ${key.selector} waits for ` +
      `its DNS record ${dkimRecordName(key)}; publish it (postern dns records ${domain} prints it) and run ` +
      `postern dkim rotate --advance, or drop it with postern dkim remove --domain ${domain} --selector ${key.selector}`,
  );
}

/** Why a pending key is not active yet. */
export type RecordProblem =
  | 'no-record' // no DKIM key record at the name
  | 'different-key' // a record, but with another p= or k=, or one verifiers cannot use (h=, s=, several records)
  | 'invalid-key' // a record whose p= is not base64, or is cut short: verifiers refuse it
  | 'settling' // served, but not yet for long enough (see advanceRotation's `settle`)
  | 'temperror'; // DNS did not answer: try again later

/** What one pass changed (or found still waiting). No key material: events go to logs. */
export type RotationEvent =
  | { event: 'activated'; domain: string; selector: string; retiring: string[]; retireAfter: Date }
  | { event: 'retired'; domain: string; selector: string }
  | { event: 'waiting'; domain: string; selector: string; problem: RecordProblem; detail?: string };

/** Why verifiers would not use the record, for a record DNS serves that is no usable copy of the key. */
export interface RecordStatus {
  status: 'published' | RecordProblem;
  detail?: string;
}

/** What a key record verifiers cannot use says, in words (the codes are key-record.ts's). */
const UNUSABLE: Record<string, string> = {
  EKEYSYNTAX: 'its tag list is invalid (RFC 6376 §3.2)',
  EINVALIDVER: 'its v= is not DKIM1 (RFC 6376 §3.6.1)',
  EINVALIDSERVICE: 'its s= does not list email (RFC 6376 §3.6.1)',
  EINVALIDHASH: 'its h= does not list sha256, the hash Postern signs with (RFC 6376 §3.6.1)',
  EINVALIDTYPE: 'its key is not of the type k= says, or not an RSA or Ed25519 key (RFC 6376 §3.6.1)',
  ESHORTKEY: 'its RSA key is under 1024 bits (RFC 8301 §3.2)',
};

/** Does DNS serve this key's record, usable by verifiers? See recordStatus. */
export async function publishedStatus(
  resolver: Resolver,
  key: Pick<DkimKey, 'domain' | 'selector' | 'algorithm' | 'publicKey'>,
): Promise<'published' | RecordProblem> {
  return (await recordStatus(resolver, key)).status;
}

/**
 * Whether DNS serves this key's record as verifiers read it: the key must become active only once a
 * verifier can check its signatures. The record is parsed by Postern's own verifier (key-record.ts, RFC
 * 6376 §6.1.2 steps 5-8) for a sha256 signature, the only hash Postern signs with (RFC 8301 §3.1), and
 * must yield the stored key: a record with h=sha1, s=tlsrpt or v=DKIM2 carries the key, but no verifier
 * uses it. Several TXT records at the name leave the verifier's choice undefined (§3.6.2.2): not served.
 */
export async function recordStatus(
  resolver: Resolver,
  key: Pick<DkimKey, 'domain' | 'selector' | 'algorithm' | 'publicKey'>,
): Promise<RecordStatus> {
  const name = dkimRecordName(key);
  const answer = await resolver.txt(name);
  if (!answer.ok) return { status: answer.error === 'temperror' ? 'temperror' : 'no-record' };
  // Read leniently only to tell a key record from unrelated text (SPF, site verification) at the name.
  const keyLike = answer.records.filter((text) => {
    const tags = parseTagList(text).values;
    const v = tags.get('v');
    return tags.has('p') && (v === undefined || String(v) === 'DKIM1');
  });
  if (keyLike.length === 0) return { status: 'no-record' };
  if (answer.records.length > 1) {
    return {
      status: 'different-key',
      detail: `${name} has ${answer.records.length} TXT records; verifiers read one of them, which one is undefined (RFC 6376 §3.6.2.2)`,
    };
  }
  // The judgement `postern dns check` passes a record by: rotation must not switch signing to a key
  // the check then fails. A passing record is then read by Postern's own verifier as well.
  const judged = judgeDkimRecord(name, keyLike[0] as string, key);
  if (judged.verdict === 'fail') {
    const status = {
      'no-key': 'no-record',
      'not-base64': 'invalid-key',
      truncated: 'invalid-key',
      unusable: 'different-key',
    } as const;
    return { status: status[judged.problem], detail: judged.summary };
  }
  // RFC 6376 §3.6.1: with t=y receivers treat signed mail as unsigned, so the key would sign for nothing.
  if (judged.verdict === 'warn') return { status: 'different-key', detail: judged.summary };
  const found = await lookupKey(resolver, name);
  if ('dns' in found) {
    return { status: found.dns === 'ENOTFOUND' || found.dns === 'ENODATA' ? 'no-record' : 'temperror' };
  }
  const use = keyFor(found.record, 'sha256');
  if ('problem' in use) {
    if (use.problem === 'EINVALIDVAL') {
      // No p= at all reads as no record; a p= that is not base64 gets its own words.
      const p = parseTagList(found.rr ?? '').values.get('p');
      if (p === undefined) return { status: 'no-record' };
      return p !== '' && !isKeyBase64(String(p)) ? { status: 'invalid-key' } : { status: 'different-key' };
    }
    const why = UNUSABLE[use.problem] ?? use.problem;
    return { status: 'different-key', detail: `${name} carries a key verifiers do not use: ${why}` };
  }
  const served = use.key.type === key.algorithm && dkimPublicKey(use.key.key) === key.publicKey;
  return served ? { status: 'published' } : { status: 'different-key' };
}

/**
 * When a pending key's record was first seen served, and how long it must have been served before
 * the key is the one to sign with: the resolver asked may reach the primary name server while a
 * secondary still answers NXDOMAIN, which receivers cache (RFC 2308 §5) and then fail the first
 * signatures. Kept by the serve timer across its passes; a restart starts the wait again.
 */
export interface SettleState {
  /** By settleKey; only keys pending at the last pass. */
  firstSeen: Map<string, number>;
  minMs: number;
}

/**
 * A key's id and public key: SQLite gives a removed key's id to the next key stored (no AUTOINCREMENT),
 * which must not inherit the removed key's wait.
 */
function settleKey(key: DkimKey): string {
  return `${key.id} ${key.publicKey}`;
}

/**
 * One pass over every stored key: a pending key whose record DNS serves becomes active (with
 * `settle`, once it has been served for `settle.minMs`), moving the active keys it replaces to
 * retiring until now + retireAfterDays; retiring keys past that are retired.
 */
export async function advanceRotation(
  store: Store,
  resolver: Resolver,
  config: Pick<Config, 'dkim'>,
  now: Date,
  settle?: SettleState,
): Promise<RotationEvent[]> {
  const events: RotationEvent[] = [];
  const keys = await store.listDkimKeys();
  const pending = keys.filter((k) => k.state === 'pending');
  if (settle) {
    // Removed or activated keys are forgotten, so the map does not grow over the server's life.
    const live = new Set(pending.map(settleKey));
    for (const seen of settle.firstSeen.keys()) if (!live.has(seen)) settle.firstSeen.delete(seen);
  }
  for (const key of pending) {
    const { status, detail } = await recordStatus(resolver, key);
    const { domain, selector } = key;
    const seenAs = settleKey(key);
    if (status !== 'published') {
      settle?.firstSeen.delete(seenAs); // gone again: the wait starts over when it is back
      events.push({ event: 'waiting', domain, selector, problem: status, ...(detail === undefined ? {} : { detail }) });
      continue;
    }
    if (settle) {
      const first = settle.firstSeen.get(seenAs) ?? now.getTime();
      settle.firstSeen.set(seenAs, first);
      if (now.getTime() - first < settle.minMs) {
        events.push({ event: 'waiting', domain, selector, problem: 'settling' });
        continue;
      }
      settle.firstSeen.delete(seenAs);
    }
    const retireAfter = new Date(now.getTime() + config.dkim.retireAfterDays * DAY_MS);
    // The snapshot is as old as the DNS waits above: the store activates the key only if it is still
    // pending, and retires the keys it replaces in the same transaction, so a key removed meanwhile
    // does not leave the domain without a signing key, and a slow node's stale pass does not bring a
    // retiring key back over the newer active one.
    const retiring = await store.activateDkimKey(key.id, { now, retireAfter });
    if (retiring === undefined) continue; // removed, or activated by another pass meanwhile
    events.push({ event: 'activated', domain, selector, retiring, retireAfter });
  }
  for (const key of keys) {
    if (key.state !== 'retiring' || key.retireAfter === null || key.retireAfter > now) continue;
    // Only if still retiring: an admin may have brought it back since the snapshot.
    if (!(await store.setDkimKeyState(key.id, 'retired', { now, from: 'retiring' }))) continue;
    events.push({ event: 'retired', domain: key.domain, selector: key.selector });
  }
  return events;
}

/** A key found pending that another process (a serve node, another --advance) switched or removed. */
export interface ChangedMeanwhile {
  domain: string;
  selector: string;
  /** Its state now; `removed` when it is gone. */
  state: DkimKey['state'] | 'removed';
}

/**
 * `postern dkim rotate --advance`: advanceRotation, and the keys pending when the command began that it
 * reported nothing of, yet are pending no more: another process won the switch (advanceRotation skips a
 * key it finds switched already), and "nothing to do" would hide that the key changed.
 */
export async function advanceRotationReport(
  store: Store,
  resolver: Resolver,
  config: Pick<Config, 'dkim'>,
  now: Date,
): Promise<{ events: RotationEvent[]; meanwhile: ChangedMeanwhile[] }> {
  const before = (await store.listDkimKeys()).filter((k) => k.state === 'pending');
  const events = await advanceRotation(store, resolver, config, now);
  const told = new Set(events.map((e) => `${e.domain} ${e.selector}`));
  const after = new Map((await store.listDkimKeys()).map((k) => [settleKey(k), k]));
  const meanwhile: ChangedMeanwhile[] = [];
  for (const key of before) {
    if (told.has(`${key.domain} ${key.selector}`)) continue;
    const state = after.get(settleKey(key))?.state ?? 'removed';
    if (state !== 'pending') meanwhile.push({ domain: key.domain, selector: key.selector, state });
  }
  return { events, meanwhile };
}

export interface RotationTimerOptions {
  store: Store;
  resolver: Resolver;
  config: Pick<Config, 'dkim'>;
  logger: Logger;
  /** 10 minutes by default: a published record is picked up soon, at a handful of queries per hour. */
  intervalMs?: number;
}

export const ROTATION_INTERVAL_MS = 10 * 60_000;

/**
 * `postern serve`: advanceRotation at start and every intervalMs. The timer does not keep the process
 * alive; a failed pass is logged and the next one tries again. stop() waits for a pass under way.
 */
export function startRotationTimer(options: RotationTimerOptions): { stop(): Promise<void> } {
  const { store, resolver, config, logger } = options;
  const intervalMs = options.intervalMs ?? ROTATION_INTERVAL_MS;
  // A record must be served at two passes an interval apart: a new key signs 10 minutes after DNS
  // first serves it, not at the first answer of one server.
  const settle: SettleState = { firstSeen: new Map(), minMs: intervalMs };
  let running: Promise<void> | undefined;
  let stopped = false;
  const pass = () => {
    if (stopped || running) return; // a slow pass (DNS timeouts) is not overlapped by the next
    running = advanceRotation(store, resolver, config, new Date(), settle)
      .then((events) => logEvents(logger, events))
      .catch((err: unknown) => logger.error({ err }, 'dkim: the key rotation check failed; next try in a while'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(pass, intervalMs);
  timer.unref();
  pass();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

function logEvents(logger: Logger, events: readonly RotationEvent[]): void {
  for (const e of events) {
    switch (e.event) {
      case 'activated':
        logger.info(
          { domain: e.domain, selector: e.selector, retiring: e.retiring, retireAfter: e.retireAfter },
          `dkim: ${e.selector} of ${e.domain} is in DNS and now the key to sign with`,
        );
        break;
      case 'retired':
        logger.info(
          { domain: e.domain, selector: e.selector },
          `dkim: ${e.selector} of ${e.domain} is retired: its DNS record can be removed`,
        );
        break;
      case 'waiting':
        logger.debug(
          { domain: e.domain, selector: e.selector, problem: e.problem, ...(e.detail ? { detail: e.detail } : {}) },
          `dkim: a new key waits for DNS${e.detail ? `: ${e.detail}` : ''}`,
        );
        break;
      default:
        e satisfies never;
    }
  }
}
