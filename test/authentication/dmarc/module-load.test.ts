/**
 * checkDmarc and applyOverrides load no mailauth (nor its libmime, iconv-lite, joi: ~30 MB RSS), so ordinary
 * mail does not pay for it. Checked in a fresh process with a resolve hook that records every module.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

const child = `
import { registerHooks } from 'node:module';
const seen = [];
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
await import(${JSON.stringify(new URL('../../../src/authentication/dmarc/check-dmarc.ts', import.meta.url).href)});
await import(${JSON.stringify(new URL('../../../src/authentication/dmarc/overrides.ts', import.meta.url).href)});
if (process.argv[1] === 'control') await import('mailauth/lib/dmarc/index.js');
console.log(JSON.stringify(seen.filter((u) => /node_modules\\/(mailauth|libmime|iconv-lite|joi)\\//.test(u))));
`;

function heavyModules(mode: string): string[] {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', child, mode], {
    cwd: new URL('../../../', import.meta.url),
    encoding: 'utf8',
  });
  return JSON.parse(out) as string[];
}

test('the DMARC modules load no mailauth, libmime, iconv-lite or joi', () => {
  assert.ok(heavyModules('control').length > 0, 'the hook sees mailauth when it is loaded');
  assert.deepEqual(heavyModules('plain'), []);
});
