/**
 * Idle connections for the memory scenario: each reads the 220 and sends EHLO, then stays open doing
 * nothing, as a slow or parked client would. Opened a few at a time so the listen backlog never overflows.
 */
import { SmtpConnection } from './connection.ts';

export type IdleConnections = {
  opened: number;
  errors: number;
  errorSamples: string[];
  close: () => Promise<void>;
};

export async function openIdle(port: number, count: number, timeCapMs: number): Promise<IdleConnections> {
  const open: SmtpConnection[] = [];
  const samples: string[] = [];
  let errors = 0;
  let next = 0;
  const deadline = Date.now() + timeCapMs;
  const opener = async () => {
    while (next < count && Date.now() < deadline) {
      next++;
      let c: SmtpConnection | undefined;
      try {
        c = await SmtpConnection.connect(port);
        open.push(c);
        const hello = await c.reply();
        if (hello.code !== 220) throw new Error(`greeting ${hello.code}`);
        c.write('EHLO client.example\r\n');
        const ehlo = await c.reply();
        if (ehlo.code !== 250) throw new Error(`EHLO ${ehlo.code}`);
      } catch (e) {
        errors++;
        if (samples.length < 10) samples.push((e as Error).message);
        c?.destroy();
      }
    }
  };
  // A hung server must not hold the benchmark: destroy whatever is still pending at the cap.
  const cap = setTimeout(() => {
    for (const c of open) c.destroy();
  }, timeCapMs + 5000);
  await Promise.all(Array.from({ length: 50 }, opener));
  clearTimeout(cap);
  const alive = open.filter((c) => !c.closed);
  errors += count - next; // never attempted: the time cap passed
  return {
    opened: alive.length,
    errors,
    errorSamples: samples,
    close: async () => {
      for (const c of alive) c.write('QUIT\r\n');
      await Promise.all(alive.map((c) => c.reply().catch(() => undefined)));
      for (const c of open) c.destroy();
    },
  };
}
