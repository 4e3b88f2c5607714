import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type RecipientDecision, routeRecipient } from '../../src/policy/recipient.ts';
import { type Path, parseMailbox } from '../../src/smtp/path.ts';

const accounts = new Map([
  ['alice@example.com', 1],
  ['postmaster@example.com', 2],
  ['bob@xn--bcher-kva.example', 3],
]);
const lookup = {
  findAccount: (address: string) => (accounts.has(address) ? { id: accounts.get(address)! } : undefined),
};
const local = new Set(['example.com', 'xn--bcher-kva.example']);

function route(mailbox: string): RecipientDecision {
  const path: Path =
    mailbox === 'postmaster'
      ? { localPart: 'postmaster', domain: '', address: 'postmaster', utf8: false }
      : (parseMailbox(mailbox) as Path);
  const decision = routeRecipient(path, local, 'example.com', lookup);
  assert.ok(!(decision instanceof Promise), 'a synchronous look-up answers synchronously');
  return decision;
}

const cases: [mailbox: string, want: number | string][] = [
  ['alice@example.com', 1],
  ['Alice@EXAMPLE.com', 1], // local parts match case-insensitively
  ['postmaster', 2], // RFC 5321 §4.1.1.3: domain-less postmaster
  ['bob@bücher.example', 3], // U-label ≡ A-label (RFC 5890)
  ['bob@xn--bcher-kva.example', 3],
  ['nobody@example.com', '550 5.1.1'],
  ['alice@example.net', '554 5.7.1'], // no relaying
];
for (const [mailbox, want] of cases) {
  test(`${mailbox} → ${want}`, () => {
    const decision = route(mailbox);
    if (typeof want === 'number') assert.deepEqual(decision, { ok: true, route: { kind: 'local', accountId: want } });
    else assert.equal(decision.ok ? 'ok' : `${decision.reply.code} ${decision.reply.enhanced}`, want);
  });
}

test('an asynchronous look-up gives a promise of the same decision', async () => {
  const slow = { findAccount: async (address: string) => lookup.findAccount(address) };
  const decision = routeRecipient(parseMailbox('alice@example.com') as Path, local, 'example.com', slow);
  assert.ok(decision instanceof Promise);
  assert.deepEqual(await decision, { ok: true, route: { kind: 'local', accountId: 1 } });
});
