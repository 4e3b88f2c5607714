/** Structured logs (pino). One child logger per connection carries its session id. */
import { type Logger, pino } from 'pino';
import { textLine } from './text-lines.ts';

export type { Logger };

const SECRETS = ['password', 'passwordHash', 'scram', 'privateKey'];
const HOLDERS = ['err', 'error', 'key', 'account', 'request', 'options', 'config', 'credentials'];

export type LogFormat = 'auto' | 'json' | 'text';

/**
 * `format` applies to standard output: `auto` writes text lines to a terminal (a person running
 * `npm start`) and JSON anywhere else (the journal, a file, a pipe: programs read those).
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format: LogFormat = 'json'): Logger {
  return pino(
    {
      level,
      base: { service: 'postern' },
      // Secrets never reach a log line: at the top and in the objects callers pass (an error, a key,
      // an account, a request). Named paths, not `*.password`: fast-redact's wildcard walked every
      // field of every line, 11 µs against 2.4 µs for a stored message's line (measured in-process),
      // paid per message at the default level.
      redact: {
        paths: SECRETS.flatMap((secret) => [secret, ...HOLDERS.map((holder) => `${holder}.${secret}`)]),
        censor: '[redacted]',
      },
    },
    destination ?? standardOutput(format === 'text' || (format === 'auto' && process.stdout.isTTY === true)),
  );
}

/**
 * Standard output through sonic-boom, asynchronous. sonic-boom's final flush (at exit) retries a
 * failed write forever unless it is EAGAIN, and the server would then neither serve nor stop, holding
 * its ports and its lock: while writes fail, that flush drops what is pending instead. A descriptor
 * that is gone for good (a terminal that hung up: EIO; a reader gone: EPIPE) stops the logging; any
 * other failure (a full disk under a redirected log) is retried with the next line, as sonic-boom does.
 * Losing log lines must never stop the mail.
 */
function standardOutput(text: boolean): pino.DestinationStream {
  const out = pino.destination({ dest: 1, sync: false });
  const pending = out as unknown as { _bufs: unknown[]; _len: number; _writingBuf: string };
  const drop = () => {
    pending._bufs = [];
    pending._len = 0;
    pending._writingBuf = '';
  };
  let failing = false;
  out.on('write', () => {
    failing = false;
  });
  out.on('error', (error: NodeJS.ErrnoException) => {
    failing = true;
    if (error.code !== 'EIO' && error.code !== 'EPIPE' && error.code !== 'EBADF') return;
    drop();
    Object.assign(out, {
      write: () => true,
      flush: (done?: (error?: Error) => void) => done?.(),
      flushSync: () => {},
    });
  });
  const flushSync = out.flushSync.bind(out);
  out.flushSync = () => (failing ? drop() : flushSync());
  if (!text) return out;
  const colour = process.stdout.isTTY === true && !process.env.NO_COLOR; // https://no-color.org
  // Looked up at each call: the error handler above replaces the stream's methods.
  return {
    write: (line: string) => out.write(textLine(line, { colour })),
    flush: (done?: (error?: Error) => void) => out.flush(done),
    flushSync: () => out.flushSync(),
    end: () => out.end(),
  } as unknown as pino.DestinationStream;
}
