/**
 * The floor of any Node.js SMTP server on this machine: a responder that answers every command, finds
 * the end of DATA and stores nothing. No parsing beyond line ends, no checks, no store, no logging.
 * What Postern costs above it is Postern's own work; what it costs itself is Node.js's socket I/O and
 * the kernel's loopback TCP, which no Node.js server avoids (docs/benchmarks.md, "Where the CPU goes").
 *
 * It speaks only what the benchmark's load generators send: EHLO/HELO, MAIL, RCPT, DATA (pipelined or
 * not), RSET, NOOP and QUIT, and it does not undo dot-stuffing, which the timing does not need.
 *
 * Usage: node bench/node-floor-server.ts <port>. Listens on 127.0.0.1 only. Stops on SIGTERM.
 */
import net from 'node:net';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node bench/node-floor-server.ts <port>');
  process.exit(2);
}

const END_OF_DATA = '\r\n.\r\n';

const server = net.createServer((socket) => {
  socket.setTimeout(300_000, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  let inData = false;
  let pending = '';
  socket.write('220 floor.example.com ESMTP\r\n');
  socket.on('data', (chunk: Buffer) => {
    pending += chunk.toString('latin1');
    let replies = '';
    for (;;) {
      if (inData) {
        const end = pending.indexOf(END_OF_DATA);
        if (end < 0) {
          // Keep only what could be the start of the end-of-data sequence.
          pending = pending.slice(-(END_OF_DATA.length - 1));
          break;
        }
        pending = pending.slice(end + END_OF_DATA.length);
        inData = false;
        replies += '250 2.0.0 Ok: queued\r\n';
        continue;
      }
      const lineEnd = pending.indexOf('\r\n');
      if (lineEnd < 0) break;
      const verb = pending.slice(0, 4).toUpperCase();
      pending = pending.slice(lineEnd + 2);
      if (verb === 'DATA') {
        inData = true;
        // The end-of-data sequence starts with the CRLF that ends the DATA line.
        pending = `\r\n${pending}`;
        replies += '354 End data with <CR><LF>.<CR><LF>\r\n';
      } else if (verb === 'EHLO') {
        // PIPELINING, so that our generator groups MAIL/RCPT/DATA here as it does with Postern.
        replies += '250-floor.example.com\r\n250 PIPELINING\r\n';
      } else if (verb === 'QUIT') {
        socket.end(`${replies}221 2.0.0 Bye\r\n`);
        return;
      } else replies += '250 2.0.0 Ok\r\n';
    }
    if (replies !== '') socket.write(replies);
  });
});
server.maxConnections = 2000;
server.listen(port, '127.0.0.1');
process.once('SIGTERM', () => process.exit(0));
