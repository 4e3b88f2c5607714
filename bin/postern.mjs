// The `postern` entry point from a checkout (bin/postern, `npm start`, the tests and the benchmark).
// It is JavaScript on purpose: it turns on Node's compile cache before any TypeScript is loaded, so
// a start whose modules are all cached never loads the type stripper, whose WebAssembly memory
// would otherwise stay in a running server (about 30 MB per thread; docs/benchmarks.md).
//
// The cache holds the code Postern runs, and Node trusts what it finds there (a checksum, no owner
// check): in a directory another user can write, that user could plant code we would run. So it
// lives in <os tmpdir>/postern-compile-cache-<uid>, created 0700, and is used only while it is ours
// and closed to others; $NODE_COMPILE_CACHE, when set, is the admin's choice and is used as it is.
// A cache that cannot be had only costs the saving, never the start.
import { lstatSync, mkdirSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// First, before anything slow: SIGHUP (systemctl reload, logrotate) may come the moment systemd has
// started the server (Type=exec), and Node's default action would end it, a death Restart=on-failure
// does not restart. Until serve installs its own handler (src/cli/commands/serve.ts) the signal is
// ignored: what it asks for, reading the certificate files again, the start does anyway.
if (process.argv[2] === 'serve') process.on('SIGHUP', ignoreEarlyHangup);

const chosen = process.env.NODE_COMPILE_CACHE || privateCacheDirectory();
if (chosen) {
  const { directory } = enableCompileCache(chosen);
  // Worker threads (the SQLite writer) start with their own loader: the variable turns the cache on there too.
  if (directory && !process.env.NODE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = directory;
}
await import('../src/cli/main.ts');

/** Our own cache directory, or undefined when it is not safely ours (then no cache). */
function privateCacheDirectory() {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const directory = join(tmpdir(), `postern-compile-cache-${uid}`);
  try {
    mkdirSync(directory, { mode: 0o700 });
  } catch (err) {
    if (err.code !== 'EEXIST') return undefined;
  }
  try {
    const stat = lstatSync(directory); // lstat: a symbolic link planted in its place is not followed
    return stat.isDirectory() && stat.uid === uid && (stat.mode & 0o077) === 0 ? directory : undefined;
  } catch {
    return undefined;
  }
}

/** Stays installed: a SIGHUP while serve stops, after its handler is gone, must not end it by a signal either. */
function ignoreEarlyHangup() {}
