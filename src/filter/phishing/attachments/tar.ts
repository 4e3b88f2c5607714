/**
 * The members of a tar archive, read from its 512-byte headers (POSIX.1-2017 `pax`, "ustar Interchange
 * Format"; GNU tar's manual, "Basic Tar Format"): V7, ustar (the 155-byte prefix joined to the name),
 * GNU long names (a 'L' entry whose data is the next entry's name) and pax extended headers (an 'x'
 * entry whose `path=` record names the next entry). Nothing is compressed in a tar, so each member's
 * data lies in place after its header and is handed out as a view, not copied.
 *
 * Bounded by the buffer (every header moves forward by 512 bytes at least) and by the caller, which
 * stops the walk when it has seen enough. Never throws: a damaged archive ends the walk, `listed` false.
 */

export interface TarMember {
  name: string;
  /** The member's bytes as far as the buffer holds them (a cut archive gives a short view). */
  data: Uint8Array;
}

const BLOCK = 512;
/** Longest GNU long name or pax header read: Linux's PATH_MAX is 4096; longer is not a name but padding. */
const maxLongName = 64 * 1024;

/**
 * A tar header: its checksum (the byte sum with the checksum field read as spaces, POSIX "ustar
 * Interchange Format") matches. Some old tars summed signed bytes, so that sum is accepted too.
 */
export function isTarHeader(bytes: Uint8Array, at = 0): boolean {
  if (at + BLOCK > bytes.length) return false;
  const stated = octal(bytes, at + 148, 8);
  if (stated === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : bytes[at + i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  // An all-zero block sums to 256 (the spaces) and says 0: it is the end of an archive, not a header.
  return unsigned !== 256 && (stated === unsigned || stated === signed);
}

/**
 * Walks the headers and calls `visit` for each member that extracts as a file (directories and the
 * headers that only describe the next member are not members); `visit` returns false to stop.
 * Returns whether the walk reached the archive's end (two zero blocks, one as bsdtar allows, or the
 * buffer's end right after a member) or was stopped by `visit`; false for damage or a cut.
 */
export function walkTar(bytes: Uint8Array, visit: (member: TarMember) => boolean): boolean {
  let at = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (at + BLOCK <= bytes.length) {
    if (bytes.subarray(at, at + BLOCK).every((b) => b === 0)) return true; // the end-of-archive marker
    if (!isTarHeader(bytes, at)) return false;
    const size = sizeOf(bytes, at);
    if (size === undefined) return false;
    const start = at + BLOCK;
    const data = bytes.subarray(start, Math.min(bytes.length, start + size));
    const type = String.fromCharCode(bytes[at + 156]!);
    if (type === 'L' || type === 'x') {
      if (size > maxLongName || data.length < size) return false;
      if (type === 'L') longName = cString(data, 0, data.length);
      else paxPath = paxRecord(data, 'path') ?? paxPath;
    } else if (type !== 'K' && type !== 'g' && type !== 'V') {
      // 'K' is a long link target, 'g' pax settings for all later entries, 'V' a volume label: none a member.
      const name = paxPath ?? longName ?? headerName(bytes, at);
      longName = undefined;
      paxPath = undefined;
      if (type !== '5' && !name.endsWith('/') && !visit({ name, data })) return true;
    }
    // Links, devices and FIFOs have no data, whatever their size field says (POSIX "typeflag").
    const stored = type === '1' || type === '2' || type === '3' || type === '4' || type === '6' ? 0 : size;
    at = start + Math.ceil(stored / BLOCK) * BLOCK;
    if (at > bytes.length) return false; // the last member goes past the end: cut short
  }
  return at === bytes.length;
}

/** ustar joins `prefix/name` when magic is "ustar\0"; GNU tar ("ustar  \0") keeps other fields there. */
function headerName(bytes: Uint8Array, at: number): string {
  const name = cString(bytes, at, 100);
  const posix = cString(bytes, at + 257, 6) === 'ustar';
  const prefix = posix ? cString(bytes, at + 345, 155) : '';
  return prefix === '' ? name : `${prefix}/${name}`;
}

/** A pax record "%d %s=%s\n", its length counting itself (POSIX `pax`, "pax Extended Header"). */
function paxRecord(data: Uint8Array, key: string): string | undefined {
  // Lengths count bytes, not characters: the records are cut from the bytes, then decoded as UTF-8.
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let found: string | undefined;
  for (let at = 0; at < text.length; ) {
    const space = text.indexOf(0x20, at);
    const digits = space < 0 ? '' : text.toString('latin1', at, space);
    const length = Number(digits);
    if (!/^\d{1,7}$/.test(digits) || length <= space - at) break;
    const record = text.toString('utf8', space + 1, at + length - 1); // without the trailing newline
    const equals = record.indexOf('=');
    if (equals > 0 && record.slice(0, equals) === key) found = record.slice(equals + 1);
    at += length;
  }
  return found;
}

/** The size field: octal digits, or GNU's base-256 when the first byte's high bit is set (sizes of 8 GB and more). */
function sizeOf(bytes: Uint8Array, at: number): number | undefined {
  const first = bytes[at + 124]!;
  if (first & 0x80) {
    let value = first & 0x7f;
    for (let i = 1; i < 12; i++) value = value * 256 + bytes[at + 124 + i]!;
    return Number.isSafeInteger(value) ? value : undefined;
  }
  return octal(bytes, at + 124, 12);
}

/** A numeric field: octal digits, padded with spaces or NULs on either side. */
function octal(bytes: Uint8Array, at: number, length: number): number | undefined {
  const text = cString(bytes, at, length).trim();
  if (!/^[0-7]{1,12}$/.test(text)) return text === '' ? 0 : undefined;
  return Number.parseInt(text, 8);
}

/** A NUL-terminated field, as UTF-8 (what GNU tar and bsdtar write today; ASCII names read the same either way). */
function cString(bytes: Uint8Array, at: number, length: number): string {
  const field = bytes.subarray(at, at + length);
  const end = field.indexOf(0);
  const raw = end < 0 ? field : field.subarray(0, end);
  return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
}
