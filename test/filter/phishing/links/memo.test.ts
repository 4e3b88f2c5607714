/**
 * The per-domain work of the link checks is remembered (bench/scan.ts: each domain written in a
 * message's text is a link now, and the same few domains come back link after link), in bounded caches
 * that give the same answers as the work itself.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { disguisedAs, linkDomainSubject } from '../../../../src/filter/phishing/links/url-hosts.ts';
import { lookalikeOf } from '../../../../src/filter/phishing/lookalike.ts';

test('lookalikeOf answers a domain it has judged against the same list from memory', () => {
  const list = ['paypal.com', 'example.org'];
  const first = lookalikeOf('paypa1.com', list, linkDomainSubject);
  assert.ok(first);
  assert.equal(lookalikeOf('paypa1.com', list, linkDomainSubject), first);
  // Bounded: past the cache's size the answers are still the work's own.
  for (let i = 0; i < 12_000; i++) lookalikeOf(`d${i}.com`, list, linkDomainSubject);
  assert.equal(lookalikeOf('paypa1.com', list, linkDomainSubject)?.protected, 'paypal.com');
  assert.equal(lookalikeOf('d5.com', list, linkDomainSubject), undefined);
});

test('disguisedAs does not scan the same candidates again for a host it has judged', () => {
  let reads = 0;
  const candidates = new Proxy(['paypal.com', 'example.org'], {
    get: (target, key, receiver) => {
      reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  assert.equal(disguisedAs('paypal.com.evil.net', 'evil.net', candidates), 'paypal.com');
  reads = 0;
  assert.equal(disguisedAs('paypal.com.evil.net', 'evil.net', candidates), 'paypal.com');
  assert.equal(reads, 0);
  assert.equal(disguisedAs('www.evil.net', 'evil.net', candidates), undefined);
});
