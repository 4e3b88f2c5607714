// The benchmark's DNS stub answers as a real zone answers "no such record": with an SOA, so that the
// answer and the results derived from it are cached (RFC 2308 §5), and a message costs no look-up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDnsStub } from '../../bench/dns-stub.ts';
import { createResolver } from '../../src/dns/system-resolver.ts';

test('the stub answers NODATA with an SOA whose MINIMUM is the negative TTL, so Postern asks once', async (t) => {
  const stub = await startDnsStub();
  t.after(() => stub.close());
  const resolver = createResolver({ servers: [`127.0.0.1:${stub.port}`], timeoutMs: 500, tries: 1 });
  for (const name of ['example.net', 'example.net', '_dmarc.example.net', '_dmarc.example.net']) {
    assert.deepEqual(await resolver.txt(name), { ok: false, error: 'nodata' });
  }
  assert.equal(stub.queries(), 2, 'each name asked once, then answered from the cache');
});
