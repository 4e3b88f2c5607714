/**
 * A tiny milter for tests: a real TCP server on 127.0.0.1 that speaks the libmilter protocol
 * (mfdef.h framing) and answers each command as a test's script says.
 */
import net from 'node:net';
import { after } from 'node:test';
import { type Packet, PacketReader } from '../../src/filter/milter/protocol.ts';

/** `hang-up`: the milter closes the connection, as an old libmilter does on a command it does not know. */
export type Answer = [code: string, data?: Buffer] | 'silent' | 'progress-forever' | 'hang-up';
export interface FakeMilter {
  spec: string;
  received: Packet[];
  /** Writes a packet to every open connection, outside any answer (an SMFIR_PROGRESS at a chosen time). */
  send(code: string, data?: Buffer): void;
  close(): Promise<void>;
}

const servers: net.Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

export function packet(code: string, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(data.length + 1, 0);
  head.write(code, 4, 'latin1');
  return Buffer.concat([head, data]);
}
export const z = (...s: string[]) => Buffer.from(s.map((x) => `${x}\0`).join(''));
export const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

/**
 * Answers OPTNEG with (actions, steps), then each command with `answer(packet)`; macros, abort and quit get nothing.
 * `version`: the protocol version it answers OPTNEG with (6 unless given); `actions`: the SMFIF_* it
 * asks for (all unless given).
 */
export async function fakeMilter(
  steps: number,
  answer: (p: Packet) => Answer[] | Answer,
  { version = 6, actions = 0x1ff }: { version?: number; actions?: number } = {},
): Promise<FakeMilter> {
  const received: Packet[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const reader = new PacketReader();
    socket.on('data', (chunk) => {
      for (const p of reader.push(chunk)) {
        received.push(p);
        if (p.code === 'O') {
          socket.write(packet('O', Buffer.concat([u32(version), u32(actions), u32(steps)])));
          continue;
        }
        if ('DAQ'.includes(p.code)) continue;
        const out = answer(p);
        const list = Array.isArray(out) && Array.isArray(out[0]) ? (out as Answer[]) : [out as Answer];
        for (const a of list) {
          if (a === 'hang-up') socket.destroy();
          else if (a === 'progress-forever') {
            const timer = setInterval(() => socket.write(packet('p')), 100);
            socket.on('close', () => clearInterval(timer));
          } else if (a !== 'silent') socket.write(packet(a[0], a[1]));
        }
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    spec: `inet:${port}@127.0.0.1`,
    received,
    send: (code, data) => {
      for (const s of sockets) s.write(packet(code, data));
    },
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
