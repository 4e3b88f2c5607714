/**
 * How to run this CLI in a command printed for the admin to copy and paste (quickstart's next steps).
 * The launcher, bin/postern, starts Node on bin/postern.mjs (a checkout) or dist/src/cli/main.js (an
 * installed package), so process.argv[1] names the package, not what was typed: the name is worked out
 * from where the package is.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface ProgramNameOptions {
  /** The script Node runs: process.argv[1]. */
  script?: string | undefined;
  cwd?: string;
  /** The PATH to look for `postern` in. */
  searchPath?: string | undefined;
}

/**
 * `postern` when that name on the PATH is this package's launcher (the package's bin, or the link
 * docs/deployment.md makes); else the launcher's path, `./bin/postern` from the checkout's root and
 * absolute elsewhere; `postern` when the package cannot be found.
 */
export function programName(options: ProgramNameOptions = {}): string {
  const { script = process.argv[1], cwd = process.cwd(), searchPath = process.env.PATH } = options;
  const launcher = script === undefined ? undefined : launcherOf(script);
  if (launcher === undefined) return 'postern';
  const real = realPath(launcher);
  for (const dir of real === undefined ? [] : (searchPath ?? '').split(path.delimiter)) {
    // An empty PATH entry is the current directory (POSIX), which `postern` typed alone never searches here.
    if (dir === '' || !path.isAbsolute(dir)) continue;
    if (realPath(path.join(dir, 'postern')) === real) return 'postern';
  }
  // `./`, so that the shell runs the file rather than look the name up on the PATH.
  const atRoot = path.resolve(cwd) === path.dirname(path.dirname(launcher));
  return shellWord(atRoot ? './bin/postern' : launcher);
}

/** bin/postern in the nearest directory above the script that holds it and a package.json. */
function launcherOf(script: string): string | undefined {
  let dir = path.dirname(path.resolve(script));
  for (;;) {
    const launcher = path.join(dir, 'bin', 'postern');
    if (fs.existsSync(launcher) && fs.existsSync(path.join(dir, 'package.json'))) return launcher;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function realPath(file: string): string | undefined {
  try {
    return fs.realpathSync(file);
  } catch {
    return undefined;
  }
}

/** A path as one shell word: quoted when it holds anything a POSIX shell would read otherwise. */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
