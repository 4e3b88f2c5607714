// A file the config names that is a FIFO (or a device): `check` and `serve` had both waited in open(2)
// for a writer for ever, serve deaf to SIGTERM. Both now stop at once, with the same line naming the key
// and the file.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { configDir, MAIN } from '../support/child-server.ts';
import { tempDir } from '../support/server.ts';

type Context = { after(fn: () => unknown): void };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * The CLI, killed after 10 s with SIGKILL: a process blocked in open(2) of a FIFO ignores SIGTERM
 * (the default of execFile's timeout), and the test would hang with it.
 */
function run(args: string[]): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { cwd: '/', timeout: 10_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

/** A config in a temp dir, and a FIFO no writer ever opens, which `extra(fifo)` places in it. */
function withFifo(t: Context, extra: (fifo: string) => Record<string, unknown>) {
  const fifoDir = tempDir('postern-fifo-');
  t.after(() => fs.rmSync(fifoDir, { recursive: true, force: true }));
  const fifo = path.join(fifoDir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const d = configDir(extra(fifo));
  t.after(() => d.cleanup());
  return { ...d, fifo };
}

/** check and serve stop with exit 1, each saying `line` (check as "error: …", serve as "postern: …"). */
async function bothRefuse(file: string, line: string): Promise<void> {
  const checked = await run(['check', '--config', file]);
  assert.equal(checked.code, 1, `check exit (after ${checked.ms} ms; null: killed, it hung): ${checked.stderr}`);
  assert.ok(
    checked.stdout.split('\n').includes(`error: ${line}`),
    `check says: ${line}\n---\n${checked.stdout}${checked.stderr}`,
  );
  const served = await run(['serve', '--config', file]);
  assert.equal(served.code, 1, `serve exit (after ${served.ms} ms; null: killed, it hung): ${served.stderr}`);
  assert.ok(served.stderr.split('\n').includes(`postern: ${line}`), `serve says: ${line}\n---\n${served.stderr}`);
}

test('an access map that is a FIFO stops check and serve at once, with the same line', async (t) => {
  const d = withFifo(t, (fifo) => ({ restrictions: { client: [`check_client_access ${fifo}`] } }));
  await bothRefuse(
    d.file,
    `restrictions.client[0]: check_client_access: cannot read ${d.fifo}: not a regular file (a FIFO)`,
  );
});

test('an access map given as file: that is a device is refused too', async (t) => {
  const d = configDir({ restrictions: { sender: [{ rule: 'check_sender_access', file: '/dev/null' }] } });
  t.after(() => d.cleanup());
  await bothRefuse(
    d.file,
    'restrictions.sender[0]: check_sender_access: cannot read /dev/null: not a regular file (a character device)',
  );
});

test('filter.headerChecks that is a FIFO stops check and serve at once, with the same line', async (t) => {
  const d = withFifo(t, (fifo) => ({ filter: { phishing: { enabled: false }, headerChecks: fifo } }));
  await bothRefuse(d.file, `filter.headerChecks: cannot read the rule file ${d.fifo}: not a regular file (a FIFO)`);
});

test('a tls.certificates file that is a FIFO stops check and serve at once, with the same line', async (t) => {
  const d = withFifo(t, (fifo) => ({ tls: { certificates: [{ cert: fifo, key: fifo }] } }));
  const checked = await run(['check', '--config', d.file]);
  assert.equal(checked.code, 1, `check exit (after ${checked.ms} ms; null: killed, it hung): ${checked.stderr}`);
  assert.match(checked.stdout, /^error: tls\.certificates: .*fifo: cannot read: not a regular file \(a FIFO\)$/m);
  const served = await run(['serve', '--config', d.file]);
  assert.equal(served.code, 1, `serve exit (after ${served.ms} ms; null: killed, it hung): ${served.stderr}`);
  assert.match(served.stderr, /^postern: tls\.certificates: .*fifo: cannot read: not a regular file \(a FIFO\)$/m);
});

test('a tls.acme.directoryCa that is a FIFO stops check and serve at once, with the same line', async (t) => {
  const d = withFifo(t, (fifo) => ({
    tls: {
      acme: {
        directory: 'https://127.0.0.1:9/directory',
        directoryCa: fifo,
        termsOfServiceAgreed: true,
        http01: { listen: '127.0.0.1:0' },
      },
    },
  }));
  const line = `tls.acme.directoryCa: cannot read ${d.fifo}: not a regular file (a FIFO)`;
  const checked = await run(['check', '--config', d.file]);
  assert.equal(checked.code, 1, `check exit (after ${checked.ms} ms; null: killed, it hung): ${checked.stderr}`);
  assert.ok(
    `${checked.stdout}${checked.stderr}`.includes(line),
    `check says: ${line}\n---\n${checked.stdout}${checked.stderr}`,
  );
  const served = await run(['serve', '--config', d.file]);
  assert.equal(served.code, 1, `serve exit (after ${served.ms} ms; null: killed, it hung): ${served.stderr}`);
  assert.ok(served.stderr.split('\n').includes(`postern: ${line}`), `serve says: ${line}\n---\n${served.stderr}`);
});
