// store.poolSize in a SQLite config was "unknown key "poolSize" under store: check the spelling…": it is
// spelled right, and documented as PostgreSQL only. It is now said as store.url already was.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.ts';
import { configDir, postern } from '../support/child-server.ts';

function problems(store: unknown): string[] {
  try {
    parseConfig({ hostname: 'mx.example.com', domains: ['example.com'], store }, 'test');
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

test('store.poolSize under the SQLite store is named as PostgreSQL only, not as a misspelling', () => {
  for (const store of [{ poolSize: 5 }, { engine: 'sqlite', poolSize: 5 }]) {
    assert.deepEqual(
      problems(store),
      ['store.poolSize applies to store.engine: postgres only; the SQLite store is the file dataDir/postern.sqlite'],
      JSON.stringify(store),
    );
  }
  // Both PostgreSQL keys at once, and a real misspelling beside one: each said for what it is.
  assert.deepEqual(problems({ engine: 'sqlite', url: 'postgres://postern@db.example.com/postern', poolSize: 5 }), [
    'store.url and store.poolSize apply to store.engine: postgres only; the SQLite store is the file dataDir/postern.sqlite',
  ]);
  const [mixed] = problems({ engine: 'sqlite', poolSize: 5, enigne: 'postgres' });
  assert.match(mixed ?? '', /^store\.poolSize applies to store\.engine: postgres only; /);
  assert.match(mixed ?? '', /unknown key "enigne" under store: check the spelling/);
  assert.doesNotMatch(mixed ?? '', /"poolSize"/);
  // Unchanged: store.url alone, and poolSize where PostgreSQL takes it.
  assert.deepEqual(problems({ url: 'postgres://postern@db.example.com/postern' }), [
    'store.url applies to store.engine: postgres only; the SQLite store is the file dataDir/postern.sqlite',
  ]);
  assert.deepEqual(problems({ engine: 'postgres', url: 'postgres://postern@db.example.com/postern', poolSize: 5 }), []);
});

test('postern check says it too', async (t) => {
  const dir = configDir({ store: { engine: 'sqlite', poolSize: 20 } });
  t.after(() => dir.cleanup());
  const result = await postern(['check', '--config', dir.file]);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /^error: store\.poolSize applies to store\.engine: postgres only;/m);
  assert.doesNotMatch(result.stdout, /check the spelling/);
});
