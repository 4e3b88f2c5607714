/**
 * The file names in a Microsoft cabinet (MS-CAB, "Microsoft Cabinet Format" 2.1): CFHEADER gives the
 * offset and count of the CFFILE entries (§2.1), each a fixed 16 bytes and a NUL-terminated name
 * (§2.3), stored in the clear whatever compression the folders use. Nothing is decompressed, so
 * archives inside a cabinet are only named. Cabinets have no encryption.
 *
 * Bounded by the header's 16-bit file count and by `maxEntries`. Never throws: a damaged cabinet is
 * reported as not listed, with the names read before the damage.
 */

export interface CabListing {
  names: string[];
  /** Every CFFILE entry the header counts was read. */
  listed: boolean;
  truncated: boolean;
}

const MSCF = [0x4d, 0x53, 0x43, 0x46];
/** §2.3 szName: at most 256 bytes with its NUL (CB_MAX_FILENAME). */
const maxName = 256;
/** §2.3 attribs: _A_NAME_IS_UTF, the name is UTF-8 rather than the archiver's code page. */
const nameIsUtf = 0x80;

export function isCab(bytes: Uint8Array): boolean {
  // §2.1: the signature, then reserved1, which must be zero.
  return bytes.length >= 36 && MSCF.every((b, i) => bytes[i] === b) && readU32(bytes, 4) === 0;
}

export function listCab(bytes: Uint8Array, maxEntries: number): CabListing {
  const out: CabListing = { names: [], listed: false, truncated: false };
  if (!isCab(bytes)) return out;
  const coffFiles = readU32(bytes, 16); // §2.1: absolute offset of the first CFFILE entry
  const cFiles = bytes[28]! | (bytes[29]! << 8);
  let at = coffFiles;
  for (let i = 0; i < cFiles; i++) {
    if (out.names.length >= maxEntries) {
      out.truncated = true;
      out.listed = true; // as for ZIP: listed as far as the limit
      return out;
    }
    const nameAt = at + 16;
    if (nameAt >= bytes.length) return out;
    const end = bytes.subarray(nameAt, nameAt + maxName).indexOf(0);
    if (end < 0) return out; // unterminated, or cut short
    const attribs = bytes[at + 14]! | (bytes[at + 15]! << 8);
    const raw = Buffer.from(bytes.buffer, bytes.byteOffset + nameAt, end);
    // A name in the archiver's code page is read as Latin-1, which keeps its extension; paths use "\".
    out.names.push(raw.toString(attribs & nameIsUtf ? 'utf8' : 'latin1').replaceAll('\\', '/'));
    at = nameAt + end + 1;
  }
  out.listed = true;
  return out;
}

function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}
