import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ratioText } from '../../bench/report.ts';

test('a ratio that two decimals would print as the wanted figure gets a third', () => {
  assert.equal(ratioText(6998 / 5274, 4000 / 3000), '1.327'); // "1.33×" beside "not met" read as a bug
  assert.equal(ratioText(1.3349, 4000 / 3000), '1.335');
  assert.equal(ratioText(4000 / 3000, 4000 / 3000), '1.33');
  assert.equal(ratioText(0.8, 0.5), '0.80');
  assert.equal(ratioText(0.501, 0.5), '0.501');
});
