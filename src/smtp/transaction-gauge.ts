/**
 * How many sessions have a mail transaction under way (MAIL accepted, the message not yet answered)
 * and have sent something lately, across every listener of the process. The store's commit delay
 * waits for their messages (src/store/sqlite/commit-delay.ts): they are the writes likely on their
 * way. A session silent for longer than ACTIVE_MS (a client stuck in its DATA, or one that thinks
 * between commands) is left out: waiting for it would slow the sessions that do deliver.
 *
 * Changes are reported once per event-loop turn, not per session: the writer thread is woken by a
 * report, and one turn often ends the transactions of a whole batch. While any is counted, the count
 * is also looked at again ACTIVE_MS later, so that a session falling silent is left out even when
 * nothing else happens.
 */

/** A session's last input: what the gauge needs of a connection. */
export interface TransactionMember {
  readonly lastInputAt: number; // performance.now() of the last bytes read
}

/** Longer than a session in step with others waits for its next reply, shorter than a client's pause. */
export const ACTIVE_MS = 5;

export class TransactionGauge {
  readonly #members = new Set<TransactionMember>();
  #reported = 0;
  #scheduled = false;
  #recheck: NodeJS.Timeout | undefined;
  readonly #report: (active: number) => void;

  constructor(report: (active: number) => void) {
    this.#report = report;
  }

  /** Transactions under way, active or not. */
  get open(): number {
    return this.#members.size;
  }

  opened(member: TransactionMember): void {
    this.#members.add(member);
    this.#schedule();
  }

  closed(member: TransactionMember): void {
    this.#members.delete(member);
    this.#schedule();
  }

  /** Transactions under way whose session sent something within ACTIVE_MS. */
  active(now = performance.now()): number {
    let active = 0;
    for (const member of this.#members) if (now - member.lastInputAt <= ACTIVE_MS) active++;
    return active;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const active = this.active();
      // A session counted now may fall silent with nothing else happening: looked at again then.
      if (active > 0 && !this.#recheck) {
        this.#recheck = setTimeout(() => {
          this.#recheck = undefined;
          this.#schedule();
        }, ACTIVE_MS).unref();
      }
      if (active === this.#reported) return;
      this.#reported = active;
      this.#report(active);
    });
  }
}
