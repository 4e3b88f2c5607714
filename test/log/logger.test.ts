import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/log/logger.ts';

test('secrets never reach a log line: passwords, SCRAM credentials, private keys', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger('info', sink);
  logger.info(
    {
      password: 'p4ss',
      scram: 'salt',
      privateKey: '-----BEGIN PRIVATE KEY-----',
      key: { privateKey: 'x', selector: 's1' },
      err: { message: 'login failed', password: 'from-an-error' },
    },
    'secrets',
  );
  await new Promise((resolve) => setImmediate(resolve));
  const text = lines.join('');
  assert.doesNotMatch(text, /p4ss|salt|BEGIN PRIVATE KEY|"privateKey":"x"|from-an-error/);
  assert.match(text, /"selector":"s1"/);
  assert.match(text, /"message":"login failed"/);
  assert.equal(text.match(/\[redacted\]/g)?.length, 5);
});
