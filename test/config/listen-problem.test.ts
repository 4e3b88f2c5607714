// What serve says when a listener cannot have its address: the key, the address and what to do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listenProblem } from '../../src/config/listen-problem.ts';

// The errors net.Server#listen gives for a host name getaddrinfo cannot resolve (no lookup is made
// here: tests ask no resolver but the loopback one).
const lookupError = (code: string) => Object.assign(new Error(`getaddrinfo ${code} mx.example.com`), { code });

test('a host that does not resolve names the key and says so (it was "getaddrinfo ENOTFOUND")', () => {
  assert.equal(
    listenProblem('listen.smtp', 'mx.example.com:25', lookupError('ENOTFOUND'), 'is another server running?'),
    'listen.smtp: the host of mx.example.com:25 does not resolve to an address (give an IP address, or a name in /etc/hosts or DNS)',
  );
  assert.match(
    listenProblem('mtaSts.listen', 'mx.example.com:443', lookupError('EAI_AGAIN'), 'x') ?? '',
    /^mtaSts\.listen: the host of mx\.example\.com:443 could not be resolved now/,
  );
});
