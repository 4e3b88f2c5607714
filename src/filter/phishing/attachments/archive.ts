/**
 * The names inside an archive attachment, without extracting it (issue 8, "Attachments"). ZIP is
 * listed from its central directory (PKWARE APPNOTE.TXT §4.3.12) by yauzl (MIT), which reads the
 * directory only and gives every entry's raw general purpose flags, so encrypted entries are listed
 * too; a ZIP inside a ZIP is inflated (within a byte budget) to list it in turn, one level deep.
 * gzip gives the original file name from its header (RFC 1952 §2.3.1). RAR (1.5 to 5) is listed from
 * its block headers (rar.ts); nested archives inside it are only named, since its data is compressed
 * with RAR's own methods. 7z is recognised by its signature but not listed (its headers are usually
 * LZMA-compressed). Never throws: a broken archive is reported as not listed.
 */
import type { Readable } from 'node:stream';
import { type Entry, fromBufferPromise, getFileNameLowLevel, type ZipFile } from 'yauzl';
import { kindByContent } from './file-types.ts';
import { listRar } from './rar.ts';

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
/** Entries listed per message (archiveBudget()), nested archives included. */
export const maxEntries = 1000;
/** Bytes inflated per message (archiveBudget()), to read nested ZIPs; a bigger nested ZIP is only named. */
export const maxInflatedBytes = 10 * 1024 * 1024;

export type Budget = { entries: number; bytes: number };

/** The archive format an attachment's first bytes announce; undefined when it is not an archive. */
export function archiveFormatOf(bytes: Uint8Array): ArchiveFormat | undefined {
  const kind = kindByContent(bytes);
  return kind === 'zip' || kind === 'rar' || kind === '7z' || kind === 'gzip' ? kind : undefined;
}

/**
 * What one message's archives may cost in all: pass the same object for each of its attachments, so
 * that a hundred small ZIPs of nested bombs do not each get the whole budget.
 */
export function archiveBudget(): Budget {
  return { entries: maxEntries, bytes: maxInflatedBytes };
}

export async function listArchive(
  bytes: Uint8Array,
  budget: Budget = archiveBudget(),
): Promise<ArchiveListing | undefined> {
  const format = archiveFormatOf(bytes);
  switch (format) {
    case undefined:
      return undefined;
    case 'zip':
      return listZip(bytes, 1, [], budget);
    case 'gzip':
      return listGzip(bytes);
    case 'rar': {
      const rar = listRar(bytes, maxEntries);
      const entries = rar.names.map(({ name, encrypted }) => ({ path: [name], encrypted }));
      // Damaged before any sign of encryption: whether it is encrypted cannot be told.
      const encrypted = rar.encrypted || (rar.listed ? false : undefined);
      return { format, entries, listed: rar.listed, encrypted, truncated: rar.truncated };
    }
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
