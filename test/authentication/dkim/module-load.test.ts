/**
 * Ordinary mail loads nothing of mailauth: verifying an unsigned message and DKIM-signed ones (RFC 6376,
 * RFC 8463) without ARC fields loads no file from node_modules/ (not mailauth, not the libmime, iconv-lite,
 * encoding-japanese and joi its lib/tools.js requires) but nodemailer's address parser
 * (verify-dkim.ts reads From with mailauth's copy of it, a single small file). A message with an ARC field
 * (RFC 8617 §4.1) then loads mailauth's verifier for the chain, which shows the probe sees the loads.
 * Run in a child process (module-load-child.ts), so the imports of other tests here do not count.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';

const NOW = new Date('2025-03-01T12:00:00Z');
const MESSAGE = [
  'From: Joe SixPack <joe@example.com>',
  'To: Suzie Q <suzie@example.net>',
  'Subject: Is dinner ready?',
  'Date: Sat, 01 Mar 2025 12:00:00 +0000',
  'Message-ID: <20250301120000.1@example.com>',
  '',
  'Hi.',
  '',
].join('\r\n');
/** The one file of mailauth's directory verify-dkim.ts loads for every message (where nodemailer keeps it). */
const ADDRESSPARSER = /^node_modules\/mailauth\/node_modules\/nodemailer\/(?:[\w-]+\/)*addressparser(?:\/index)?\.js$/;

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' }).toString('base64');

async function sign(selector: string, key: KeyObject, algorithm: string): Promise<string> {
  const data = {
    signingDomain: 'example.com',
    selector,
    privateKey: pem(key),
    algorithm,
    canonicalization: 'relaxed/simple',
  };
  const { signatures, errors } = await dkimSign(MESSAGE, {
    ...data,
    signTime: new Date(NOW.getTime() - 60_000),
    signatureData: [data],
  });
  assert.deepEqual(errors, []);
  return signatures + MESSAGE;
}

interface Step {
  name: string;
  results: string[];
  modules: string[];
}

async function runChild(input: unknown): Promise<Step[]> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'module-load-child.ts')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.end(JSON.stringify(input));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout) as Step[];
}

const relative = (files: string[]) => files.map((f) => path.relative(process.cwd(), f).split(path.sep).join('/'));

test('verifying mail without ARC fields loads no mailauth module; an ARC field loads its verifier', async () => {
  const steps = await runChild({
    now: NOW.toISOString(),
    keys: { rsa: `v=DKIM1; k=rsa; p=${spki(rsa.publicKey)}`, ed: `v=DKIM1; k=ed25519; p=${spki(ed.publicKey)}` },
    messages: [
      { name: 'unsigned', text: MESSAGE },
      { name: 'rsa-sha256', text: await sign('rsa', rsa.privateKey, 'rsa-sha256') },
      { name: 'ed25519-sha256', text: await sign('ed', ed.privateKey, 'ed25519-sha256') },
      { name: 'unknown key', text: await sign('gone', rsa.privateKey, 'rsa-sha256') },
      { name: 'arc', text: `ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.com; s=rsa; b=AAAA\r\n${MESSAGE}` },
    ],
  });
  assert.deepEqual(
    steps.map((s) => [s.name, s.results]),
    [
      ['import', []],
      ['unsigned', []],
      ['rsa-sha256', ['pass']],
      ['ed25519-sha256', ['pass']],
      ['unknown key', ['permerror']],
      ['arc', []],
    ],
  );
  for (const step of steps.slice(0, -1)) {
    const files = relative(step.modules);
    assert.equal(files.length, 1, `after ${step.name}: ${files.join(', ')}`);
    assert.match(files[0] ?? '', ADDRESSPARSER, `after ${step.name}`);
  }
  const arc = relative(steps.at(-1)?.modules ?? []);
  assert.ok(arc.includes('node_modules/mailauth/lib/dkim/verify.js'), arc.join('\n'));
  assert.ok(arc.includes('node_modules/mailauth/lib/tools.js'), arc.join('\n'));
  assert.ok(
    // mailauth's own libmime: hoisted, or nested under mailauth when ours (src/mime) is another version.
    arc.some((file) => /^node_modules\/(mailauth\/node_modules\/)?libmime\//.test(file)),
    arc.join('\n'),
  );
});
