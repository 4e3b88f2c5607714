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
        paths: [
          ...SECRETS.flatMap((secret) => [secret, ...HOLDERS.map((holder) => `${holder}.${secret}`)]),
          // node-postgres errors carry their Client: its connection parameters and the backend's
          // cancel key (whoever has it may cancel that connection's queries).
          'err.client',
          'error.client',
        ],
        censor: '[redacted]',
      },
      formatters: { log: boundedFields },
      // The message text too: a refusal's line is its reply, which may quote a sender's SPF explanation.
      hooks: {
        logMethod(args, method) {
          const last = args.length - 1;
          if (typeof args[last] === 'string') args[last] = boundedString(args[last]);
          return method.apply(this, args);
        },
      },
    },
    destination ?? standardOutput(format === 'text' || (format === 'auto' && process.stdout.isTTY === true)),
  );
}

/** A logged value longer than this is cut: senders write much of what a line quotes. */
const MAX_LOGGED_STRING = 2048;

/**
 * Every string field of a line, and each string in an array field, at most MAX_LOGGED_STRING
 * characters. Reply texts, DNS explanations (SPF exp=, RFC 7208 §6.2), milter replies and matched
 * header text come from senders: a 60 KB SPF explanation made a 60 KB line on every MAIL FROM. The
 * client is told at most 512 octets (RFC 5321 §4.5.3.1.5); the log says as much and how much more.
 */
function boundedFields(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in fields) {
    const value = fields[key];
    const bounded =
      typeof value === 'string'
        ? boundedString(value)
        : Array.isArray(value) && value.some((item) => typeof item === 'string' && item.length > MAX_LOGGED_STRING)
          ? value.map((item) => (typeof item === 'string' ? boundedString(item) : item))
          : value;
    if (bounded === value) continue;
    out ??= { ...fields };
    out[key] = bounded;
  }
  return out ?? fields;
}

function boundedString(text: string): string {
  if (text.length <= MAX_LOGGED_STRING) return text;
  return `${text.slice(0, MAX_LOGGED_STRING)}… (${text.length - MAX_LOGGED_STRING} more characters)`;
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
