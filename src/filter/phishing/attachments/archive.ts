/**
 * The names inside an archive attachment, without extracting it (issue 8, "Attachments"). ZIP is
 * listed from its central directory (PKWARE APPNOTE.TXT §4.3.12) by yauzl (MIT), which reads the
 * directory only and gives every entry's raw general purpose flags, so encrypted entries are listed
 * too; an archive inside a ZIP (named as one, as Windows saves the name: "inner.zip." is
 * "inner.zip") is inflated (within a byte budget) and listed in turn as a top-level one is, one level
 * deep; one that cannot be read leaves the listing partial. gzip gives the original file name from
 * its header (RFC 1952 §2.3.1), or, without one, the attachment's name less ".gz", which is what
 * gunzip, 7-Zip and Windows save it as. RAR (1.5 to 5) is listed from its block headers (rar.ts);
 * nested archives inside it are only named, since its data is compressed with RAR's own methods. tar
 * is listed from its headers (tar.ts), and a tar inside gzip (.tar.gz, .tgz) once inflated within the
 * same byte budget; archives inside a tar are listed in turn, one level deep, as for ZIP. A CAB is
 * listed from its CFFILE entries (cab.ts), which are not compressed. 7z is recognised by its signature
 * but not listed (its headers are usually LZMA-compressed), nor are xz and bzip2, which Node cannot
 * decompress: these are reported as not listed, xz and bzip2 judged by the name they would decompress
 * to ("invoice.exe.xz" holds "invoice.exe"). Never throws: a broken archive is reported as not listed.
 *
 * A ZIP is found from its end, as unzip finds it, so bytes in front of it (a self-extractor's stub,
 * junk, a picture) do not hide it. The entry budget bounds the costly part (yauzl's entries and the
 * nested ZIPs they open); every later name is still read straight from the central directory, which
 * costs no more than the directory's own bytes, so a thousand dummy files cannot hide what follows.
 */
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  type Entry,
  type ExtraField,
  fromBufferPromise,
  getFileNameLowLevel,
  parseExtraFields,
  type ZipFile,
} from 'yauzl';
import { isCab, listCab } from './cab.ts';
import { deceptiveName, kindByContent, kindByName } from './file-types.ts';
import { listRar } from './rar.ts';
import { isTarHeader, walkTar } from './tar.ts';

export type ArchiveFormat = 'zip' | 'rar' | '7z' | 'gzip' | 'tar' | 'cab' | 'xz' | 'bzip2';

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
  /** The entry limit was reached before the end: later entries were only named, one of each kind of name. */
  truncated: boolean;
  /** A nested archive was left unopened because the message's budget ran out: part of what is inside is unknown. */
  partial?: boolean;
}

/** ZIP-in-ZIP is opened this deep (1 = the attachment itself); deeper archives are only named. */
export const maxNesting = 2;
/** Entries listed per message (archiveBudget()), nested archives included. */
export const maxEntries = 1000;
/** Bytes inflated per message (archiveBudget()), to read nested ZIPs; a bigger nested ZIP is only named. */
export const maxInflatedBytes = 10 * 1024 * 1024;

export type Budget = { entries: number; bytes: number };

/**
 * The archive format an attachment holds: announced by its first bytes, or a ZIP found from its end
 * behind other bytes; undefined when it is not an archive. A program is not looked into: a
 * self-extractor is a program, and said to be one.
 */
export function archiveFormatOf(bytes: Uint8Array): ArchiveFormat | undefined {
  const kind = kindByContent(bytes);
  if (kind === 'zip' || kind === 'rar' || kind === '7z' || kind === 'gzip') return kind;
  if (kind === 'executable') return undefined;
  if (kind === 'archive' && isCab(bytes)) return 'cab';
  if (startsWithBytes(bytes, XZ)) return 'xz';
  if (isBzip2(bytes)) return 'bzip2';
  if (isTarHeader(bytes)) return 'tar';
  const layout = zipLayout(bytes);
  return layout && layout.entries > 0 ? 'zip' : undefined;
}

/**
 * What one message's archives may cost in all: pass the same object for each of its attachments, so
 * that a hundred small ZIPs of nested bombs do not each get the whole budget.
 */
export function archiveBudget(): Budget {
  return { entries: maxEntries, bytes: maxInflatedBytes };
}

/**
 * `name`, the attachment's file name, tells what a compressed file without a listing holds: an xz or
 * bzip2 file, or a gzip whose header names nothing, is named after what it decompresses to.
 */
export async function listArchive(
  bytes: Uint8Array,
  budget: Budget = archiveBudget(),
  name = '',
): Promise<ArchiveListing | undefined> {
  const format = archiveFormatOf(bytes);
  switch (format) {
    case undefined:
      return undefined;
    case 'zip':
      return listZip(bytes, 1, [], budget);
    case 'gzip':
      return listGzip(bytes, 1, [], budget, name);
    case 'tar':
      return listTar(bytes, 1, [], budget);
    case 'cab':
      return listCabinet(bytes, [], budget);
    case 'xz':
    case 'bzip2':
      return compressedOnly(format, [], name);
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

/** Archives read from one buffer: the one found from its end and those concatenated in front of it. */
const maxConcatenated = 4;

async function listZip(
  bytes: Uint8Array,
  depth: number,
  prefix: string[],
  budget: Budget,
  concatenated = 1,
): Promise<ArchiveListing> {
  const out: ArchiveListing = { format: 'zip', entries: [], listed: true, encrypted: false, truncated: false };
  let zip: ZipFile | undefined;
  try {
    const whole = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const layout = zipLayout(whole);
    // A self-extractor's stub or junk in front, its offsets counted from the archive proper (unzip's
    // "extra bytes at beginning"): yauzl counts from the buffer's start, so it gets the archive proper.
    const buffer = layout && layout.prefix > 0 ? whole.subarray(layout.prefix) : whole;
    // Names decoded by us (below) so that a name yauzl would refuse ("..\\x.exe", "C:/x") is still listed;
    // sizes not checked, so that one odd entry does not hide the others.
    zip = await fromBufferPromise(buffer, { lazyEntries: true, decodeStrings: false, validateEntrySizes: false });
    let read = 0;
    for await (const entry of zip.eachEntry()) {
      if (budget.entries <= 0) {
        out.truncated = true;
        break;
      }
      budget.entries--;
      read++;
      const name = getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
      if (name.endsWith('/')) continue; // a directory
      const encrypted = (entry.generalPurposeBitFlag & 0x1) !== 0; // APPNOTE §4.4.4, bit 0
      if (encrypted) out.encrypted = true;
      const path = [...prefix, name];
      out.entries.push({ path, encrypted });
      if (encrypted || !isArchiveName(name)) continue;
      if (depth >= maxNesting) {
        out.partial = true; // left unopened by the nesting limit: what it holds is unknown, not clean
        continue;
      }
      const inner = await inflate(zip, entry, budget);
      // Over the budget, or stored with a method yauzl cannot inflate (Deflate64, LZMA): unknown, not clean.
      if (inner === undefined || inner === 'over-budget') out.partial = true;
      else await openNested(inner, depth + 1, path, budget, name, out);
    }
    if (layout) nameTheRest(whole, layout, read, prefix, out);
    if (layout) await listInFront(whole, layout, depth, prefix, budget, concatenated, out);
  } catch (error) {
    out.listed = false;
    // yauzl stops at bit 6 (APPNOTE §4.4.4, strong encryption), which it cannot read: the archive is encrypted.
    if (error instanceof Error && /strong encryption/.test(error.message)) out.encrypted = true;
  } finally {
    zip?.close();
  }
  return out;
}

/**
 * Every entry after the first `skip` (those yauzl gave), named from the central directory itself
 * (APPNOTE §4.3.12): the ones past the entry budget, and any past the count the end record declares,
 * which yauzl stops at and a hand-edited archive may understate. Only the first name of each kind is
 * kept, which is all the signals report (the strongest of each); plain documents and unknown names
 * are not kept. A nested ZIP here is not opened: what it holds is unknown. Each header moves on by 46
 * bytes at least, so the walk is bounded by the directory's size.
 */
function nameTheRest(bytes: Buffer, layout: ZipLayout, skip: number, prefix: string[], out: ArchiveListing): void {
  const kept = new Set<string>();
  let at = layout.directoryStart;
  for (let index = 0; at < layout.directoryEnd; index++) {
    // A fixed part of 46 bytes, then the name, the extra field and the comment. Another record
    // (a digital signature, §4.3.13) may end the directory.
    const next =
      at + 46 <= layout.directoryEnd && bytes.readUInt32LE(at) === CENTRAL_HEADER
        ? at + 46 + bytes.readUInt16LE(at + 28) + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32)
        : undefined;
    if (next === undefined || next > layout.directoryEnd) {
      if (index < layout.entries) out.listed = false; // damaged before the declared end
      return;
    }
    if (index >= skip) {
      const flags = bytes.readUInt16LE(at + 8);
      const nameEnd = at + 46 + bytes.readUInt16LE(at + 28);
      const extras = extraFields(bytes, nameEnd, nameEnd + bytes.readUInt16LE(at + 30));
      const name = getFileNameLowLevel(flags, bytes.subarray(at + 46, nameEnd), extras, false);
      const encrypted = (flags & 0x1) !== 0; // APPNOTE §4.4.4, bit 0
      if (encrypted) out.encrypted = true;
      const kind = deceptiveName(name) ? 'disguised' : kindByName(name);
      // A nested archive left unopened: what it holds is unknown.
      if (!encrypted && isArchiveName(name)) out.partial = true;
      if (!name.endsWith('/') && kind !== 'document' && kind !== 'other' && !kept.has(kind)) {
        kept.add(kind);
        out.entries.push({ path: [...prefix, name], encrypted });
      }
    }
    at = next;
  }
}

/**
 * A ZIP concatenated in front of the one found from the end (Perception Point, November 2024): 7-Zip
 * and WinRAR list the first archive, unzip and bsdtar the last, so both are judged. An end record
 * (APPNOTE §4.3.16) before the directory of the archive found from the end ends another archive, which
 * is listed as one, within the same budget; at most `maxConcatenated` per buffer, and each a strictly
 * shorter buffer. Local headers (§4.3.7) in front with no end record of their own are entries no
 * directory names: unknown, not clean.
 */
async function listInFront(
  whole: Buffer,
  layout: ZipLayout,
  depth: number,
  prefix: string[],
  budget: Budget,
  concatenated: number,
  out: ArchiveListing,
): Promise<void> {
  const before = Math.min(layout.prefix, layout.directoryStart);
  if (before < 4) return;
  if (concatenated >= maxConcatenated) {
    out.partial = true;
    return;
  }
  const at = whole.lastIndexOf(END_SIGNATURE, layout.directoryStart - 22);
  const end = at < 0 ? -1 : at + 22 + whole.readUInt16LE(at + 20);
  const front = end > 0 && end <= layout.directoryStart ? whole.subarray(0, end) : undefined;
  const other = front && zipLayout(front);
  if (other && other.entries > 0) {
    const listed = await listZip(front!, depth, prefix, budget, concatenated + 1);
    out.entries.push(...listed.entries);
    if (listed.encrypted) out.encrypted = true;
    if (!listed.listed) out.listed = false;
    if (listed.truncated) out.truncated = true;
    if (listed.partial) out.partial = true;
  } else if (whole.readUInt32LE(0) === LOCAL_HEADER && layout.prefix > 0) {
    out.partial = true;
  }
}

function extraFields(bytes: Buffer, start: number, end: number): ExtraField[] {
  try {
    return parseExtraFields(bytes.subarray(start, end));
  } catch {
    return []; // a damaged extra field: the plain name is used
  }
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50; // APPNOTE §4.3.16
const ZIP64_END_LOCATOR = 0x07064b50; // §4.3.15
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50; // §4.3.14
const CENTRAL_HEADER = 0x02014b50; // §4.3.12
const LOCAL_HEADER = 0x04034b50; // §4.3.7
const END_SIGNATURE = Buffer.from([0x50, 0x4b, 0x05, 0x06]);

/** Where a ZIP's central directory lies in a buffer, as found from the end of the buffer. */
interface ZipLayout {
  /** Bytes in front of the archive proper, which its offsets do not count. */
  prefix: number;
  directoryStart: number;
  directoryEnd: number;
  /** Entries the archive declares. */
  entries: number;
}

/**
 * The end of central directory record (APPNOTE §4.3.16) is the last 22 bytes plus a comment of at
 * most 65,535: searched backwards as unzip and yauzl do, with the comment length checked as yauzl
 * checks it. Where the directory really starts, minus where the record says it does, is the number
 * of bytes in front of the archive (Info-ZIP unzip's "extra bytes at beginning"). A ZIP64 archive
 * gives its counts in the ZIP64 record (§4.3.14) that the locator (§4.3.15) points at. Undefined when
 * there is no consistent record; reads at most 64 KB and the directory's first header.
 */
function zipLayout(bytes: Uint8Array): ZipLayout | undefined {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = buffer.lastIndexOf(END_SIGNATURE, buffer.length - 22);
  if (at < 0 || at < buffer.length - 22 - 0xffff) return undefined;
  if (buffer.readUInt32LE(at) !== END_OF_CENTRAL_DIRECTORY || buffer.readUInt16LE(at + 20) !== buffer.length - at - 22)
    return undefined;
  let entries = buffer.readUInt16LE(at + 10);
  let size = buffer.readUInt32LE(at + 12);
  let offset = buffer.readUInt32LE(at + 16);
  let end = at; // where the directory ends: the record after it
  const locator = at - 20;
  if (locator >= 0 && buffer.readUInt32LE(locator) === ZIP64_END_LOCATOR) {
    const stated = Number(buffer.readBigUInt64LE(locator + 8));
    // The record is where the locator says, or (with bytes in front) right before the locator.
    const record = [stated, locator - 56].find(
      (p) => p >= 0 && p + 56 <= locator && buffer.readUInt32LE(p) === ZIP64_END_OF_CENTRAL_DIRECTORY,
    );
    if (record === undefined) return undefined;
    entries = Number(buffer.readBigUInt64LE(record + 32));
    size = Number(buffer.readBigUInt64LE(record + 40));
    offset = Number(buffer.readBigUInt64LE(record + 48));
    end = record;
  }
  const prefix = end - size - offset;
  if (prefix < 0 || !Number.isSafeInteger(prefix)) return undefined;
  const directoryStart = prefix + offset;
  if (entries > 0 && (directoryStart + 46 > end || buffer.readUInt32LE(directoryStart) !== CENTRAL_HEADER))
    return undefined;
  return { prefix, directoryStart, directoryEnd: end, entries };
}

/**
 * A nested entry's bytes; 'over-budget' when it would exceed the message's inflate budget; undefined
 * when it cannot be read.
 */
async function inflate(zip: ZipFile, entry: Entry, budget: Budget): Promise<Uint8Array | 'over-budget' | undefined> {
  if (!entry.canDecodeFileData()) return undefined;
  if (entry.uncompressedSize > budget.bytes) return 'over-budget';
  let stream: Readable | undefined;
  try {
    stream = await zip.openReadStreamPromise(entry);
    const chunks: Buffer[] = [];
    // The declared size may lie (a ZIP bomb): count what actually comes out.
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      budget.bytes -= chunk.length;
      if (budget.bytes < 0) return 'over-budget';
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  } catch {
    return undefined;
  } finally {
    stream?.destroy();
  }
}

/**
 * The original file name a gzip header may carry: FLG.FNAME, after FEXTRA (RFC 1952 §2.3.1); without
 * one, the attachment's name less ".gz". A tar inside (its first 512 bytes a tar header) is inflated
 * within the message's byte budget and listed at the same depth, .tar.gz being one archive to its
 * user; past the budget, what the rest holds is unknown.
 */
async function listGzip(
  bytes: Uint8Array,
  depth: number,
  prefix: string[],
  budget: Budget,
  outerName: string,
): Promise<ArchiveListing> {
  const out: ArchiveListing = { format: 'gzip', entries: [], listed: true, encrypted: false, truncated: false };
  const flags = bytes[3] ?? 0;
  const fextra = 0x04;
  const fname = 0x08;
  let at = 10;
  if (flags & fextra) at += 2 + ((bytes[10] ?? 0) | ((bytes[11] ?? 0) << 8));
  if (flags & fname) {
    const end = bytes.indexOf(0, at);
    if (end < 0 || end - at > 1024) return { ...out, listed: false };
    const name = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', at, end); // ISO 8859-1 per §2.3.1
    out.entries.push({ path: [...prefix, name], encrypted: false });
  } else {
    const inner = innerName(outerName);
    if (inner !== undefined) out.entries.push({ path: [...prefix, inner], encrypted: false });
  }
  const inflated = await gunzipWithin(bytes, budget);
  if (inflated.data.length < 512 || !isTarHeader(inflated.data)) return out;
  const tar = await listTar(inflated.data, depth, prefix, budget);
  merge(out, tar);
  if (inflated.over) {
    out.partial = true; // the tar goes on past the budget: its walk was cut by us, not damaged
    out.listed = true;
  } else if (inflated.damaged) out.listed = false;
  return out;
}

/** Inflated bytes of a gzip file, cut where the message's byte budget ends; the first chunk only when it is not a tar. */
async function gunzipWithin(
  bytes: Uint8Array,
  budget: Budget,
): Promise<{ data: Buffer; over: boolean; damaged: boolean }> {
  const chunks: Buffer[] = [];
  let over = false;
  let damaged = false;
  const gunzip = createGunzip();
  gunzip.on('error', () => {}); // reported through the iteration below
  gunzip.end(bytes);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      // The header says nothing of the size: count what actually comes out (a gzip bomb).
      if (chunk.length > budget.bytes) {
        chunks.push(chunk.subarray(0, Math.max(0, budget.bytes)));
        budget.bytes = 0;
        over = true;
        break;
      }
      budget.bytes -= chunk.length;
      chunks.push(chunk);
      if (chunks.length === 1 && chunk.length >= 512 && !isTarHeader(chunk)) break; // not a tar: nothing to list
    }
  } catch {
    damaged = true; // cut short or corrupt: what came out before is still read
  } finally {
    gunzip.destroy();
  }
  return { data: Buffer.concat(chunks), over, damaged };
}

/**
 * A tar's members, each judged by name; an archive among them is listed in turn while `depth` is
 * below maxNesting, else left unopened (partial). Past the entry budget the walk goes on, keeping the
 * first name of each kind as nameTheRest does for ZIP: each header costs only its 512 bytes.
 */
async function listTar(bytes: Uint8Array, depth: number, prefix: string[], budget: Budget): Promise<ArchiveListing> {
  const out: ArchiveListing = { format: 'tar', entries: [], listed: true, encrypted: false, truncated: false };
  const nested: { data: Uint8Array; path: string[]; name: string }[] = [];
  const kept = new Set<string>();
  out.listed = walkTar(bytes, ({ name, data }) => {
    const path = [...prefix, name];
    const archive = isArchiveName(name);
    if (budget.entries <= 0) {
      out.truncated = true;
      keepFirstOfKind(name, path, kept, out);
      if (archive) out.partial = true; // not opened: what it holds is unknown
      return true;
    }
    budget.entries--;
    out.entries.push({ path, encrypted: false });
    if (archive && depth >= maxNesting)
      out.partial = true; // left unopened by the nesting limit
    else if (archive) nested.push({ data, path, name });
    return true;
  });
  for (const { data, path, name } of nested) await openNested(data, depth + 1, path, budget, name, out);
  return out;
}

/**
 * A member named as an archive, as Windows saves the name (`inner.zip.` and `inner.zip ` are saved as
 * `inner.zip`; file-types.ts extensionOf): 7-Zip and Explorer open it whatever its case or trailing dots.
 */
function isArchiveName(name: string): boolean {
  return kindByName(name) === 'archive';
}

/**
 * An archive inside a ZIP or a tar, listed as a top-level one is (listNested) and added to `out`; one
 * that is no archive we can read (an ARJ, a file only named .zip, a damaged 7z) leaves part of `out`
 * unknown, not clean: partial.
 */
async function openNested(
  bytes: Uint8Array,
  depth: number,
  prefix: string[],
  budget: Budget,
  name: string,
  out: ArchiveListing,
): Promise<void> {
  const inner = await listNested(bytes, depth, prefix, budget, name);
  if (inner) merge(out, inner, true);
  else out.partial = true;
}

/** An archive inside a ZIP or a tar, listed by what its bytes are; undefined when they are no archive we know. */
async function listNested(
  bytes: Uint8Array,
  depth: number,
  prefix: string[],
  budget: Budget,
  name: string,
): Promise<ArchiveListing | undefined> {
  const format = archiveFormatOf(bytes);
  switch (format) {
    case 'zip':
      return listZip(bytes, depth, prefix, budget);
    case 'tar':
      return listTar(bytes, depth, prefix, budget);
    case 'gzip':
      return listGzip(bytes, depth, prefix, budget, name);
    case 'cab':
      return listCabinet(bytes, prefix, budget);
    case 'rar': {
      const rar = listRar(bytes, Math.max(0, budget.entries));
      budget.entries -= rar.names.length;
      const entries = rar.names.map(({ name, encrypted }) => ({ path: [...prefix, name], encrypted }));
      return { format, entries, listed: rar.listed, encrypted: rar.encrypted, truncated: rar.truncated };
    }
    case 'xz':
    case 'bzip2':
    case '7z':
      return compressedOnly(format, prefix, name);
    case undefined:
      return undefined;
    default:
      return format satisfies never;
  }
}

/**
 * One archive's listing added to the one around it. `inside`: a nested archive that could not be
 * listed (a 7z, a damaged one) leaves part of the outer one unknown, which the outer one reports as
 * partial rather than as itself unreadable.
 */
function merge(out: ArchiveListing, inner: ArchiveListing, inside = false): void {
  out.entries.push(...inner.entries);
  if (inner.encrypted) out.encrypted = true;
  if (!inner.listed) {
    if (inside) out.partial = true;
    else out.listed = false;
  }
  if (inner.truncated) out.truncated = true;
  if (inner.partial) out.partial = true;
}

/** A CAB's names, within the message's entry budget; archives inside are compressed, so only named. */
function listCabinet(bytes: Uint8Array, prefix: string[], budget: Budget): ArchiveListing {
  const cab = listCab(bytes, Math.max(0, budget.entries));
  budget.entries -= cab.names.length;
  const entries = cab.names.map((name) => ({ path: [...prefix, name], encrypted: false }));
  return { format: 'cab', entries, listed: cab.listed, encrypted: false, truncated: cab.truncated };
}

/**
 * A compressed file Postern cannot decompress (xz, bzip2) or list (7z): not listed, and named after
 * what it decompresses to when its name says so. xz and bzip2 have no encryption; 7z may.
 */
function compressedOnly(format: 'xz' | 'bzip2' | '7z', prefix: string[], name: string): ArchiveListing {
  const inner = format === '7z' ? undefined : innerName(name);
  const entries = inner === undefined ? [] : [{ path: [...prefix, inner], encrypted: false }];
  return { format, entries, listed: false, encrypted: format === '7z' ? undefined : false, truncated: false };
}

/**
 * The name a compressed file decompresses to, as gunzip, xz -d and bunzip2 name it: less its
 * extension ("invoice.exe.xz" → "invoice.exe"), a tar for the short forms (".tgz", ".txz", ".tbz2");
 * undefined when the name has none of these extensions. The last part of a path only.
 */
function innerName(name: string): string | undefined {
  let end = name.length;
  // Trimmed by hand: a regex anchored only at the end retries from every position of a long run.
  while (end > 0 && /[\s.]/u.test(name[end - 1]!)) end--;
  const base = name.slice(name.lastIndexOf('/', end - 1) + 1, end);
  const plain = /^(.+)\.(?:xz|lzma|bz2|bz|gz|gzip|z)$/i.exec(base);
  if (plain) return plain[1];
  const tar = /^(.+)\.(?:txz|tbz2|tbz|tb2|tgz|taz)$/i.exec(base);
  return tar ? `${tar[1]}.tar` : undefined;
}

/** The first name of each kind a signal reports, past the entry budget (as nameTheRest keeps them). */
function keepFirstOfKind(name: string, path: string[], kept: Set<string>, out: ArchiveListing): void {
  const kind = deceptiveName(name) ? 'disguised' : kindByName(name);
  if (kind === 'document' || kind === 'other' || kind === 'archive' || kept.has(kind)) return;
  kept.add(kind);
  out.entries.push({ path, encrypted: false });
}

/** xz's stream header magic ("The .xz File Format" 1.2.0 §2.1.1.1). */
const XZ = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

function startsWithBytes(bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/**
 * bzip2: "BZh" and a block size digit, then a block's magic (the digits of pi) or, for an empty
 * stream, the end-of-stream magic (the digits of sqrt(pi)), as bzip2's own decompressor checks them.
 */
function isBzip2(bytes: Uint8Array): boolean {
  if (!startsWithBytes(bytes, [0x42, 0x5a, 0x68]) || bytes[3]! < 0x31 || bytes[3]! > 0x39) return false;
  return (
    startsWithBytes(bytes.subarray(4), [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]) ||
    startsWithBytes(bytes.subarray(4), [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
  );
}
