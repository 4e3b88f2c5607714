// The client a test session stands for when no socket is involved: an outside address on port 25.
import type { Peer } from '../../src/smtp/envelope.ts';

export function testPeer(remoteAddress = '192.0.2.7'): Peer {
  return { sessionId: 's1', remoteAddress, remotePort: 40000, localAddress: '127.0.0.1', localPort: 25 };
}
