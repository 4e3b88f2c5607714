/**
 * Writes src/filter/phishing/confusables-data.ts, the UTS #39 §4 prototype table (confusables.txt), from either
 *   - a confusables.txt given as the first argument (`source ; target ; MA # comment`, UTS #39 §4.1 data), or
 *   - by default, the ICU data compiled into the Node.js binary running this script: ICU's gencfu builds its
 *     `confusables.cfu` item from the confusables.txt of ICU's Unicode version, one key per source code point.
 * This machine reaches only the npm registry and Debian's archive; no package there ships a confusables.txt
 * newer than Unicode 13, but the `node` package's binary (ICU 78, Unicode 17) carries the compiled table.
 *
 * Run: node_modules/.bin/node scripts/generate-confusables.ts [path/to/confusables.txt]
 */
import { readFileSync, writeFileSync } from 'node:fs';

const out = new URL('../src/filter/phishing/confusables-data.ts', import.meta.url);

type Table = { map: Map<number, number[]>; unicodeVersion: string; source: string };

/** confusables.txt lines: `0430 ;\t0061 ;\tMA\t# ( а → a ) CYRILLIC SMALL LETTER A → LATIN SMALL LETTER A`. */
function fromText(path: string): Table {
  const text = readFileSync(path, 'utf8');
  const version = /^#\s*Version:\s*(\S+)/m.exec(text)?.[1];
  if (version === undefined) throw new Error(`${path}: no "# Version:" line`);
  const map = new Map<number, number[]>();
  for (const line of text.split(/\r?\n/)) {
    const data = line.replace(/#.*/, '').trim();
    if (data === '') continue;
    const [source, target, type] = data.split(';').map((field) => field.trim());
    if (source === undefined || target === undefined || type !== 'MA' || /\s/.test(source))
      throw new Error(`${path}: unexpected line: ${line}`);
    map.set(
      Number.parseInt(source, 16),
      target.split(/\s+/).map((cp) => Number.parseInt(cp, 16)),
    );
  }
  return { map, unicodeVersion: version, source: `confusables.txt read from ${path}` };
}

/** Finds the ICU common data package (format "CmnD") in a binary and returns the bytes of one item of it. */
function icuItem(bin: Buffer, suffix: string): { name: string; at: number } {
  for (let i = bin.indexOf('CmnD'); i !== -1; i = bin.indexOf('CmnD', i + 1)) {
    const header = i - 12; // MappedData {headerSize u16, magic 0xda 0x27} then UDataInfo up to dataFormat
    if (bin[header + 2] !== 0xda || bin[header + 3] !== 0x27 || bin[header + 8] !== 0) continue; // little-endian
    const toc = header + bin.readUInt16LE(header);
    const count = bin.readUInt32LE(toc);
    for (let k = 0; k < count; k++) {
      const nameAt = toc + bin.readUInt32LE(toc + 4 + 8 * k);
      const name = bin.toString('latin1', nameAt, bin.indexOf(0, nameAt));
      if (name.endsWith(suffix)) return { name, at: toc + bin.readUInt32LE(toc + 8 + 8 * k) };
    }
  }
  throw new Error(`no ICU common data item *${suffix} in ${process.execPath}`);
}

/**
 * ICU 58+ spoof data (i18n/uspoof_impl.h, format 2): a SpoofDataHeader (magic 0x3845fdef), a sorted key table
 * of int32 (bits 0–23 the source code point, bits 24–31 the prototype's UTF-16 length − 1), a parallel uint16
 * value table (the prototype itself when one unit long, else its offset in the string table) and the strings.
 */
function fromNodeIcu(): Table {
  const bin = readFileSync(process.execPath);
  const { name, at } = icuItem(bin, '/confusables.cfu');
  if (bin.toString('latin1', at + 12, at + 16) !== 'Cfu ') throw new Error(`${name}: not spoof data`);
  const base = at + bin.readUInt16LE(at);
  if (bin.readUInt32LE(base) !== 0x3845fdef || bin[base + 4] !== 2) throw new Error(`${name}: unknown format`);
  const field = (n: number) => bin.readInt32LE(base + 12 + 4 * n);
  const [keys, keyCount, values, valueCount, strings, stringLength] = [0, 1, 2, 3, 4, 5].map(field) as number[];
  if (keys === undefined || keyCount !== valueCount || values === undefined || strings === undefined)
    throw new Error(`${name}: inconsistent header`);
  const map = new Map<number, number[]>();
  for (let k = 0; k < (keyCount ?? 0); k++) {
    const key = bin.readUInt32LE(base + keys + 4 * k);
    const length = (key >>> 24) + 1;
    const value = bin.readUInt16LE(base + values + 2 * k);
    if (length > 1 && value + length > (stringLength ?? 0)) throw new Error(`${name}: string out of range`);
    const prototype =
      length === 1
        ? String.fromCharCode(value)
        : bin.toString('utf16le', base + strings + 2 * value, base + strings + 2 * (value + length));
    map.set(
      key & 0xffffff,
      [...prototype].map((ch) => ch.codePointAt(0) ?? 0),
    );
  }
  const unicode = process.versions.unicode ?? '';
  return {
    map,
    unicodeVersion: unicode.split('.').length === 2 ? `${unicode}.0` : unicode,
    source:
      `ICU ${process.versions.icu} data item ${name}, which ICU compiles from\n` +
      ` * that Unicode version's confusables.txt, as built into the Node.js ${process.version} binary\n` +
      ` * (npm package \`node\` ${process.version.slice(1)}, which installs \`node-${process.platform}-${process.arch}\`)`,
  };
}

const table = process.argv[2] === undefined ? fromNodeIcu() : fromText(process.argv[2]);
const sources = [...table.map.keys()].sort((a, b) => a - b);

// UTS #39 §4: prototypes are already skeletons, so mapping once suffices; a failure here means a misread table.
for (const [source, prototype] of table.map)
  for (const cp of prototype)
    if (table.map.has(cp)) throw new Error(`prototype of U+${source.toString(16)} is not a fixed point`);

const hex = (cp: number) => cp.toString(16);
const entries = sources.map((cp) => `${hex(cp)}:${(table.map.get(cp) ?? []).map(hex).join('.')}`);
const lines: string[] = [];
for (let i = 0; i < entries.length; i += 80) lines.push(`  '${entries.slice(i, i + 80).join(',')}',`);

writeFileSync(
  out,
  `// Generated by scripts/generate-confusables.ts: do not edit by hand.
/**
 * UTS #39 confusables.txt, Unicode ${table.unicodeVersion}: the prototype of each source code point (§4).
 * ${table.map.size} entries. Source: ${table.source}.
 *
 * Unicode data files are under the Unicode License V3:
 *
 * COPYRIGHT AND PERMISSION NOTICE
 *
 * Copyright © 1991-2025 Unicode, Inc.
 *
 * NOTICE TO USER: Carefully read the following legal agreement. BY DOWNLOADING, INSTALLING, COPYING OR OTHERWISE
 * USING DATA FILES, AND/OR SOFTWARE, YOU UNEQUIVOCALLY ACCEPT, AND AGREE TO BE BOUND BY, ALL OF THE TERMS AND
 * CONDITIONS OF THIS AGREEMENT. IF YOU DO NOT AGREE, DO NOT DOWNLOAD, INSTALL, COPY, DISTRIBUTE OR USE THE DATA
 * FILES OR SOFTWARE.
 *
 * Permission is hereby granted, free of charge, to any person obtaining a copy of data files and any associated
 * documentation (the "Data Files") or software and any associated documentation (the "Software") to deal in the
 * Data Files or Software without restriction, including without limitation the rights to use, copy, modify,
 * merge, publish, distribute, and/or sell copies of the Data Files or Software, and to permit persons to whom the
 * Data Files or Software are furnished to do so, provided that either (a) this copyright and permission notice
 * appear with all copies of the Data Files or Software, or (b) this copyright and permission notice appear in
 * associated Documentation.
 *
 * THE DATA FILES AND SOFTWARE ARE PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
 * BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT OF
 * THIRD PARTY RIGHTS.
 *
 * IN NO EVENT SHALL THE COPYRIGHT HOLDER OR HOLDERS INCLUDED IN THIS NOTICE BE LIABLE FOR ANY CLAIM, OR ANY
 * SPECIAL INDIRECT OR CONSEQUENTIAL DAMAGES, OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR
 * PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION
 * WITH THE USE OR PERFORMANCE OF THE DATA FILES OR SOFTWARE.
 *
 * Except as contained in this notice, the name of a copyright holder shall not be used in advertising or
 * otherwise to promote the sale, use or other dealings in these Data Files or Software without prior written
 * authorization of the copyright holder.
 *
 * SPDX-License-Identifier: Unicode-3.0
 */

/** The Unicode version of the confusables.txt this table holds. */
export const confusablesUnicodeVersion = '${table.unicodeVersion}';

/** \`source:prototype\` in hexadecimal code points, the prototype's code points joined by '.', sorted by source. */
export const packedConfusables: readonly string[] = [
${lines.join('\n')}
];
`,
);
console.log(`wrote ${out.pathname}: ${table.map.size} entries, Unicode ${table.unicodeVersion}`);
