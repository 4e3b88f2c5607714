/** Loopback ports for test peers (OpenDKIM, rspamd) that need a port named in their configuration. */
import net from 'node:net';

/** A port free on 127.0.0.1 right now (bound and released; the peer binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
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
