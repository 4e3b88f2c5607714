/** Reading a socket in tests until what arrived matches. */
import type net from 'node:net';

/** What `socket` receives until `until` matches the text so far (then the test is done with the socket). */
export async function readUntil(socket: net.Socket, until: RegExp): Promise<string> {
  let text = '';
  socket.setEncoding('latin1');
  for await (const chunk of socket) {
    text += chunk as string;
    if (until.test(text)) return text;
  }
  throw new Error(`closed before ${until}: ${text}`);
}
