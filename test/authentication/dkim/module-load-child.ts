/**
 * Child process of module-load.test.ts (a fresh process, so no other test's imports are counted): imports
 * verify-dkim.ts, verifies the messages read from stdin one after the other, and writes to stdout, per
 * message, its results and the files under node_modules/ loaded so far. Every load goes through a
 * synchronous module hook (Node ≥ 22.15), which sees `import` and `require` alike (not require.resolve, which
 * loads nothing); require.cache is read too.
 */

import { createRequire, registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { DnsAnswer, Resolver } from '../../../src/dns/resolver.ts';

const loaded = new Set<string>();
registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith('file:')) loaded.add(fileURLToPath(url));
    return nextLoad(url, context);
  },
});

const require = createRequire(import.meta.url);
/** Every file loaded from node_modules (mailauth's own and the heavy ones its tools.js requires included). */
const nodeModuleFiles = () =>
  [...new Set([...loaded, ...Object.keys(require.cache)])]
    .filter((file) => file.split(/[\\/]/).join('/').includes('/node_modules/'))
    .sort();

interface Input {
  /** Selector → TXT record at `<selector>._domainkey.example.com`. */
  keys: Record<string, string>;
  now: string;
  messages: { name: string; text: string }[];
}

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Input;

const { verifyDkim } = await import('../../../src/authentication/dkim/verify-dkim.ts');
const nodata = async (): Promise<DnsAnswer<never>> => ({ ok: false, error: 'nodata' });
const resolver: Resolver = {
  a: nodata,
  aaaa: nodata,
  mx: nodata,
  ptr: nodata,
  cname: nodata,
  tlsa: nodata,
  async txt(name: string): Promise<DnsAnswer<string>> {
    const selector = /^([^.]+)\._domainkey\.example\.com$/i.exec(name)?.[1];
    const record = selector === undefined ? undefined : input.keys[selector];
    return record === undefined
      ? ({ ok: false, error: 'nxdomain' } as const)
      : ({ ok: true, records: [record] } as const);
  },
};

const report = [{ name: 'import', results: [] as string[], modules: nodeModuleFiles() }];
for (const message of input.messages) {
  const verification = await verifyDkim(Buffer.from(message.text), { resolver, now: new Date(input.now) });
  report.push({
    name: message.name,
    results: verification.signatures.map((s) => s.result),
    modules: nodeModuleFiles(),
  });
}
process.stdout.write(JSON.stringify(report));
