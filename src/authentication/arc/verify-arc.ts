/**
 * ARC chain validation (RFC 8617 §5.2) on mailauth's `arc()`, from the chain the DKIM pass already parsed
 * (one parse of the message). Reports the chain status and, for a passing chain, who sealed each set and
 * what each recorded in its ARC-Authentication-Results, for local policy (dmarc/overrides.ts) to weigh.
 * Not done here: sealing (RFC 8617 §5.1; we do not seal), the optional oldest-pass (§5.2 step 5).
 * The newest ARC-Message-Signature is verified by the DKIM pass at its clock, so its x= and t= are judged
 * there; an ARC-Seal carries no expiry (§4.1.3), so `now` has nothing to check here.
 */

import { arc } from 'mailauth/lib/arc/index.js';
import type { DnsAnswer, Resolver } from '../../dns/resolver.ts';
import type { ArcChainInput } from '../dkim/dkim-result.ts';
import { mailauthResolver } from '../mailauth-resolver.ts';
import type { ArcAuthenticationResults, ArcInstance, ArcResult } from './arc-result.ts';

export interface VerifyArcOptions {
  resolver: Resolver;
  now?: Date;
}

/** RFC 8301 §3.2, for the DKIM key records ARC seals are checked with: "MUST NOT consider ... less than 1024 bits". */
const MIN_RSA_BITS = 1024;

type ArcData = Parameters<typeof arc>[0];
type ChainEntry = ArcData['chain'][number];

export async function verifyArc(chain: ArcChainInput, options: VerifyArcOptions): Promise<ArcResult> {
  if (chain === undefined) {
    // The DKIM pass broke before it could read the header: a chain may be there, unvalidated (§5.2.1:
    // ARC failures are permanent; never a pass on a doubt).
    return failed(0, 'the message header could not be read for ARC');
  }
  try {
    const entries = Array.isArray(chain.chain) ? (chain.chain as ChainEntry[]) : [];
    // Read before arc(): it rewrites the newest set's parsed ARC-Authentication-Results in place.
    const instances = entries.map(describeInstance);
    const data = isolated(chain, entries);
    const watched = watchTemporaryFailures(options.resolver);
    const response = await arc(data, {
      resolver: mailauthResolver(watched.resolver),
      minBitLength: MIN_RSA_BITS,
    } as Parameters<typeof arc>[1]);
    const highest = typeof response.i === 'number' ? response.i : entries.length;
    switch (response.status.result) {
      case 'none':
        return { result: 'none', instance: 0, sealers: [], instances: [], reason: 'no ARC sets' }; // §5.2 step 1
      case 'pass': {
        const sealers = instances.map((i) => i.sealer);
        const result: ArcResult = {
          result: 'pass',
          instance: highest,
          sealers,
          instances,
          reason: `${instances.length === 1 ? '1 ARC set validates' : `${instances.length} ARC sets validate`}, sealed by ${sealers.join(', ')}`,
        };
        const original = rawValue(entries[0]?.['arc-authentication-results']?.original);
        if (original !== undefined) result.originalResults = original;
        return result;
      }
      default: {
        const reason = String(response.status.comment || 'the ARC chain does not validate');
        // The newest ARC-Message-Signature was verified by the DKIM pass; a seal's key by arc() here.
        const ams = (
          data.lastEntry as
            | { messageSignature?: { signingDomain?: unknown; selector?: unknown; status?: { result?: unknown } } }
            | undefined
        )?.messageSignature;
        const lookups = [...watched.failures()];
        if (ams?.status?.result === 'temperror' && typeof ams.signingDomain === 'string') {
          lookups.push(`${String(ams.selector)}._domainkey.${ams.signingDomain}`.toLowerCase());
        }
        if (lookups.length === 0) return failed(highest, reason);
        const temporary = `the lookup of ${lookups.join(', ')} failed`;
        return {
          ...failed(highest, `${reason} (${temporary}: a temporary DNS failure)`),
          temporary: { reason: temporary, sealers: instances.map((i) => i.sealer), lookups },
        };
      }
    }
  } catch (err) {
    // arc() reports chain faults as results; reaching here is a bug in it or in us (§5.2.1: fail).
    return failed(0, `ARC validation failed: ${String(err)}`);
  }
}

/** Our resolver, noting the names whose lookup failed temporarily (a timeout, SERVFAIL): arc() only says "fail". */
function watchTemporaryFailures(resolver: Resolver): { resolver: Resolver; failures: () => string[] } {
  const failures: string[] = [];
  const note = <T>(name: string, answer: DnsAnswer<T>): DnsAnswer<T> => {
    // A name the resolver never asks (EBADNAME: "x!y._domainkey.trusted.example") is no DNS failure:
    // the forger picked it, and counted it would turn a policy's 550 into a 451 at will.
    if (!answer.ok && answer.error === 'temperror' && !answer.reason.startsWith('EBADNAME')) {
      failures.push(name.toLowerCase().replace(/\.$/, ''));
    }
    return answer;
  };
  const watched: Resolver = {
    a: async (name) => note(name, await resolver.a(name)),
    aaaa: async (name) => note(name, await resolver.aaaa(name)),
    mx: async (name) => note(name, await resolver.mx(name)),
    txt: async (name) => note(name, await resolver.txt(name)),
    ptr: async (address) => note(address, await resolver.ptr(address)),
    cname: async (name) => note(name, await resolver.cname(name)),
    tlsa: async (name) => note(name, await resolver.tlsa(name)),
  };
  return { resolver: watched, failures: () => failures };
}

function failed(instance: number, reason: string): ArcResult {
  return { result: 'fail', instance, sealers: [], instances: [], reason };
}

/** The caller's chain with the newest set's ARC-Authentication-Results copied, so arc() edits only ours. */
function isolated(chain: NonNullable<ArcChainInput>, entries: ChainEntry[]): ArcData {
  const last = chain.lastEntry;
  if (last === undefined) return { ...chain, chain: entries } as ArcData;
  const aar = last['arc-authentication-results'];
  const lastEntry = aar
    ? { ...last, 'arc-authentication-results': { ...aar, parsed: structuredClone(aar.parsed) } }
    : last;
  const copied = entries.map((entry) => (entry === last ? lastEntry : entry));
  return { ...chain, chain: copied, lastEntry } as ArcData;
}

function describeInstance(entry: ChainEntry): ArcInstance {
  const seal = entry['arc-seal']?.parsed as Record<string, { value?: unknown } | undefined> | undefined;
  const sealer = seal?.d?.value;
  return {
    instance: entry.i,
    sealer: typeof sealer === 'string' ? sealer.trim().toLowerCase() : '',
    results: authenticationResults(entry['arc-authentication-results']?.parsed),
  };
}

type Parsed = Record<string, unknown>;

/** mailauth's parse of an Authentication-Results payload (RFC 8601 §2.2) into our shape; never trusts types. */
function authenticationResults(parsed: unknown): ArcAuthenticationResults {
  const p = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Parsed;
  const results: ArcAuthenticationResults = { authservId: text(p.value) ?? '', dkim: [] };
  const dmarc = method(p.dmarc);
  if (dmarc) {
    const from = text(property(dmarc, 'header', 'from'));
    results.dmarc = { result: dmarc.result, ...(from ? { headerFrom: domainOf(from) } : {}) };
  }
  const spf = method(p.spf);
  if (spf) {
    const mailfrom = text(property(spf, 'smtp', 'mailfrom')) ?? text(property(spf, 'smtp', 'mfrom'));
    results.spf = { result: spf.result, ...(mailfrom ? { domain: domainOf(mailfrom) } : {}) };
  }
  for (const entry of Array.isArray(p.dkim) ? p.dkim : [p.dkim]) {
    const dkim = method(entry);
    if (!dkim) continue;
    // RFC 8601 §2.7.1: header.d is the signing domain; older writers give only header.i (@domain).
    const domain = text(property(dkim, 'header', 'd')) ?? text(property(dkim, 'header', 'i'));
    results.dkim.push({ result: dkim.result, ...(domain ? { domain: domainOf(domain) } : {}) });
  }
  return results;
}

function method(value: unknown): (Parsed & { result: string }) | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const result = text((value as Parsed).value);
  return result ? { ...(value as Parsed), result } : undefined;
}

function property(value: Parsed, ptype: string, name: string): unknown {
  const group = value[ptype];
  return typeof group === 'object' && group !== null ? (group as Parsed)[name] : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim().toLowerCase() : undefined;
}

/** `user@example.com` or `@example.com` → `example.com`; a bare domain stays; the root dot goes. */
function domainOf(value: string): string {
  return value
    .slice(value.lastIndexOf('@') + 1)
    .replace(/\.+$/, '')
    .trim();
}

/** The field's value without its name, unfolded (RFC 5322 §2.2.3). */
function rawValue(original: unknown): string | undefined {
  if (original === undefined || original === null) return undefined;
  const line = Buffer.isBuffer(original) ? original.toString('utf8') : String(original);
  const colon = line.indexOf(':');
  return line
    .slice(colon + 1)
    .replace(/\r?\n[ \t]+/g, ' ')
    .trim();
}
