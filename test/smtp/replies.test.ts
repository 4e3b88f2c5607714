// Reply text is ASCII (RFC 5321 §4.2.1): an address a reply echoes keeps its domain readable as the
// A-label, where textstring would turn each U-label character into "?".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { echoAddress, renderReply, replies } from '../../src/smtp/replies.ts';

test('echoAddress gives a U-label domain as its A-label and leaves the rest as it is', () => {
  assert.equal(echoAddress('dave@пример.рф'), 'dave@xn--e1afmkfd.xn--p1ai');
  assert.equal(echoAddress('bob@bücher.example'), 'bob@xn--bcher-kva.example');
  assert.equal(echoAddress('bob@xn--bcher-kva.example'), 'bob@xn--bcher-kva.example');
  assert.equal(echoAddress('"a@b"@example.com'), '"a@b"@example.com');
  assert.equal(echoAddress('a@[192.0.2.1]'), 'a@[192.0.2.1]');
  assert.equal(echoAddress('postmaster'), 'postmaster');
  assert.equal(echoAddress(''), '');
  // A UTF-8 local part has no ASCII form (RFC 6531 §3.3): only the domain changes.
  assert.equal(echoAddress('дейв@пример.рф'), 'дейв@xn--e1afmkfd.xn--p1ai');
});

test('the replies that echo an address send it with the A-label domain, in ASCII', () => {
  assert.equal(
    renderReply(replies.relayDenied('dave@пример.рф')),
    '554 5.7.1 <dave@xn--e1afmkfd.xn--p1ai>: relay access denied\r\n',
  );
  assert.equal(
    renderReply(replies.recipientTableEmpty('bob@bücher.example')),
    '451 4.3.0 <bob@xn--bcher-kva.example>: Temporary lookup failure: the local recipient table is empty\r\n',
  );
});
