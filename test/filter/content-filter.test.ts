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

  const asked: { minMessages: number; limit: number }[] = [];
  await filter.learnCorrespondents(async (o) => {
    asked.push(o);
    return ['nordwind-trade.com'];
  });
  assert.deepEqual(asked, [{ minMessages: 5, limit: 300 }]);
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
