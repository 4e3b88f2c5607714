/** The listeners of Store.watchChanges; one throwing listener does not keep the change from the others. */
import type { MailboxChange } from './store.ts';

export class ChangeListeners {
  readonly #listeners = new Set<(change: MailboxChange) => void>();

  add(listener: (change: MailboxChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get size(): number {
    return this.#listeners.size;
  }

  emit(change: MailboxChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        // A listener's bug must neither fail a delivery already committed nor stop the server.
        process.emitWarning(error instanceof Error ? error : String(error), 'MailboxChangeListenerError');
      }
    }
  }
}
