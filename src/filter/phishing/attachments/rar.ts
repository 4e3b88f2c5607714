/**
 * The names in a RAR archive, read from its block headers without decompressing anything: RAR 1.5–4
 * (RARLAB's technote.txt, "RAR archive file format") and RAR 5 ("RAR 5.0 archive format"). File names
 * are stored in the clear unless the archive encrypts its headers (`rar -hp`), which both formats
 * announce before the first file: such an archive is reported encrypted and not listed.
 *
 * Bounded by the archive's own size (every block moves forward) and by `maxEntries`. Never throws: a
 * damaged archive is reported as not listed, with the names read before the damage.
 */

export interface RarListing {
  names: { name: string; encrypted: boolean }[];
  /** Every block up to the end of the archive was read. */
  listed: boolean;
  /** The headers are encrypted (names hidden), or some file is. */
  encrypted: boolean;
  truncated: boolean;
}

const RAR4 = [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00];
const RAR5 = [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00];

export function listRar(bytes: Uint8Array, maxEntries: number): RarListing {
  const out: RarListing = { names: [], listed: false, encrypted: false, truncated: false };
  try {
    if (RAR5.every((b, i) => bytes[i] === b)) readRar5(bytes, out, maxEntries);
    else if (RAR4.every((b, i) => bytes[i] === b)) readRar4(bytes, out, maxEntries);
  } catch {
    out.listed = false; // a header past the end, a length that does not add up
  }
  return out;
}

/** technote.txt: blocks of HEAD_CRC(2) HEAD_TYPE(1) HEAD_FLAGS(2) HEAD_SIZE(2) [ADD_SIZE(4)], little-endian. */
function readRar4(bytes: Uint8Array, out: RarListing, maxEntries: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = RAR4.length; // the marker block is the signature
  while (at + 7 <= bytes.length) {
    const type = view.getUint8(at + 2);
    const flags = view.getUint16(at + 3, true);
    const headSize = view.getUint16(at + 5, true);
    if (headSize < 7) return;
    // 0x8000: ADD_SIZE follows; for a file header (0x74) it is PACK_SIZE, the data after the header.
    let addSize = flags & 0x8000 ? view.getUint32(at + 7, true) : 0;
    if (type === 0x74 && flags & 0x0100) addSize += view.getUint32(at + 32, true) * 2 ** 32; // HIGH_PACK_SIZE
    if (type === 0x73 && flags & 0x0080) {
      out.encrypted = true; // MHD_PASSWORD: the block headers are encrypted
      return;
    }
    if (type === 0x74) {
      if (out.names.length >= maxEntries) {
        out.truncated = true; // as for ZIP: listed as far as the limit
        out.listed = true;
        return;
      }
      const large = flags & 0x0100 ? 8 : 0; // HIGH_PACK_SIZE and HIGH_UNP_SIZE
      const nameSize = view.getUint16(at + 26, true);
      const nameAt = at + 32 + large;
      if (nameAt + nameSize > at + headSize) return;
      let raw = bytes.subarray(nameAt, nameAt + nameSize);
      // 0x0200: the name in the archiver's code page, a zero, then an encoded Unicode form (the first
      // part is read); without the zero the whole name is UTF-8.
      const zero = raw.indexOf(0);
      const unicode = (flags & 0x0200) !== 0;
      if (unicode && zero >= 0) raw = raw.subarray(0, zero);
      const encrypted = (flags & 0x0004) !== 0;
      const directory = (flags & 0x00e0) === 0x00e0;
      if (!directory) out.names.push({ name: decodeName(raw, unicode && zero < 0), encrypted });
      if (encrypted) out.encrypted = true;
    }
    if (type === 0x7b) break; // ENDARC_HEAD
    at += headSize + addSize;
    if (at > bytes.length) return; // cut short: the last block goes past the end
  }
  out.listed = true;
}

/** "RAR 5.0 archive format": blocks of CRC32(4), header size (vint), then the header, then its data area. */
function readRar5(bytes: Uint8Array, out: RarListing, maxEntries: number): void {
  let at = RAR5.length;
  while (at < bytes.length) {
    let p = at + 4;
    const headerSize = vint(bytes, p);
    p = headerSize.next;
    const headerEnd = p + headerSize.value;
    const type = vint(bytes, p);
    if (type.value === 4) {
      out.encrypted = true; // the archive encryption header: every later header is encrypted
      return;
    }
    if (headerSize.value === 0 || headerEnd > bytes.length) return;
    const flags = vint(bytes, type.next);
    p = flags.next;
    const extraSize = flags.value & 0x01 ? vint(bytes, p) : undefined;
    if (extraSize) p = extraSize.next;
    const dataSize = flags.value & 0x02 ? vint(bytes, p) : undefined;
    if (dataSize) p = dataSize.next;
    if (type.value === 2) {
      if (out.names.length >= maxEntries) {
        out.truncated = true; // as for ZIP: listed as far as the limit
        out.listed = true;
        return;
      }
      const fileFlags = vint(bytes, p);
      p = vint(bytes, vint(bytes, fileFlags.next).next).next; // unpacked size, attributes
      if (fileFlags.value & 0x02) p += 4; // mtime
      if (fileFlags.value & 0x04) p += 4; // data CRC32
      p = vint(bytes, vint(bytes, p).next).next; // compression information, host OS
      const nameLength = vint(bytes, p);
      p = nameLength.next;
      if (p + nameLength.value > headerEnd) return;
      const name = decodeName(bytes.subarray(p, p + nameLength.value), true);
      const extraStart = headerEnd - (extraSize?.value ?? 0);
      const encrypted = hasEncryptionRecord(bytes, extraStart, headerEnd);
      if ((fileFlags.value & 0x01) === 0) out.names.push({ name, encrypted }); // 0x01: a directory
      if (encrypted) out.encrypted = true;
    }
    if (type.value === 5) break; // end of archive
    at = headerEnd + (dataSize?.value ?? 0);
    if (at > bytes.length) return; // cut short: the last data area goes past the end
  }
  out.listed = true;
}

/** A file header's extra area holds records of size (vint), type (vint), data; type 1 is file encryption. */
function hasEncryptionRecord(bytes: Uint8Array, from: number, to: number): boolean {
  let p = from;
  while (p < to) {
    const size = vint(bytes, p);
    if (size.value === 0) return false;
    const type = vint(bytes, size.next);
    if (type.value === 1) return true;
    p = size.next + size.value;
  }
  return false;
}

/** A RAR 5 variable-length integer: 7 bits per byte, low bits first, the high bit continuing (at most 10 bytes). */
function vint(bytes: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  for (let i = 0; i < 10; i++) {
    const byte = bytes[at + i];
    if (byte === undefined) throw new RangeError('vint past the end');
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return { value, next: at + i + 1 };
  }
  throw new RangeError('vint longer than 10 bytes');
}

/** UTF-8 (RAR 5, and RAR 4's Unicode names); a RAR 4 name in its code page is read as Latin-1, which keeps extensions. */
function decodeName(raw: Uint8Array, utf8: boolean): string {
  const buffer = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  return buffer.toString(utf8 ? 'utf8' : 'latin1').replaceAll('\\', '/');
}
