/**
 * Replies are written once per event-loop turn, all sessions' together, as Redis writes its clients'
 * replies just before it waits for events again ("beforeSleep"). A session's replies keep their order
 * and each socket still gets one write a turn, as before; what changes is when. Written back to back,
 * the writes find a client that sits on this machine (a local application, a content filter, a load
 * generator) still awake from the first of them: written one at a time between sessions' work, each
 * found it asleep and paid the kernel for waking it on the other CPU, which on a virtual machine is
 * an inter-processor interrupt and cost a quarter of the server's CPU per message (docs/benchmarks.md,
 * "Fourteenth session"). A reply waits at most for the rest of the turn's input to be handled.
 */
import type net from 'node:net';

export class ReplyBatch {
  readonly #unsent = new Map<net.Socket, string>();
  readonly #written: ((socket: net.Socket) => void) | undefined;
  #scheduled = false;

  /**
   * `written`: told of a socket that is paused (backpressure) once its batch is written. Its reader may
   * have stopped for the replies waiting here; a kernel that takes them all emits no 'drain' to resume it.
   */
  constructor(written?: (socket: net.Socket) => void) {
    this.#written = written;
  }

  /** Queues text for the socket; it is written when the turn's input has been handled. */
  send(socket: net.Socket, text: string): void {
    if (text === '') return;
    const before = this.#unsent.get(socket);
    this.#unsent.set(socket, before === undefined ? text : before + text);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#writeAll());
  }

  /** Writes what waits for this socket now: before it is ended or handed to TLS (STARTTLS). */
  flush(socket: net.Socket): void {
    const text = this.#unsent.get(socket);
    if (text === undefined) return;
    this.#unsent.delete(socket);
    if (!socket.destroyed) socket.write(text);
  }

  /** Bytes queued for the socket and not yet handed to it (its writableLength does not count them). */
  pendingBytes(socket: net.Socket): number {
    return this.#unsent.get(socket)?.length ?? 0;
  }

  #writeAll(): void {
    this.#scheduled = false;
    const batch = [...this.#unsent]; // a write's handlers may queue more: those go in the next turn
    this.#unsent.clear();
    for (const [socket, text] of batch) {
      if (socket.destroyed) continue;
      socket.write(text);
      if (socket.isPaused()) this.#written?.(socket);
    }
  }
}
