// The filter stage on its own (the SMTP path is test/server/content-filter.test.ts): learning frequent
// correspondents from the store's sender history, so their lookalikes score.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { ContentFilter } from '../../src/filter/content-filter.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { Envelope, Peer } from '../../src/smtp/envelope.ts';
import { testPeer } from '../support/peer.ts';

const PEER: Peer = testPeer();

function envelope(from: string): Envelope {
  const [local, domain] = from.split('@') as [string, string];
  return {
    id: 'T1',
    greeting: 'EHLO',
    helo: 'client.example',
    mailFrom: { address: from, localPart: local, domain },
    declaredSize: undefined,
    body: '7BIT',
    smtputf8: false,
    recipients: [],
  } as unknown as Envelope;
}

const message = (from: string) =>
  Buffer.from(`From: Accounts <${from}>\r\nTo: <alice@example.com>\r\nSubject: Invoice\r\n\r\nHello.\r\n`);

async function scored(filter: ContentFilter, from: string) {
  const outcome = await filter.filter({ envelope: envelope(from), peer: PEER, content: message(from), external: true });
  assert.equal(outcome.action, 'deliver');
  return outcome.action === 'deliver' ? outcome : undefined;
}

test('domains we often write with are learned from sender history; their lookalikes then score', async (t) => {
  const config = parseConfig({ domains: ['example.com'], filter: { phishing: { thresholds: { warn: 4 } } } }, 'test');
  const filter = await ContentFilter.create({
    config: config.filter,
    localDomains: config.domains,
    hostname: 'mx.example.com',
    logger: createLogger('silent'),
  });
  t.after(() => filter.stop());
  const before = await scored(filter, 'billing@nordwind-trades.com');
  assert.deepEqual(before?.verdict?.signals, [], 'an unknown domain, nothing to imitate');

  const asked: { minMessages: number; limit: number; seenSince: Date }[] = [];
  await filter.learnCorrespondents(async (o) => {
    asked.push(o);
    return [{ domain: 'nordwind-trade.com', messages: 5 }];
  });
  assert.deepEqual(
    asked.map(({ minMessages, limit }) => ({ minMessages, limit })),
    [{ minMessages: 5, limit: 300 }],
  );
  // Only domains written to in the last 180 days.
  const window = Date.now() - asked[0]!.seenSince.getTime();
  assert.ok(Math.abs(window - 180 * 86_400_000) < 60_000, String(window));
  const after = await scored(filter, 'billing@nordwind-trades.com');
  assert.ok(after?.verdict?.signals.some((s) => s.name === 'lookalike-sender' && s.evidence === 'nordwind-trade.com'));
  assert.deepEqual((await scored(filter, 'billing@nordwind-trade.com'))?.verdict?.signals, [], 'the partner itself');
});

test('learning is off with correspondentMinMessages 0 or phishing off', async (t) => {
  for (const phishing of [{ correspondentMinMessages: 0 }, { enabled: false }]) {
    const config = parseConfig({ filter: { phishing } }, 'test');
    const filter = await ContentFilter.create({
      config: config.filter,
      localDomains: [],
      hostname: 'mx.example.com',
      logger: createLogger('silent'),
    });
    t.after(() => filter.stop());
    let called = false;
    await filter.learnCorrespondents(async () => {
      called = true;
      return [];
    });
    assert.equal(called, false, JSON.stringify(phishing));
  }
});

async function learning(learned: { domain: string; messages: number }[], t: { after(fn: () => unknown): void }) {
  const config = parseConfig(
    {
      domains: ['example.com'],
      filter: { phishing: { thresholds: { warn: 4 }, partnerDomains: ['nordwind-trade.com'] } },
    },
    'test',
  );
  const filter = await ContentFilter.create({
    config: config.filter,
    localDomains: config.domains,
    hostname: 'mx.example.com',
    logger: createLogger('silent'),
  });
  t.after(() => filter.stop());
  await filter.learnCorrespondents(async () => learned);
  return async (from: string) =>
    ((await scored(filter, from))?.verdict?.signals ?? [])
      .filter((s) => s.name === 'lookalike-sender')
      .map((s) => s.evidence);
}

test('a learned domain that imitates our own, a configured partner or a brand is not learned', async (t) => {
  const lookalikes = await learning(
    [
      { domain: 'examp1e.com', messages: 50 }, // ours: example.com
      { domain: 'nordwind-trades.com', messages: 40 }, // the configured partner's
      { domain: 'paypa1.com', messages: 30 }, // a brand's
      { domain: 'real-supplier.com', messages: 5 },
    ],
    t,
  );
  assert.deepEqual(await lookalikes('billing@examp1e.com'), ['example.com'], 'still a lookalike of ours');
  assert.deepEqual(await lookalikes('billing@nordwind-trades.com'), ['nordwind-trade.com']);
  assert.equal((await lookalikes('billing@paypa1.com')).length, 1);
  assert.deepEqual(await lookalikes('billing@real-supplier.co'), ['real-supplier.com'], 'the real one is learned');
});

test('a learned domain that imitates one written to as often or more is not learned: a typo never flags the partner', async (t) => {
  const lookalikes = await learning(
    [
      { domain: 'acme-widgets.com', messages: 40 },
      { domain: 'acme-widget.com', messages: 5 }, // one user's typo, or a lookalike someone replied to
      { domain: 'lumen-paper.com', messages: 7 },
      { domain: 'lumen-papers.com', messages: 7 }, // a tie: neither is trusted to judge the other
    ],
    t,
  );
  assert.deepEqual(await lookalikes('anna@acme-widgets.com'), [], "the partner's own mail");
  assert.deepEqual(await lookalikes('anna@acme-widget.com'), ['acme-widgets.com'], 'the typo imitates the partner');
  assert.deepEqual(await lookalikes('anna@lumen-paper.com'), []);
  assert.deepEqual(await lookalikes('anna@lumen-papers.com'), []);
});
