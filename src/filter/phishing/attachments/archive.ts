/**
 * The names inside an archive attachment, without extracting it (issue 8, "Attachments"). ZIP is
 * listed from its central directory (PKWARE APPNOTE.TXT §4.3.12) by yauzl (MIT), which reads the
 * directory only and gives every entry's raw general purpose flags, so encrypted entries are listed
 * too; a ZIP inside a ZIP is inflated (within a byte budget) to list it in turn, one level deep.
 * gzip gives the original file name from its header (RFC 1952 §2.3.1). RAR and 7z are recognised by
 * their signatures but not listed; RAR tells whether its headers are encrypted. Never throws: a
 * broken archive is reported as not listed.
 */
import type { Readable } from 'node:stream';
import { type Entry, fromBufferPromise, getFileNameLowLevel, type ZipFile } from 'yauzl';
import { kindByContent } from './file-types.ts';

export type ArchiveFormat = 'zip' | 'rar' | '7z' | 'gzip';

export interface ArchiveEntry {
  /** The entry's path, preceded by the paths of the archives it is nested in: ['inner.zip', 'a/b.exe']. */
  path: string[];
  encrypted: boolean;
}

export interface ArchiveListing {
  format: ArchiveFormat;
  entries: ArchiveEntry[];
  /** false when the archive (or a part of it) could not be read: unsupported format, damage, strong encryption. */
  listed: boolean;
  /** Some entry, or the archive's own headers, is password-protected; undefined when we cannot tell. */
  encrypted: boolean | undefined;
  /** The entry limit was reached before the end. */
  truncated: boolean;
}

/** ZIP-in-ZIP is opened this deep (1 = the attachment itself); deeper archives are only named. */
export const maxNesting = 2;
/** Entries listed per attachment, nested archives included. */
export const maxEntries = 1000;
/** Bytes inflated per attachment, to read nested ZIPs; a bigger nested ZIP is only named. */
export const maxInflatedBytes = 10 * 1024 * 1024;

type Budget = { entries: number; bytes: number };

/** The archive format an attachment's first bytes announce; undefined when it is not an archive. */
export function archiveFormatOf(bytes: Uint8Array): ArchiveFormat | undefined {
  const kind = kindByContent(bytes);
  return kind === 'zip' || kind === 'rar' || kind === '7z' || kind === 'gzip' ? kind : undefined;
}

export async function listArchive(bytes: Uint8Array): Promise<ArchiveListing | undefined> {
  const format = archiveFormatOf(bytes);
  switch (format) {
    case undefined:
      return undefined;
    case 'zip':
      return listZip(bytes, 1, [], { entries: maxEntries, bytes: maxInflatedBytes });
    case 'gzip':
      return listGzip(bytes);
    case 'rar':
      return { format, entries: [], listed: false, encrypted: rarHeadersEncrypted(bytes), truncated: false };
    case '7z':
      return { format, entries: [], listed: false, encrypted: undefined, truncated: false };
    default:
      return format satisfies never;
  }
}

async function listZip(bytes: Uint8Array, depth: number, prefix: string[], budget: Budget): Promise<ArchiveListing> {
  const out: ArchiveListing = { format: 'zip', entries: [], listed: true, encrypted: false, truncated: false };
  let zip: ZipFile | undefined;
  try {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Names decoded by us (below) so that a name yauzl would refuse ("..\\x.exe", "C:/x") is still listed;
    // sizes not checked, so that one odd entry does not hide the others.
    zip = await fromBufferPromise(buffer, { lazyEntries: true, decodeStrings: false, validateEntrySizes: false });
    for await (const entry of zip.eachEntry()) {
      if (budget.entries <= 0) {
        out.truncated = true;
        break;
      }
      budget.entries--;
      const name = getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
      if (name.endsWith('/')) continue; // a directory
      const encrypted = (entry.generalPurposeBitFlag & 0x1) !== 0; // APPNOTE §4.4.4, bit 0
      if (encrypted) out.encrypted = true;
      const path = [...prefix, name];
      out.entries.push({ path, encrypted });
      if (depth < maxNesting && !encrypted && /\.zip$/i.test(name)) {
        const inner = await inflate(zip, entry, budget);
        if (inner === undefined) continue;
        const nested = await listZip(inner, depth + 1, path, budget);
        out.entries.push(...nested.entries);
        if (nested.encrypted) out.encrypted = true;
        if (!nested.listed) out.listed = false;
        if (nested.truncated) out.truncated = true;
      }
    }
  } catch (error) {
    out.listed = false;
    // yauzl stops at bit 6 (APPNOTE §4.4.4, strong encryption), which it cannot read: the archive is encrypted.
    if (error instanceof Error && /strong encryption/.test(error.message)) out.encrypted = true;
  } finally {
    zip?.close();
  }
  return out;
}

/** A nested entry's bytes, or undefined when it would exceed the inflate budget or cannot be read. */
async function inflate(zip: ZipFile, entry: Entry, budget: Budget): Promise<Uint8Array | undefined> {
  if (!entry.canDecodeFileData() || entry.uncompressedSize > budget.bytes) return undefined;
  let stream: Readable | undefined;
  try {
    stream = await zip.openReadStreamPromise(entry);
    const chunks: Buffer[] = [];
    // The declared size may lie (a ZIP bomb): count what actually comes out.
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      budget.bytes -= chunk.length;
      if (budget.bytes < 0) return undefined;
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  } catch {
    return undefined;
  } finally {
    stream?.destroy();
  }
}

/** The original file name a gzip header may carry: FLG.FNAME, after FEXTRA (RFC 1952 §2.3.1). */
function listGzip(bytes: Uint8Array): ArchiveListing {
  const out: ArchiveListing = { format: 'gzip', entries: [], listed: true, encrypted: false, truncated: false };
  const flags = bytes[3] ?? 0;
  const fextra = 0x04;
  const fname = 0x08;
  let at = 10;
  if (flags & fextra) at += 2 + ((bytes[10] ?? 0) | ((bytes[11] ?? 0) << 8));
  if (!(flags & fname)) return out;
  const end = bytes.indexOf(0, at);
  if (end < 0 || end - at > 1024) return { ...out, listed: false };
  const name = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', at, end); // ISO 8859-1 per §2.3.1
  out.entries.push({ path: [name], encrypted: false });
  return out;
}

/**
 * Whether a RAR archive encrypts its headers (then even the names are hidden): RAR 1.5–4 sets
 * MHD_PASSWORD (0x0080) in the main archive header's flags; RAR 5 starts with an archive encryption
 * header (type 4). Both from RARLAB's technote.txt and "RAR 5.0 archive format". undefined when the
 * headers are readable: the files may still be encrypted, which we do not read further to learn.
 */
function rarHeadersEncrypted(bytes: Uint8Array): boolean | undefined {
  if (bytes[6] === 0x00) {
    // RAR 4: signature (7), then HEAD_CRC (2), HEAD_TYPE (1) = 0x73 MAIN_HEAD, HEAD_FLAGS (2)
    if (bytes[9] !== 0x73) return undefined;
    return ((bytes[10] ?? 0) & 0x80) !== 0 ? true : undefined;
  }
  if (bytes[6] === 0x01 && bytes[7] === 0x00) {
    // RAR 5: signature (8), then CRC32 (4), header size (vint), header type (vint)
    let at = 12;
    while (at < bytes.length && (bytes[at]! & 0x80) !== 0) at++; // skip the size vint
    return bytes[at + 1] === 4 ? true : undefined;
  }
  return undefined;
}
