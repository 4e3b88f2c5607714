// docs/scaling.md, "Restoring a backup": the SQL it gives to run after a PostgreSQL restore, taken
// from the page as written and run on a database restored to an earlier state, gives every mailbox
// a UIDVALIDITY above all the lost database gave out and moves quarantine ids past its own.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { test } from 'node:test';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { createTestDatabase, queryPostgres as query, testPostgresServerUrl } from '../support/postgres.ts';
import { sampleDelivery } from './contract.ts';
import { quarantinedMessage } from './quarantine-contract.ts';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

/** The one ```sql block of the "Restoring a backup" section. */
function documentedRenewal(): string {
  const page = fs.readFileSync(new URL('../../docs/scaling.md', import.meta.url), 'utf8');
  const section = page.split(/^## /m).find((part) => part.startsWith('Restoring a backup'));
  assert.ok(section, 'docs/scaling.md has a "Restoring a backup" section');
  const blocks = [...section.matchAll(/^```sql\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
  assert.equal(blocks.length, 1, 'one SQL block to run');
  return blocks[0]!;
}

async function withAdmin<T>(work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: testPostgresServerUrl() });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

const uidValidities = async (url: string) =>
  (await query(url, 'SELECT uid_validity FROM mailboxes ORDER BY id')).map((row) => Number(row.uid_validity));

test('the SQL docs/scaling.md gives for after a restore renews every UIDVALIDITY and moves quarantine ids past the lost ones', async () => {
  const lost = await createTestDatabase();
  const restoredName = `postern_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const restoredUrl = new URL(lost.url);
  restoredUrl.pathname = `/${restoredName}`;
  const restored = restoredUrl.toString();
  try {
    let store = await openPostgresStore({ url: lost.url });
    const alice = await store.createAccount('alice@example.com', PHC);
    await store.deliver(sampleDelivery([alice], 'before the dump'));
    for (let i = 0; i < 3; i++) await store.quarantine(quarantinedMessage(`held ${i}`));
    await store.close();
    // The dump: a copy of the database as it is now (what pg_dump and pg_restore would give back).
    await withAdmin((admin) => admin.query(`CREATE DATABASE ${restoredName} TEMPLATE ${lost.name}`));

    // Since the dump, the lost database gave out more: mailboxes (their UIDVALIDITY from the counter,
    // in the same second as the dump's), UIDs, and quarantine ids, the newest released since.
    store = await openPostgresStore({ url: lost.url });
    const bob = await store.createAccount('bob@example.com', PHC);
    await store.deliver(sampleDelivery([alice, bob], 'after the dump'));
    const ids: number[] = [];
    for (let i = 0; i < 2; i++) ids.push((await store.quarantine(quarantinedMessage(`later ${i}`))).id);
    assert.equal(await store.removeQuarantined(ids[1]!), true);
    await store.close();
    const given = await uidValidities(lost.url);
    const highestGiven = Math.max(...given);
    await lost.drop();

    const before = await uidValidities(restored);
    assert.ok(
      before.every((value) => given.includes(value)),
      'the restored mailboxes have UIDVALIDITY values clients already know',
    );
    await query(restored, documentedRenewal());

    const after = await uidValidities(restored);
    assert.equal(after.length, before.length);
    assert.equal(new Set(after).size, after.length, 'each mailbox its own');
    assert.ok(Math.min(...after) > highestGiven, `renewed ${after} above every value given out (${given})`);
    const [counter] = await query(restored, "SELECT value FROM counters WHERE name = 'uid_validity'");
    assert.equal(Number(counter?.value), Math.max(...after), 'the counter goes on from the renewed values');

    store = await openPostgresStore({ url: restored });
    try {
      const carol = await store.createAccount('carol@example.com', PHC);
      const inbox = await store.getMailbox(carol.id, 'INBOX');
      assert.ok(inbox!.uidValidity > Math.max(...after), 'a mailbox made afterwards is above them too');
      const next = await store.quarantine(quarantinedMessage('after the restore'));
      assert.ok(next.id > Math.max(...ids), `quarantine id ${next.id} is not one given before (${ids})`);
    } finally {
      await store.close();
    }
  } finally {
    await lost.drop();
    await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${restoredName} WITH (FORCE)`));
  }
});
