// readRuleFile on real files: a rule file must be UTF-8. UTF-16 (Notepad's "Unicode") or other bytes
// once failed as "file:1: empty pattern"; a UTF-8 byte order mark is skipped.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ContentRuleError, readRuleFile } from '../../../src/filter/content-rules/index.ts';

const RULES = '/^Subject:.*viagra/ REJECT spam\n/^X-Bulk:/ DISCARD\n';

async function ruleFile(t: { after: (fn: () => Promise<void>) => void }, bytes: Buffer): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'postern-rules-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'header_checks');
  await writeFile(file, bytes);
  return file;
}

function utf16(text: string, order: 'le' | 'be'): Buffer {
  const le = Buffer.from(`\ufeff${text}`, 'utf16le');
  return order === 'le' ? le : Buffer.from(le).swap16();
}

for (const [order, mark] of [
  ['le', 'FF FE'],
  ['be', 'FE FF'],
] as const) {
  test(`a UTF-16 ${order.toUpperCase()} rule file: not UTF-8 text, looks like UTF-16 (${mark}), naming the file`, async (t) => {
    const file = await ruleFile(t, utf16(RULES, order));
    await assert.rejects(readRuleFile(file), (err) => {
      assert.ok(err instanceof ContentRuleError);
      assert.equal(err.file, file);
      assert.equal(err.line, 1);
      assert.match(err.message, new RegExp(`^${file}:1: not UTF-8 text: .*${mark}.*UTF-16`));
      assert.doesNotMatch(err.message, /empty pattern/);
      return true;
    });
  });
}

test('invalid UTF-8 in a rule file: not UTF-8 text, on the line where it is', async (t) => {
  const file = await ruleFile(
    t,
    Buffer.concat([Buffer.from(RULES), Buffer.from('/^Subject: caf\xe9/ REJECT\n', 'latin1')]),
  );
  await assert.rejects(readRuleFile(file), (err) => {
    assert.ok(err instanceof ContentRuleError);
    assert.equal(err.line, 3);
    assert.match(err.message, new RegExp(`^${file}:3: not UTF-8 text`));
    return true;
  });
});

test('a UTF-8 byte order mark (EF BB BF) is skipped; UTF-8 text loads', async (t) => {
  const file = await ruleFile(
    t,
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${RULES}/café/ WARN é\n`)]),
  );
  const table = await readRuleFile(file);
  assert.deepEqual(
    table.entries.map((e) => [e.kind, e.line]),
    [
      ['rule', 1],
      ['rule', 2],
      ['rule', 3],
    ],
  );
});
