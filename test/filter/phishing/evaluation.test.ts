// The phishing detector's quality targets (issue 8), on every labelled message: our RU/EN phishing and
// hard-ham corpus (test/corpus) and the SpamAssassin ham. `npm run eval:phishing` prints the details.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluate, loadSamples, scoreSamples } from '../../../bench/phishing-eval.ts';

test('recall ≥ 90 % on phishing and false positives ≤ 0.5 % on ham, every category reported', async () => {
  const scored = await scoreSamples(await loadSamples());
  const e = evaluate(scored);
  const pct = (r: number) => `${(r * 100).toFixed(2)} %`;
  const lines = [
    `recall ${pct(e.recall.rate)} (${e.recall.flagged}/${e.recall.total})`,
    ...[...e.recallBy].map(([k, r]) => `  ${k}: ${r.flagged}/${r.total}`),
    `false positives ${pct(e.falsePositives.rate)} (${e.falsePositives.flagged}/${e.falsePositives.total})`,
    ...[...e.falsePositivesBy].filter(([, r]) => r.flagged > 0).map(([k, r]) => `  ${k}: ${r.flagged}/${r.total}`),
  ];
  process.stdout.write(`# phishing evaluation:\n${lines.map((l) => `#   ${l}`).join('\n')}\n`);
  assert.ok(e.recall.total >= 126 && e.falsePositives.total >= 4200, 'the whole corpus was scanned');
  assert.equal(e.recallBy.size, 14, 'seven masks in two languages');
  assert.ok(e.recall.rate >= 0.9, `recall ${pct(e.recall.rate)}`);
  assert.ok(e.falsePositives.rate <= 0.005, `false positives ${pct(e.falsePositives.rate)}`);
});
