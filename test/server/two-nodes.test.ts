// Several Postern nodes on one PostgreSQL database (issue: PostgreSQL store): two `postern serve`
// processes on different ports take mail for the same accounts at once. Nothing is lost or stored
// twice, UIDs are never duplicated or reused, and UIDNEXT only ever grows. Then the durability rule
// on PostgreSQL: a node killed under load loses no message it acknowledged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import type { MailboxChange } from '../../src/store/store.ts';
import { addUser, configDir, spawnServer } from '../support/child-server.ts';
import { withTestDatabase } from '../support/postgres.ts';
import { type Load, loadUnderway, sender } from '../support/smtp-load.ts';
import { waitFor } from '../support/wait.ts';

const SESSIONS_PER_NODE = 6;
const MESSAGES_PER_SESSION = 25;

test('two nodes hammering one mailbox: no lost or duplicate messages, no reused UIDs, UIDNEXT only grows', (t) =>
  withTestDatabase(async ({ url }) => {
    const dir = configDir({ store: { engine: 'postgres', url, poolSize: 4 } });
    t.after(() => dir.cleanup());
    await addUser(dir.file, 'alice@example.com');
    await addUser(dir.file, 'bob@example.com');
    const nodes = await Promise.all([spawnServer(dir.file), spawnServer(dir.file)]);
    t.after(() => Promise.all(nodes.map((node) => node.stop('SIGKILL'))));
    assert.notEqual(nodes[0]!.port, nodes[1]!.port);

    // A third node watches: it reads UIDNEXT as the load runs and hears every change.
    const observer = await openPostgresStore({ url, poolSize: 2, applicationName: 'observer' });
    t.after(() => observer.close());
    const alice = (await observer.findAccount('alice@example.com'))!;
    const bob = (await observer.findAccount('bob@example.com'))!;
    const changes: MailboxChange[] = [];
    await observer.watchChanges((change) => changes.push(change));
    const uidNexts: number[] = [];
    let loading = true;
    const sampler = (async () => {
      while (loading) {
        uidNexts.push((await observer.getMailbox(alice.id, 'INBOX'))!.uidNext);
        await sleep(5);
      }
    })();

    // Every message goes to alice; every fourth to bob as well (one content, two mailboxes).
    const recipients = (n: number) => (n % 4 === 0 ? ['alice@example.com', 'bob@example.com'] : ['alice@example.com']);
    const load: Load = { acked: new Set(), attempted: 0 };
    let counter = 0;
    const options = { max: MESSAGES_PER_SESSION, recipients };
    await Promise.all(
      nodes.flatMap((node) =>
        Array.from({ length: SESSIONS_PER_NODE }, () => sender(node.port, () => ++counter, load, options)),
      ),
    );
    loading = false;
    await sampler;
    const total = 2 * SESSIONS_PER_NODE * MESSAGES_PER_SESSION;
    assert.equal(load.acked.size, total, 'every message was acknowledged');

    const aliceInbox = (await observer.getMailbox(alice.id, 'INBOX'))!;
    const aliceMessages = await observer.listMessages(aliceInbox.id);
    assert.deepEqual(
      aliceMessages.map((m) => m.uid),
      Array.from({ length: total }, (_, i) => i + 1),
      'UIDs 1..N, each once: none duplicated, none skipped',
    );
    assert.deepEqual(
      new Set(aliceMessages.map((m) => m.summary.subject)),
      new Set([...load.acked].map((n) => `msg-${n}`)),
    );
    assert.equal(aliceInbox.uidNext, total + 1);
    for (let i = 1; i < aliceMessages.length; i++) {
      assert.ok(aliceMessages[i]!.modSeq > aliceMessages[i - 1]!.modSeq, 'mod-sequences grow with UIDs');
    }
    const bobExpected = [...load.acked].filter((n) => n % 4 === 0).length;
    const bobMessages = await observer.listMessages((await observer.getMailbox(bob.id, 'INBOX'))!.id);
    assert.deepEqual(
      bobMessages.map((m) => m.uid),
      Array.from({ length: bobExpected }, (_, i) => i + 1),
    );

    assert.ok(uidNexts.length > 5, `UIDNEXT sampled ${uidNexts.length} times during the load`);
    for (let i = 1; i < uidNexts.length; i++) {
      assert.ok(uidNexts[i]! >= uidNexts[i - 1]!, `UIDNEXT went from ${uidNexts[i - 1]} down to ${uidNexts[i]}`);
    }
    assert.ok(new Set(uidNexts).size > 2, 'UIDNEXT was seen growing while both nodes delivered');

    // Both nodes took mail, and the observer heard every placement they committed.
    for (const node of nodes) assert.match(node.output(), /PostgreSQL postgres:\/\/postgres@127\.0\.0\.1/);
    const added = (mailboxId: number) =>
      changes.filter((c) => c.kind === 'message-added' && c.mailboxId === mailboxId).length;
    await waitFor(() => added(aliceInbox.id) >= total, 3000);
    assert.equal(added(aliceInbox.id), total);
    for (const node of nodes) assert.equal(await node.stop('SIGTERM'), 0, 'a clean shutdown');
  }));

test('postgres: SIGKILL a node under load: every acknowledged message is stored, none twice', (t) =>
  withTestDatabase(async ({ url }) => {
    const dir = configDir({ store: { engine: 'postgres', url, poolSize: 4 } });
    t.after(() => dir.cleanup());
    await addUser(dir.file, 'alice@example.com');
    const node = await spawnServer(dir.file);
    t.after(() => node.stop('SIGKILL'));
    const load: Load = { acked: new Set(), attempted: 0 };
    let counter = 0;
    const options = { max: 2000, recipients: () => ['alice@example.com'], mayBreak: true };
    const senders = Array.from({ length: 10 }, () => sender(node.port, () => ++counter, load, options));
    await loadUnderway(load, 10, 400);
    assert.equal(await node.stop('SIGKILL'), null, 'killed by the signal');
    await Promise.all(senders);
    t.diagnostic(`${load.acked.size} acknowledged of ${load.attempted} attempted before SIGKILL`);
    assert.ok(load.acked.size >= 10, `enough load to mean something (${load.acked.size} acknowledged)`);

    const store = await openPostgresStore({ url, poolSize: 2 });
    try {
      const alice = (await store.findAccount('alice@example.com'))!;
      const subjects = (await store.listMessages((await store.getMailbox(alice.id, 'INBOX'))!.id)).map(
        (m) => m.summary.subject,
      );
      assert.equal(new Set(subjects).size, subjects.length, 'no message stored twice');
      const missing = [...load.acked].filter((n) => !subjects.includes(`msg-${n}`));
      assert.deepEqual(missing, [], 'every acknowledged message is stored');
      assert.ok(subjects.length <= load.attempted, 'nothing stored that was never sent');
    } finally {
      await store.close();
    }
  }));
