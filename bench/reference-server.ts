/**
 * The Node.js reference of the table: nodemailer's smtp-server, each message written to its own
 * file and fsynced before the 250 ("nodemailer smtp-server, file + fsync per message", ~3,000 msgs/s and
 * ~300 µs of CPU per message where Postern's targets are 4,000 msgs/s and 150 µs). Run in the same
 * benchmark, it turns those targets into ratios that hold on a faster or slower machine.
 *
 * Usage: node bench/reference-server.ts <port> <directory>. Listens on 127.0.0.1 only; no reverse DNS
 * look-up of clients (it would leave the machine). Stops on SIGTERM.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';

const [portArg, directory] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port <= 0 || !directory) {
  console.error('usage: node bench/reference-server.ts <port> <directory>');
  process.exit(2);
}

let sequence = 0;

/** The message's bytes in a file of its own, synced to the disk before the reply. */
async function store(chunks: Buffer[]): Promise<void> {
  const file = await open(path.join(directory as string, `${process.pid}-${++sequence}.eml`), 'wx', 0o600);
  try {
    await file.writev(chunks);
    await file.sync();
  } finally {
    await file.close();
  }
}

const server = new SMTPServer({
  name: 'reference.example.com',
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  disableReverseLookup: true,
  maxClients: 2000,
  size: 10 * 1024 * 1024,
  logger: false,
  onData(stream, _session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      store(chunks).then(
        () => callback(),
        (error: Error) =>
          callback(Object.assign(new Error(`451 storing failed: ${error.message}`), { responseCode: 451 })),
      );
    });
  },
});
server.on('error', (error) => console.error(`reference server: ${error.message}`));
server.listen(port, '127.0.0.1');
// Every message it acknowledged is already on disk: nothing to wait for.
process.once('SIGTERM', () => process.exit(0));
