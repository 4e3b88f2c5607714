/**
 * A private Postfix instance (Debian `postfix`, ≥ 3.4 for postlogd's maillog_file) as a sending MTA, for
 * interop tests: its own config, queue and data directories in a temp dir, no smtpd (mail is injected
 * with its sendmail), and every message relayed to one loopback port. The system instance, /etc/postfix
 * and port 25 are left alone: `postfix -c DIR` reads only DIR's main.cf and master.cf (and the
 * package's read-only postfix-files for `check`).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const POSTFIX = '/usr/sbin/postfix';
export const SENDMAIL = '/usr/sbin/sendmail';
const POSTDROP = '/usr/sbin/postdrop';

/** Why a private Postfix cannot run here, or undefined when it can. */
export function postfixUnavailable(): string | undefined {
  const absent = [POSTFIX, SENDMAIL, POSTDROP].filter((file) => !existsSync(file));
  if (absent.length > 0) return `not installed: ${absent.join(', ')} (apt-get install postfix; .ci/run does)`;
  // master(8) runs as root and its daemons as mail_owner; a non-root `postfix start` is refused.
  if (process.getuid?.() !== 0) return 'needs root: postfix start runs master(8) as root (.ci/run runs as root)';
  return undefined;
}

export interface RunningPostfix {
  /** The temp dir: etc/ (config_directory), queue/, data/ and the maillog file. */
  dir: string;
  configDir: string;
  /** Postfix's log so far (maillog_file, written by postlogd). */
  log(): string;
  /**
   * Injects the message with `sendmail -i` (a lone "." line is content, not the end). LF line ends:
   * sendmail(1) reads lines, and the SMTP client sends them with CRLF.
   */
  send(from: string, recipients: string[], message: string | Buffer, options?: string[]): Promise<void>;
  /**
   * Waits for the message with this Message-ID to leave the queue ("QID: removed") and returns its
   * queue id and its log lines. Throws at once on a `status=deferred` line (the tests relay to a server
   * that is up: a deferral is a failure, and the retry would only hide it), and after `ms`.
   */
  delivered(messageId: string, ms?: number): Promise<{ queueId: string; lines: string[] }>;
  /** `postfix stop`, the master waited for (killed by its pid if it lingers), the temp dir removed. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the instance; `extraMain` lines go to the end of main.cf (later lines win). */
export async function startPostfix(options: { relayPort: number; extraMain?: string[] }): Promise<RunningPostfix> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-postfix-'));
  // The daemons run as the postfix user: they must reach queue/ and data/ under this root-owned dir.
  await chmod(dir, 0o755);
  const configDir = path.join(dir, 'etc');
  const logFile = path.join(dir, 'maillog');
  await mkdir(configDir);
  await mkdir(path.join(dir, 'queue'), { mode: 0o755 }); // `postfix start` must chdir() into it
  await writeFile(
    path.join(configDir, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${path.join(dir, 'queue')}`,
      `data_directory = ${path.join(dir, 'data')}`,
      // postlogd (Postfix ≥ 3.4): the log in a file the test reads, not syslog.
      `maillog_file = ${logFile}`,
      `maillog_file_prefixes = ${dir}`,
      'syslog_name = postfix-postern-test',
      'myhostname = postfix.example.net',
      'mydomain = example.net',
      'myorigin = $myhostname',
      'mydestination =',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'alias_maps =',
      'alias_database =',
      'biff = no',
      `relayhost = [127.0.0.1]:${options.relayPort}`,
      // Bounces go to the test senders (example.net): dropped here, not relayed to a server that refuses them.
      'transport_maps = inline:{ example.net=discard: }',
      'smtp_tls_security_level = may',
      'smtp_tls_loglevel = 1',
      'smtputf8_enable = yes',
      // Short timers: a deferral must not wait minutes for its retry, nor a stopped relay for a timeout.
      'queue_run_delay = 1s',
      'minimal_backoff_time = 1s',
      'maximal_backoff_time = 2s',
      'smtp_connect_timeout = 5s',
      'smtp_helo_timeout = 10s',
      'delay_warning_time = 0',
      ...(options.extraMain ?? []),
      '',
    ].join('\n'),
  );
  // No smtpd: nothing listens. chroot off (the temp dir holds no /etc copies); the services the
  // pickup → cleanup → qmgr → smtp path and its bounces need, and postlogd.
  await writeFile(
    path.join(configDir, 'master.cf'),
    [
      'pickup    unix  n       -       n       60      1       pickup',
      'cleanup   unix  n       -       n       -       0       cleanup',
      'qmgr      unix  n       -       n       300     1       qmgr',
      'tlsmgr    unix  -       -       n       1000?   1       tlsmgr',
      'rewrite   unix  -       -       n       -       -       trivial-rewrite',
      'bounce    unix  -       -       n       -       0       bounce',
      'defer     unix  -       -       n       -       0       bounce',
      'trace     unix  -       -       n       -       0       bounce',
      'verify    unix  -       -       n       -       1       verify',
      'flush     unix  n       -       n       1000?   0       flush',
      'proxymap  unix  -       -       n       -       -       proxymap',
      'smtp      unix  -       -       n       -       -       smtp',
      'relay     unix  -       -       n       -       -       smtp',
      'showq     unix  n       -       n       -       -       showq',
      'error     unix  -       -       n       -       -       error',
      'retry     unix  -       -       n       -       -       error',
      'discard   unix  -       -       n       -       -       discard',
      'anvil     unix  -       -       n       -       1       anvil',
      'scache    unix  -       -       n       -       1       scache',
      'postlog   unix-dgram n  -       n       -       1       postlogd',
      '',
    ].join('\n'),
  );
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const postfix = async (...args: string[]) => {
    try {
      await run(POSTFIX, ['-c', configDir, ...args], { timeout: 30_000 });
    } catch (err) {
      const e = err as { code?: number; stderr?: string };
      throw new Error(`postfix ${args.join(' ')} failed (${e.code}): ${e.stderr ?? ''}\n${log()}`);
    }
  };
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      const master = masterPid(dir);
      try {
        if (master !== undefined) await postfix('stop');
      } catch {
        // killed below
      }
      if (master !== undefined) {
        const deadline = Date.now() + 10_000;
        while (alive(master) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        if (alive(master)) process.kill(master, 'SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  try {
    // postfix-script's start runs the checks, which create queue/'s subdirectories and data/ with
    // their owners and modes (post-install create-missing): a separate `postfix check` would add seconds.
    await postfix('start');
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    dir,
    configDir,
    log,
    async send(from, recipients, message, extra = []) {
      await new Promise<void>((resolve, reject) => {
        const child = execFile(
          SENDMAIL,
          ['-C', configDir, '-i', ...extra, '-f', from, '--', ...recipients],
          { timeout: 20_000 },
          (err, _stdout, stderr) =>
            err ? reject(new Error(`sendmail failed: ${err.message} ${stderr}\n${log()}`)) : resolve(),
        );
        child.stdin?.end(message);
      });
    },
    async delivered(messageId, ms = 20_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const lines = log().split('\n');
        const queueId = lines
          .map((line) => / ([0-9A-F]{6,}): message-id=<([^>]*)>$/.exec(line))
          .find((m) => m?.[2] === messageId)?.[1];
        if (queueId !== undefined) {
          const own = lines.filter((line) => line.includes(` ${queueId}: `));
          const deferred = own.find((line) => line.includes('status=deferred'));
          if (deferred) throw new Error(`deferred: ${deferred}\n${log()}`);
          if (own.some((line) => line.endsWith(`${queueId}: removed`))) return { queueId, lines: own };
        }
        if (Date.now() > deadline) {
          throw new Error(`Postfix did not finish <${messageId}> within ${ms} ms (queue id ${queueId}):\n${log()}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop,
  };
}

function masterPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dir, 'queue/pid/master.pid'), 'latin1').trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Running: a zombie (master is reparented to init, which may reap it late) counts as gone. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}
