/**
 * OpenDMARC's unit-test tables (../shared/conformance/dmarc/opendmarc-cases.yaml; SOURCE.md there), run
 * through our code path: each record is served by a loopback DNS server and read by checkDmarc; each From
 * value goes into a message whose From field mailauth's dkimVerify reads (as the DKIM pass does) before
 * checkDmarc; each alignment pair is a From domain with a record and an SPF or DKIM pass for the other.
 * The tables record OpenDMARC's behaviour, some of it lenient. Where we differ, DIFFERENCES says which RFC
 * we follow and quotes it; every other case must agree, and a listed case that starts agreeing fails the
 * run, so nothing is skipped silently.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { parse } from 'yaml';
import { checkDmarc } from '../../../src/authentication/dmarc/check-dmarc.ts';
import type { DmarcResult } from '../../../src/authentication/dmarc/dmarc-result.ts';
import { mailauthResolver } from '../../../src/authentication/mailauth-resolver.ts';
import type { Resolver } from '../../../src/dns/resolver.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer, type TestZone } from '../../../src/dns/test-server.ts';

interface Cases {
  record_parse: { id: number; record: string; expect: string; note?: string }[];
  from_domain: { id: number; from: string; domain: string; note?: string }[];
  alignment: { id: number; a: string; b: string; mode: 'relaxed' | 'strict'; aligned: boolean; note?: string }[];
}
const CASES = parse(
  readFileSync(new URL('../../../../shared/conformance/dmarc/opendmarc-cases.yaml', import.meta.url), 'utf8'),
) as Cases;

const DEFAULTS =
  'RFC 7489 §6.3: "Syntax errors in the remainder of the record SHOULD be discarded in favor of default values ' +
  '(if any) or ignored outright", so the record stands with the tag at its default (RFC 9989 §4.8: "MUST be ' +
  'discarded in favor of default values").';
const LEADING_DOT =
  'An identifier with an empty label is not a domain name (RFC 1035 §2.3.4, RFC 5321 §4.1.2 sub-domain), so it ' +
  'aligns with nothing; OpenDMARC strips the dots first. Strict alignment is identity (RFC 7489 §3.1.1).';
const EACH_AUTHOR =
  'RFC 7489 §6.6.1: "apply the DMARC check using each of those domains found in the RFC5322.From field as the ' +
  'Author Domain and apply the most strict policy selected among the checks that fail" (RFC 9989 §11.5 ' +
  'recommends the same against From fields crafted to escape DMARC). OpenDMARC takes the first domain; we ' +
  'evaluate joe.com and ace.com both.';

/** section/id → why we differ from OpenDMARC's expectation, and which RFC we follow. */
const DIFFERENCES: Record<string, string> = {
  'record_parse/5':
    'p=n: RFC 7489 §6.3 p= takes "none", "quarantine" or "reject" (RFC 9989 §4.7 the same), and §6.6.3: without a ' +
    'valid p= and without rua=, "the Mail Receiver applies no DMARC processing" (RFC 9989 §4.10.1). OpenDMARC ' +
    'accepts a prefix.',
  'record_parse/9':
    `sp=bob: ${DEFAULTS} sp= falls back to p= (RFC 9989 §4.7). RFC 9989 §4.10.1 says otherwise for an invalid sp= ` +
    'or np= (the record acts as p=none with rua=, else no DMARC processing); we take the safer reading §4.8 ' +
    'supports, as one typo in sp= would otherwise let forgeries of a p=reject domain through.',
  'record_parse/10': `adkim=bob: ${DEFAULTS}`,
  'record_parse/11': `aspf=bob: ${DEFAULTS}`,
  'record_parse/12': `rf=bob: ${DEFAULTS}`,
  'record_parse/13': `ri=bob: ${DEFAULTS}`,
  'record_parse/14': `pct=500: ${DEFAULTS} pct= defaults to 100 (RFC 9989 drops pct= altogether).`,
  'record_parse/19': `rf=000…: ${DEFAULTS}`,
  'from_domain/6':
    'Malformed (RFC 5322 §3.4 angle-addr is one "<" addr-spec ">"); mailauth\'s address parser reads the mailbox ' +
    '"<", which has no domain. RFC 7489 §6.6.1 leaves a message with "no meaningful domains" to the receiver, ' +
    'so the result is permerror ("no Author Domain can be read"), not joe.com; and since the domain a reader ' +
    'sees may be the one imitated (RFC 9989 §11.5), it fails closed: handled as a quarantine.',
  'from_domain/7': EACH_AUTHOR,
  'from_domain/8': EACH_AUTHOR,
  'alignment/5': LEADING_DOT,
  'alignment/6': LEADING_DOT,
};

/** Cases we agree with today, per section; fewer is a regression. */
const AGREE_FLOOR = { record_parse: 11, from_domain: 10, alignment: 8 };

const recordDomain = (id: number) => `rp${id}.example`;

let dns: TestDnsServer;
let resolver: Resolver;
before(async () => {
  const records: TestZone['records'] = {
    '_dmarc.joe.com': { TXT: ['v=DMARC1; p=reject'] },
    '_dmarc.ace.com': { TXT: ['v=DMARC1; p=none'] },
    '_dmarc.blah.com': { TXT: ['v=DMARC1; p=quarantine'] },
  };
  for (const c of CASES.record_parse) records[`_dmarc.${recordDomain(c.id)}`] = { TXT: [c.record] };
  for (const c of CASES.alignment) {
    // b is the From domain and carries the case's mode (no two cases give one domain different modes).
    // "..com" (case 7) is no domain name and can hold no record: its author domain has no policy.
    const mode = c.mode === 'strict' ? 's' : 'r';
    if (!c.b.startsWith('.')) records[`_dmarc.${c.b}`] = { TXT: [`v=DMARC1; p=reject; adkim=${mode}; aspf=${mode}`] };
  }
  dns = await startTestDnsServer({ records });
  resolver = createResolver({ servers: [dns.server], timeoutMs: 300, tries: 1, cacheTtlMs: 0 });
});
after(() => dns.close());

const tally: Record<keyof Cases, { agree: number; differ: number; total: number }> = {
  record_parse: { agree: 0, differ: 0, total: CASES.record_parse.length },
  from_domain: { agree: 0, differ: 0, total: CASES.from_domain.length },
  alignment: { agree: 0, differ: 0, total: CASES.alignment.length },
};

function judge(section: keyof Cases, id: number, agrees: boolean, detail: string): void {
  const key = `${section}/${id}`;
  const listed = DIFFERENCES[key];
  tally[section][agrees ? 'agree' : 'differ']++;
  if (listed === undefined) assert.ok(agrees, `${key}: ${detail}`);
  else assert.ok(!agrees, `${key} now agrees with OpenDMARC (${detail}): remove it from DIFFERENCES`);
}

const none = { result: 'none', domain: 'unused.example' } as const;

for (const c of CASES.record_parse) {
  test(`record_parse ${c.id}: ${JSON.stringify(c.record)} → ${c.expect}`, async () => {
    const r = await checkDmarc({
      headerFrom: [`a@${recordDomain(c.id)}`],
      fromFields: 1,
      spf: none,
      dkim: [],
      resolver,
    });
    // A record in force makes unauthenticated mail fail; one discarded leaves no DMARC processing (none).
    const accepted = r.result === 'fail';
    assert.ok(r.result === 'fail' || r.result === 'none', r.reason);
    judge('record_parse', c.id, accepted === (c.expect === 'ok'), `record accepted: ${accepted} (${r.reason})`);
    if (c.id === 14) assert.equal(r.pct, 100, 'pct=500 falls back to 100');
  });
}

for (const c of CASES.from_domain) {
  test(`from_domain ${c.id}: From: ${c.from} → ${c.domain}`, async () => {
    const message = Buffer.from(`From: ${c.from}\r\nTo: b@example.net\r\nSubject: test\r\n\r\nbody\r\n`);
    const options = { resolver: mailauthResolver(resolver) } as Parameters<typeof dkimVerify>[1];
    const { headerFrom, fromFields } = await dkimVerify(message, options);
    const r: DmarcResult = await checkDmarc({ headerFrom, fromFields, spf: none, dkim: [], resolver });
    const agrees = r.fromDomain === c.domain && r.authorDomains === undefined;
    judge('from_domain', c.id, agrees, `author domain ${r.fromDomain} of ${JSON.stringify(r.authorDomains)}`);
    if (c.id === 7 || c.id === 8) assert.deepEqual(r.authorDomains, ['joe.com', 'ace.com']);
    if (c.id === 6) assert.deepEqual([r.result, r.disposition], ['permerror', 'quarantine']);
  });
}

for (const c of CASES.alignment) {
  test(`alignment ${c.id}: ${c.a} ~ ${c.b} (${c.mode}) → ${c.aligned}`, async () => {
    const from = `a@${c.b}`;
    const identifier = c.a;
    const viaSpf = await checkDmarc({
      headerFrom: [from],
      fromFields: 1,
      spf: { result: 'pass', domain: identifier },
      dkim: [],
      resolver,
    });
    const signature = {
      result: 'pass' as const,
      domain: identifier,
      selector: 's',
      algorithm: 'rsa-sha256',
      reason: 'ok',
    };
    const viaDkim = await checkDmarc({ headerFrom: [from], fromFields: 1, spf: none, dkim: [signature], resolver });
    const aligned = viaSpf.result === 'pass' && viaDkim.result === 'pass';
    assert.equal(viaSpf.result === 'pass', viaDkim.result === 'pass', 'SPF and DKIM align alike');
    judge('alignment', c.id, aligned === c.aligned, `aligned: ${aligned} (${viaDkim.reason})`);
  });
}

after(() => {
  for (const [section, t] of Object.entries(tally)) {
    console.log(`OpenDMARC ${section}: ${t.agree}/${t.total} agree, ${t.differ} differ by choice (DIFFERENCES)`);
  }
  for (const [key, why] of Object.entries(DIFFERENCES)) console.log(`  ${key}: ${why}`);
});

test('opendmarc: agreement does not regress', async () => {
  for (const [section, t] of Object.entries(tally) as [keyof Cases, (typeof tally)[keyof Cases]][]) {
    assert.equal(t.agree + t.differ, t.total, `every ${section} case ran`);
    assert.ok(t.agree >= AGREE_FLOOR[section], `${section}: ${t.agree} agree, floor ${AGREE_FLOOR[section]}`);
  }
});
