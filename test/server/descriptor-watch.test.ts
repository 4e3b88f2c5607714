import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { DescriptorWatch } from '../../src/server/descriptor-watch.ts';
import { configDir, spawnServer } from '../support/child-server.ts';
import { waitFor } from '../support/wait.ts';

type Line = { level: 'info' | 'warn' | 'error'; fields: Record<string, unknown>; msg: string };

function recorder(): { logger: never; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (fields: Record<string, unknown>, msg: string) =>
    lines.push({ level, fields, msg });
  return { logger: { info: at('info'), warn: at('warn'), error: at('error') } as never, lines };
}

function errno(code: string): Error {
  return Object.assign(new Error(`${code}: too many open files`), { code });
}

test('a full descriptor table is one warning, a count once a minute, and one line when free again', () => {
  const { logger, lines } = recorder();
  let clock = 0;
  let full = false;
  const watch = new DescriptorWatch({
    logger,
    limit: () => 400,
    now: () => clock,
    probe: () => {
      if (full) throw errno('EMFILE');
    },
  });
  watch.start();
  watch.stop(); // the test calls check() itself, one call a second
  const tick = (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      clock += 1000;
      watch.check();
    }
  };
  tick(3);
  assert.equal(lines.length, 0, 'free descriptors: nothing to say');
  full = true;
  tick(1);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 'warn');
  assert.equal(
    lines[0]!.msg,
    'out of file descriptors: new connections are being dropped; raise LimitNOFILE= / ulimit -n, now 400',
  );
  tick(59);
  assert.equal(lines.length, 1, 'not a line a second');
  tick(1);
  assert.equal(lines.length, 2);
  assert.match(lines[1]!.msg, /^still out of file descriptors since .*: the table was full at 61 checks/);
  full = false;
  tick(2);
  full = true;
  tick(1); // a descriptor free now and then (a flood) is still the same outage
  full = false;
  tick(4);
  assert.equal(lines.length, 2, 'free for less than five checks in a row: not over');
  tick(1);
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!.level, 'info');
  assert.match(lines[2]!.msg, /^file descriptors free again after 68 s \(the table was full at 62 checks\)/);
  assert.equal(watch.out, false);
});

test('an accept error for want of descriptors joins the outage; another one is an error line, never a throw', () => {
  const { logger, lines } = recorder();
  const watch = new DescriptorWatch({ logger, limit: () => 64, probe: () => {} });
  watch.start();
  watch.stop();
  watch.acceptFailed(errno('ENFILE'), { port: 25 });
  assert.equal(lines.length, 1);
  assert.match(lines[0]!.msg, /^out of file descriptors: .*the system's file table is full/);
  assert.equal(lines[0]!.fields.syscall, 'accept');
  watch.acceptFailed(errno('ECONNABORTED'), { port: 25 });
  assert.equal(lines[1]!.level, 'error');
  assert.equal(lines[1]!.msg, 'accepting a connection failed');
  // Another failure of the probe (no /dev/null in a sandbox) says nothing about descriptors.
  const quiet = recorder();
  const sandboxed = new DescriptorWatch({
    logger: quiet.logger,
    limit: () => 64,
    probe: () => {
      throw errno('ENOENT');
    },
  });
  sandboxed.check();
  assert.equal(quiet.lines.length, 0);
});

/** Opens a connection; true when the server greets it, false when it is closed without a word. */
function connect(port: number, held: net.Socket[]): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    held.push(socket);
    socket.on('error', () => resolve(false));
    socket.once('data', () => resolve(true));
    socket.once('close', () => resolve(false));
    socket.setTimeout(5000, () => resolve(false));
  });
}

test('serve says when it runs out of descriptors and new connections are dropped, and when it has them again', async (t) => {
  if (!fs.existsSync('/proc/self/fd')) {
    t.skip('needs /proc'); // the probe's limit and the server's descriptors are read there; Linux CI has it
    return;
  }
  const d = configDir({
    listen: { smtp: '127.0.0.1:0', submission: null, submissions: null },
    limits: { maxConnectionsPerClient: 0 },
    smtp: { greetDelayMs: 0 },
  });
  t.after(() => d.cleanup());
  const limit = 160;
  const server = await spawnServer(d.file, { shell: `ulimit -n ${limit}` });
  t.after(() => server.stop());
  const held: net.Socket[] = [];
  t.after(() => {
    for (const socket of held) socket.destroy();
  });
  // libuv drops a connection only once the table is full: open them until one is closed unanswered.
  let dropped = false;
  while (!dropped && held.length < limit) dropped = !(await connect(server.port, held));
  assert.ok(dropped, `a connection is dropped within ${limit} (the limit)`);
  assert.ok(held.length > 10, `the server took ${held.length} connections before it dropped one`);
  const outOfDescriptors =
    /"level":40[^\n]*"msg":"out of file descriptors: new connections are being dropped; raise LimitNOFILE= \/ ulimit -n, now 160"/;
  await waitFor(() => outOfDescriptors.test(server.output()), 5000);
  for (const socket of held) socket.destroy();
  await waitFor(() => /"level":30[^\n]*"msg":"file descriptors free again after/.test(server.output()), 10_000);
  assert.equal(server.output().match(/out of file descriptors/g)?.length, 1, 'one line for the outage');
});
