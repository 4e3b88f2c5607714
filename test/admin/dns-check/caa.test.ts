/**
 * The CAA check's suggested record (RFC 8659 §3): at the name where it takes effect for the host checked,
 * which for a mail host in another domain than the one checked is that host's domain, not the checked one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCaa } from '../../../src/admin/dns-check/caa.ts';
import type { CaaRecord } from '../../../src/admin/dns-check/caa-lookup.ts';
import type { CheckContext } from '../../../src/admin/dns-check/context.ts';
import { parseConfig } from '../../../src/config/load.ts';

const context = (hostname: string, caa: Record<string, CaaRecord[]>) =>
  ({
    domain: 'example.com',
    config: parseConfig({ hostname, domains: ['example.com'], publish: { caaIssuers: ['ca.example.net'] } }, 'test'),
    caa: async (name: string) => {
      const records = caa[name];
      return records ? { ok: true as const, records } : { ok: false as const, error: 'nodata' as const };
    },
  }) as unknown as CheckContext;

test("no CAA for a mail host in another domain: the record to publish is at that host's registrable domain", async () => {
  const [check] = await checkCaa(context('mx.mail-provider.co.uk', {}));
  assert.equal(check?.status, 'warn');
  assert.equal(check?.subject, 'mx.mail-provider.co.uk');
  assert.equal(check?.fix, 'Publish "mail-provider.co.uk. CAA 0 issue \\"ca.example.net\\"".');
  // The mail host in the domain checked: its registrable domain is that domain.
  const [own] = await checkCaa(context('mx.example.com', {}));
  assert.equal(own?.fix, 'Publish "example.com. CAA 0 issue \\"ca.example.net\\"".');
});

test('a CAA set that refuses the CA is to be corrected where it is, since it hides those above it (RFC 8659 §3)', async () => {
  const [check] = await checkCaa(
    context('mx.mail-provider.net', {
      'mx.mail-provider.net': [{ critical: false, tag: 'issue', value: 'other-ca.example' }],
    }),
  );
  assert.equal(check?.status, 'fail');
  assert.match(
    check?.fix ?? '',
    /^Publish "mx\.mail-provider\.net\. CAA 0 issue \\"ca\.example\.net\\"", or set publish\.caaIssuers/,
  );
});
