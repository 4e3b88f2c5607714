/** Loopback ports for test peers (OpenDKIM, rspamd) that need a port named in their configuration. */
import net from 'node:net';

/**
 * A loopback port free now, for a server that must be told its port before it listens (pebble's
 * validation port, OpenDKIM, rspamd). Chosen below Linux's ephemeral range (32768–60999): one of
 * that range, released, could be taken at once by any test's outgoing connection or `listen(0)` before
 * its new owner binds it (it happened: EADDRINUSE on the http-01 port in CI). Tried until one binds.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = net.createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false)).listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    }
    if (attempt >= 50) throw new Error('no free loopback port between 20000 and 32000');
  }
}

/** Waits until 127.0.0.1:port accepts connections; throws after `ms`, or at once when `gone()` says the peer died. */
export async function waitForPort(port: number, ms: number, name: string, gone: () => boolean = () => false) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (gone()) throw new Error(`${name} exited`);
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port} in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
