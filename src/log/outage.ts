/**
 * A dependency that fails (the store, a milter) fails for every session and message until it is back:
 * logged each time, an outage of a minute at a busy site is thousands of identical lines, and the
 * journal's rate limit may then drop the line that says something new. So an outage is said when it
 * starts, with the first failure's details; then once a minute with how many failures there were since
 * and the last reason; and once when the dependency answers again, with how long it was out.
 * Each failure's SMTP reply is still logged by its session (the 451 line), so one session can still
 * be followed.
 */
import type { Logger } from './logger.ts';

export interface OutageOptions {
  /** What failed, as the lines name it: "store", "milter rspamd". */
  name: string;
  level: 'warn' | 'error';
  /** How often a continuing outage is said again. */
  reminderMs?: number;
  /** What the three lines say, for an outage that is no dependency (descriptors); by default from `name`. */
  wording?: OutageWording;
  now?: () => number;
}

export interface OutageWording {
  started(reason: string): string;
  continuing(since: string, failures: number, reason: string): string;
  ended(seconds: number, failures: number): string;
}

function dependencyWording(name: string): OutageWording {
  return {
    started: (reason) => `${name} unavailable: ${reason}`,
    continuing: (since, failures, reason) =>
      `${name} still unavailable since ${since}: ${failures} failures so far; the last: ${reason}`,
    ended: (seconds, failures) => `${name} answers again after ${seconds} s and ${failures} failures`,
  };
}

export class OutageLog {
  readonly #logger: Logger;
  readonly #options: OutageOptions;
  readonly #wording: OutageWording;
  #since: number | undefined;
  #failures = 0;
  #sinceReminder = 0;
  #lastReminder = 0;

  constructor(logger: Logger, options: OutageOptions) {
    this.#logger = logger;
    this.#options = options;
    this.#wording = options.wording ?? dependencyWording(options.name);
  }

  get out(): boolean {
    return this.#since !== undefined;
  }

  /** A failure: logged when it starts an outage, counted otherwise, and summed up once a minute. */
  failed(fields: Record<string, unknown>, reason: string): void {
    const now = this.#now();
    const { level } = this.#options;
    this.#failures++;
    if (this.#since === undefined) {
      this.#since = now;
      this.#lastReminder = now;
      this.#sinceReminder = 0;
      this.#logger[level]({ ...fields, reason }, this.#wording.started(reason));
      return;
    }
    this.#sinceReminder++;
    if (now - this.#lastReminder < (this.#options.reminderMs ?? 60_000)) return;
    const since = new Date(this.#since).toISOString();
    this.#logger[level](
      { ...fields, reason, failures: this.#failures, since, notLogged: this.#sinceReminder - 1 },
      this.#wording.continuing(since, this.#failures, reason),
    );
    this.#lastReminder = now;
    this.#sinceReminder = 0;
  }

  /** The dependency answered: an outage under way ends with one line. */
  succeeded(): void {
    if (this.#since === undefined) return;
    const seconds = Math.round((this.#now() - this.#since) / 1000);
    this.#logger.info(
      { failures: this.#failures, outageSeconds: seconds },
      this.#wording.ended(seconds, this.#failures),
    );
    this.#since = undefined;
    this.#failures = 0;
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }
}
