/** Structured logs (pino). One child logger per connection carries its session id. */
import { type Logger, pino } from 'pino';
import { escapeUnsafe, textLine } from './text-lines.ts';

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
      // A child's bindings are not seen by a formatter (pino resets it for children): ours alone
      // (session, client address, listener, stage), never a client's text.
      formatters: { log: safeFields },
      serializers: {
        err: safeError,
        // The message text too, whichever way it came (a string, an error's message): a refusal's line
        // is its reply, which may quote a sender's SPF explanation or a client's bytes.
        msg: (msg: unknown) => (typeof msg === 'string' ? safeString(msg) : msg),
      },
    },
    destination ?? standardOutput(format === 'text' || (format === 'auto' && process.stdout.isTTY === true)),
  );
}

/** A logged value longer than this is cut: senders write much of what a line quotes. */
const MAX_LOGGED_STRING = 2048;
/** How deep safeFields looks into a field's objects and arrays; deeper ones are written as escaped JSON text. */
const MAX_DEPTH = 4;
/** Items of an array logged; the rest are counted (a list of recipients or matches may be a sender's). */
const MAX_LOGGED_ITEMS = 100;

/**
 * Every string of a line, at the top, in arrays and in plain objects, keys included, made safe to read:
 *
 * - at most MAX_LOGGED_STRING characters. Reply texts, DNS explanations (SPF exp=, RFC 7208 §6.2),
 *   milter replies and matched header text come from senders: a 60 KB SPF explanation made a 60 KB
 *   line on every MAIL FROM. The client is told at most 512 octets (RFC 5321 §4.5.3.1.5); the log
 *   says as much and how much more. Arrays keep MAX_LOGGED_ITEMS items and say how many more.
 * - controls (C0, C1), bidi and format characters, U+2028/2029 written as `\uXXXX` text, as the text
 *   format writes them (text-lines.ts). JSON escapes C0 itself, but every reader undoes that: `jq -r`
 *   (docs/deployment.md) printed a client's ESC sequences, BEL and U+202E to the admin's terminal,
 *   and U+2028 breaks a line for JavaScript readers. Letters of any script stay as they are.
 * - below MAX_DEPTH, what is left is one string, its JSON made safe as above: left as it was, its
 *   strings and keys reached the line raw.
 *
 * Objects that are not plain (an Error, a Buffer) are left to their serializers (safeError for `err`).
 */
function safeFields(fields: Record<string, unknown>): Record<string, unknown> {
  return safeObject(fields, 0);
}

function safeObject(fields: Record<string, unknown>, depth: number): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in fields) {
    const value = fields[key];
    const safe = safeValue(value, depth);
    const safeKey = safeString(key);
    if (safe === value && safeKey === key) continue;
    out ??= { ...fields };
    if (safeKey !== key) delete out[key];
    out[safeKey] = safe;
  }
  return out ?? fields;
}

function safeValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return safeString(value);
  if (value === null || typeof value !== 'object') return value;
  const array = Array.isArray(value);
  const proto = Object.getPrototypeOf(value);
  if (!array && proto !== Object.prototype && proto !== null) return value;
  if (depth >= MAX_DEPTH) return tooDeep(value);
  if (array) {
    let out: unknown[] | undefined;
    const shown = Math.min(value.length, MAX_LOGGED_ITEMS);
    for (let i = 0; i < shown; i++) {
      const safe = safeValue(value[i], depth + 1);
      if (safe === value[i]) continue;
      out ??= value.slice(0, shown);
      out[i] = safe;
    }
    if (value.length <= MAX_LOGGED_ITEMS) return out ?? value;
    out ??= value.slice(0, shown);
    out.push(`… (${value.length - shown} more items)`);
    return out;
  }
  return safeObject(value as Record<string, unknown>, depth + 1);
}

/** An object or array below MAX_DEPTH as one string: its JSON, escaped and bounded as any string. */
function tooDeep(value: object): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value, (_key, item: unknown) =>
      // Arrays bounded here too: the JSON of a long one would be cut anyway, after costing its length.
      Array.isArray(item) && item.length > MAX_LOGGED_ITEMS
        ? [...item.slice(0, MAX_LOGGED_ITEMS), `… (${item.length - MAX_LOGGED_ITEMS} more items)`]
        : item,
    );
  } catch {
    // A cycle, a BigInt: what pino itself would have written is not ours to guess.
  }
  return json === undefined ? '[nested too deep to log]' : safeString(json);
}

function safeString(text: string): string {
  return boundedString(escapeUnsafe(text));
}

function boundedString(text: string): string {
  if (text.length <= MAX_LOGGED_STRING) return text;
  return `${text.slice(0, MAX_LOGGED_STRING)}… (${text.length - MAX_LOGGED_STRING} more characters)`;
}

/**
 * pino's error serializer, its strings made safe as safeFields makes a line's (an error's message may
 * quote what a client or a DNS answer said). The stack keeps its line feeds: its frames are ours.
 */
function safeError(err: unknown): unknown {
  const serialized: unknown = pino.stdSerializers.err(err as Error);
  if (serialized === err || serialized === null || typeof serialized !== 'object') return safeValue(err, 0);
  return safeSerializedError(serialized as Record<string, unknown>, Object.getPrototypeOf(serialized), 0);
}

/** In place: the serializer made the object (and the errors in it, of the same prototype) for this line. */
function safeSerializedError(fields: Record<string, unknown>, proto: unknown, depth: number): Record<string, unknown> {
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    const safeKey = safeString(key);
    if (safeKey !== key) {
      // An error's own properties are named by whoever made it (a library copying a reply's fields).
      delete fields[key];
      fields[safeKey] = safeValue(value, depth + 1);
    } else if (key === 'stack' && typeof value === 'string') fields[key] = escapeUnsafe(value, true);
    else if (isSerializedError(value, proto) && depth < MAX_DEPTH) safeSerializedError(value, proto, depth + 1);
    else if (key === 'aggregateErrors' && Array.isArray(value) && depth < MAX_DEPTH) {
      for (const item of value) if (isSerializedError(item, proto)) safeSerializedError(item, proto, depth + 1);
    } else fields[key] = safeValue(value, depth + 1);
  }
  return fields;
}

function isSerializedError(value: unknown, proto: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === proto;
}

/**
 * How long the final flush (at exit) waits for a reader that takes nothing (EAGAIN): a pipe no one
 * reads (`postern serve | less`, left open), a journald that has stalled. Long enough for a reader
 * that is only slow; then the lines still pending are dropped, and the process exits.
 */
const EXIT_FLUSH_MS = 2000;

/**
 * Standard output through sonic-boom, asynchronous. sonic-boom's final flush (at exit) retries a
 * failed write forever, EAGAIN included (its retryEAGAIN says yes by default): the server would then
 * neither serve nor stop, holding its ports and its lock, and under systemd every stop would take
 * TimeoutStopSec and end in SIGKILL. So that flush retries EAGAIN for EXIT_FLUSH_MS at most, and
 * drops what is pending instead while writes fail otherwise. While the server runs, EAGAIN is waited
 * out, as sonic-boom does: the lines are kept for when the reader comes back. A descriptor that is
 * gone for good (a terminal that hung up: EIO; a reader gone: EPIPE) stops the logging; any other
 * failure (a full disk under a redirected log) is retried with the next line, as sonic-boom does.
 * Losing log lines must never stop the mail.
 */
function standardOutput(text: boolean): pino.DestinationStream {
  let giveUpAt = Number.POSITIVE_INFINITY;
  const out = pino.destination({ dest: 1, sync: false, retryEAGAIN: () => Date.now() < giveUpAt });
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
  out.flushSync = () => {
    if (failing) return drop();
    giveUpAt = Date.now() + EXIT_FLUSH_MS;
    try {
      flushSync();
    } catch (error) {
      // retryEAGAIN said no: the reader did not take the rest in time.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EBUSY') throw error;
      drop();
    } finally {
      giveUpAt = Number.POSITIVE_INFINITY;
    }
  };
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
