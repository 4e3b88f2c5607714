/**
 * A tmpfs of a few hundred KiB mounted in a mount namespace of its own, for what a full file system
 * does to Postern. A holder process (`sleep`) keeps the namespace; commands run in it through
 * nsenter, so the rest of the machine never sees the mount and it goes away with the holder. Needs
 * root (unshare -m); elsewhere `open` gives the reason to skip.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import type { TestContext } from 'node:test';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class SmallFileSystem {
  /** The mount point: an empty directory outside the namespace, the tmpfs inside it. */
  readonly dir: string;
  readonly #holder: ChildProcess;

  private constructor(dir: string, holder: ChildProcess) {
    this.dir = dir;
    this.#holder = holder;
  }

  /** A tmpfs of `kib` KiB on `dir` (made if missing); undefined, with the test skipped, where not root. */
  static async open(t: TestContext, dir: string, kib: number): Promise<SmallFileSystem | undefined> {
    if (process.getuid?.() !== 0) {
      t.skip('needs root: mounts a small tmpfs in a mount namespace of its own (unshare -m, nsenter)');
      return undefined;
    }
    try {
      execFileSync('unshare', ['-m', 'true'], { stdio: 'ignore' });
    } catch (error) {
      t.skip(`unshare -m is refused here (${(error as Error).message.split('\n')[0]})`);
      return undefined;
    }
    fs.mkdirSync(dir, { recursive: true });
    const script = 'mount -t tmpfs -o "size=$1k,mode=0755" tmpfs "$2" && exec sleep 600';
    const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', String(kib), dir], {
      stdio: 'ignore',
    });
    const system = new SmallFileSystem(dir, holder);
    t.after(() => system.close());
    // unshare and sh exec: the holder's pid is the namespace's. Mounted once its table lists the dir.
    const deadline = Date.now() + 10_000;
    while (!system.#mounted()) {
      if (holder.exitCode !== null || Date.now() > deadline) throw new Error(`could not mount a tmpfs on ${dir}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return system;
  }

  /** The prefix that runs a command inside the namespace. */
  get enter(): string[] {
    return ['nsenter', '-t', String(this.#holder.pid), '-m', '--'];
  }

  run(command: string, args: string[], stdin = ''): Promise<RunResult> {
    const [nsenter, ...prefix] = this.enter;
    return new Promise((resolve) => {
      const child = execFile(nsenter!, [...prefix, command, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
      });
      // A command that reads no input may be gone before the write: its EPIPE is no failure of ours.
      child.stdin?.on('error', () => {});
      child.stdin?.end(stdin);
    });
  }

  /** Writes a file that takes every block left; the file system is full after it. */
  async fill(name = 'filler'): Promise<void> {
    const result = await this.run('sh', [
      '-c',
      `dd if=/dev/zero of="$1" bs=4k 2>&1; true`,
      'sh',
      `${this.dir}/${name}`,
    ]);
    if (!/No space left on device/.test(result.stdout))
      throw new Error(`dd did not fill ${this.dir}: ${result.stdout}`);
  }

  async remove(name = 'filler'): Promise<void> {
    const result = await this.run('rm', ['-f', `${this.dir}/${name}`]);
    if (result.code !== 0) throw new Error(`rm in ${this.dir} failed: ${result.stderr}`);
  }

  close(): void {
    this.#holder.kill('SIGKILL');
  }

  #mounted(): boolean {
    try {
      return fs.readFileSync(`/proc/${this.#holder.pid}/mountinfo`, 'utf8').includes(` ${this.dir} `);
    } catch {
      return false;
    }
  }
}
