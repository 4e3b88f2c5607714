/**
 * How many sessions have a mail transaction under way (MAIL accepted, the message not yet answered),
 * across every listener of the process. The store's commit delay waits for their messages
 * (src/store/sqlite/commit-delay.ts): they are the writes known to be on their way.
 *
 * Changes are reported once per event-loop turn, not per session: the writer thread is woken by a
 * report, and one turn often ends the transactions of a whole batch.
 */
export class TransactionGauge {
  #open = 0;
  #reported = 0;
  #scheduled = false;
  readonly #report: (open: number) => void;

  constructor(report: (open: number) => void) {
    this.#report = report;
  }

  get open(): number {
    return this.#open;
  }

  opened(): void {
    this.#open++;
    this.#schedule();
  }

  closed(): void {
    this.#open--;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#open === this.#reported) return;
      this.#reported = this.#open;
      this.#report(this.#open);
    });
  }
}
