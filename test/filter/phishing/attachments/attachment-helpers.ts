/** What the attachment-check tests share: ZIPs made in memory, attachments, a PE stub, and the outcome as text. */
import assert from 'node:assert/strict';
import { ZipFile } from 'yazl';
import { attachmentSignals } from '../../../../src/filter/phishing/attachments/attachment-signals.ts';
import type { MessageAttachment } from '../../../../src/mime/message.ts';

export async function zip(files: [name: string, content: string | Uint8Array][]): Promise<Buffer> {
  const z = new ZipFile();
  for (const [name, content] of files) z.addBuffer(Buffer.from(content), name);
  z.end();
  const chunks: Buffer[] = [];
  for await (const chunk of z.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export function file(
  filename: string,
  content: string | Uint8Array,
  contentType = 'application/octet-stream',
): MessageAttachment {
  return { filename, contentType, disposition: 'attachment', content: Buffer.from(content) };
}

/** "name:weight[evidence]" for each signal, sorted, so a table line states the whole outcome. */
export async function signals(attachments: MessageAttachment[], text = '', subject = ''): Promise<string[]> {
  const got = await attachmentSignals({ attachments, text, subject });
  for (const s of got) {
    assert.equal(s.group, 'attachments');
    assert.ok(s.explanation.en.length > 40 && s.explanation.ru.length > 40, s.name);
    assert.match(s.explanation.ru, /[а-я]/);
  }
  return got.map((s) => `${s.name}:${s.weight}[${s.evidence}]`).sort();
}

/** The smallest file a PE sniffer takes for a Windows program: "MZ", and "PE\0\0" where e_lfanew points. */
export function pe(): Buffer {
  const b = Buffer.alloc(0x80);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x40, 0x3c);
  b.write('PE\0\0', 0x40, 'latin1');
  return b;
}
