/**
 * What kind of file an attachment is, by its name and by its first bytes (magic numbers), for the
 * attachment signals of the phishing detector (issue 8, "Attachments"). Knows nothing of archives'
 * contents (archive.ts) nor of weights and explanations (attachment-signals.ts).
 */

export type FileKind =
  | 'executable' // programs and scripts Windows (or a Unix shell) will run on a double click
  | 'shortcut' // Windows shell links (.lnk), which run any command line
  | 'macro-office' // Office files that carry VBA macros
  | 'html'
  | 'svg'
  | 'disk-image' // .iso/.img/.vhd/.wim/.dmg: mounted by a double click, their contents escape Mark-of-the-Web
  | 'archive'
  | 'document'
  | 'other';

// .lnk is a shortcut, not an executable, so that one file is not counted twice. Android packages
// (apk, xapk, apks) are the bank-app "update" lures of Russian phishing: phones install them from mail.
const executable = new Set(
  (
    'exe scr com pif cpl msi msp msix msixbundle appx appxbundle appref-ms jar js jse vbs vbe wsf wsh wsc hta bat cmd ' +
    'ps1 psm1 psd1 ps1xml reg dll sys ocx url scf inf gadget application xbap chm msc settingcontent-ms library-ms ' +
    'vb sct xll xla wll apk xapk apks ' +
    // Windows opens each of these with a program that runs what they name or embed: OneNote notebooks
    // (embedded scripts, 2023 campaigns), Remote Desktop files (host drives shared with the attacker),
    // search-ms and searchConnector-ms (a remote folder shown as local), App Installer files, Excel web
    // queries and SYLK sheets (formulas that run commands). rspamd's bad-extension map lists one, rdp, iqy.
    'one onepkg rdp search-ms searchconnector-ms appinstaller iqy slk ' +
    // From Outlook's list of blocked attachments (Microsoft, "Blocked attachments in Outlook"), each one
    // Windows acts on: update packages (msu, run by wusa), Java Web Start (jnlp fetches and runs a
    // program), troubleshooting packs (diagcab, the 2022 "DogWalk" flaw), Sandbox configurations (wsb
    // runs its LogonCommand), WinHelp (hlp macros run programs), shell scraps (shs, shb: an embedded
    // program), Internet shortcuts and pinned sites (website, like url), themes (theme loads what it names:
    // ThemeBleed, 2023), script components and files (htc, ws), Monad scripts (msh), Installer transforms
    // (mst, applied with an .msi), certificates (cer: opening one offers to trust it, a root for
    // intercepting TLS), PowerShell files (ps2, psc1) and printer exports (printerexport, restored by
    // PrintBrm with drivers).
    'msu jnlp diagcab wsb hlp shs shb website theme htc ws msh mst cer ps2 psc1 printerexport'
  ).split(' '),
);
/** Exchange public-folder shortcuts (xnk, Outlook's blocked list) open what they point to, as .lnk files do. */
const shortcut = new Set('lnk xnk'.split(' '));
/**
 * Python and Perl scripts, which run on a double click where the interpreter is installed (Outlook
 * blocks them): weighed as `#!` scripts are, since technical mail sends them and they need the interpreter.
 */
const interpretedScript = new Set('py pyw pl'.split(' '));
// Access databases compiled or as projects (mde, accde, ade, adp; Outlook's blocked list) run their VBA
// and AutoExec macros when opened, as macro-enabled documents do.
const macroOffice = new Set('docm dotm xlsm xltm xlam pptm potm ppsm ppam sldm mde accde ade adp'.split(' '));
const html = new Set('html htm shtml shtm xhtml xht mht mhtml'.split(' '));
const diskImage = new Set('iso img vhd vhdx udf wim dmg'.split(' '));
const archive = new Set('zip rar 7z gz tgz bz2 tbz xz txz tar cab ace arj lzh lha z zipx r00 r01 uue xxe'.split(' '));
const document = new Set(
  (
    'pdf doc docx dot dotx xls xlsx xlt xltx xlsb ppt pptx pps ppsx pot potx odt ods odp rtf txt csv ' +
    'jpg jpeg png gif bmp tif tiff webp heic mp3 mp4 wav avi mov eml msg ics vcf asc p7s xml json'
  ).split(' '),
);

/**
 * A control character (Unicode Cc) other than the tab that unfolding a header leaves in a long name
 * (RFC 5322 §2.2.3). Windows allows none in a file name ("Naming Files, Paths, and Namespaces").
 */
const control = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/u;

/**
 * The last part of a path as Windows saves it: trailing dots and spaces dropped, which the Win32 API
 * does to every file name ("Naming Files, Paths, and Namespaces"), so "invoice.pdf.js." is saved
 * and run as "invoice.pdf.js". Leading spaces go too (a name is shown without them). Cut at the first
 * control character: a NUL ends the name for every program that reads it as a C string, so
 * "evil.exe%00.pdf" (RFC 2231 §4 lets a name carry any octet) is saved as "evil.exe".
 */
function savedName(name: string): string {
  const cut = name.search(control);
  const whole = cut < 0 ? name : name.slice(0, cut);
  const base = whole.slice(whole.lastIndexOf('/') + 1);
  let end = base.length;
  while (end > 0 && (base[end - 1] === '.' || /\s/u.test(base[end - 1]!))) end--;
  return base.slice(0, end).trimStart();
}

/** The last extension of a file name as saved, lower case and without the dot; '' when there is none. */
export function extensionOf(name: string): string {
  const base = savedName(name);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}

export function kindByName(name: string): FileKind {
  const ext = extensionOf(name);
  if (shortcut.has(ext)) return 'shortcut';
  if (executable.has(ext)) return 'executable';
  if (macroOffice.has(ext)) return 'macro-office';
  if (html.has(ext)) return 'html';
  if (ext === 'svg' || ext === 'svgz') return 'svg';
  if (diskImage.has(ext)) return 'disk-image';
  if (archive.has(ext) || /^r\d\d$/.test(ext)) return 'archive';
  if (document.has(ext)) return 'document';
  return 'other';
}

/** A Python or Perl script by its name: run where the interpreter is installed, weighed low (interpretedScript). */
export function isInterpretedScript(name: string): boolean {
  return interpretedScript.has(extensionOf(name));
}

/** Extensions a lure shows before the real one ("invoice.pdf.exe"). */
export function isDocumentExtension(ext: string): boolean {
  return document.has(ext) || archive.has(ext);
}

/** The bidirectional controls of Unicode UAX #9 §2 (LRE…RLO, LRI…PDI, LRM/RLM/ALM), which can reverse how a name reads. */
const bidiControl = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/**
 * A name dressed up to hide its real type: a bidi control ("invoice‮fdp.exe" shows as "invoiceexe.pdf"),
 * a control character (a NUL: "evil.exe\0.pdf" is shown whole by some and saved as "evil.exe"), a
 * document extension before a dangerous one ("invoice.pdf.exe", "scan.docx   .js"), or a long run of
 * spaces that pushes the real extension out of sight.
 */
export function deceptiveName(name: string): 'bidi' | 'control' | 'double-extension' | 'padding' | undefined {
  if (bidiControl.test(name)) return 'bidi';
  if (control.test(name)) return 'control';
  const base = savedName(name);
  const kind = kindByName(base);
  if (kind === 'document' || kind === 'archive' || kind === 'other') return undefined;
  const stem = base.slice(0, base.lastIndexOf('.'));
  // Trimmed by hand, not by /[\s._]+$/: a regex anchored only at the end retries from every position
  // of a long run, quadratic in a 64 KB ZIP entry name.
  let shownEnd = stem.length;
  while (shownEnd > 0 && /[\s._]/u.test(stem[shownEnd - 1]!)) shownEnd--;
  if (isDocumentExtension(extensionOf(stem.slice(0, shownEnd)))) return 'double-extension';
  const trailingSpaces = stem.length - stem.trimEnd().length;
  if (trailingSpaces >= 3 || /[\s_]{10}/u.test(stem)) return 'padding';
  return undefined;
}

/** Only so many bytes of an attachment are read to tell its kind from its content. */
const sniffLength = 4096;

function startsWith(bytes: Uint8Array, magic: readonly number[], at = 0): boolean {
  if (bytes.length < at + magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[at + i] !== magic[i]) return false;
  return true;
}

function ascii(bytes: Uint8Array, from: number, length: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', from, from + length);
}

/** Magic numbers of OLE2 compound files (MS-CFB §2.2), ZIP local headers (APPNOTE §4.3.7) and the rest. */
export const magic = {
  ole: [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1],
  zip: [0x50, 0x4b, 0x03, 0x04],
  emptyZip: [0x50, 0x4b, 0x05, 0x06],
  rar: [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07], // "Rar!␚␇", then 00 (RAR 1.5–4) or 01 00 (RAR 5)
  sevenZip: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c],
  gzip: [0x1f, 0x8b], // RFC 1952 §2.3.1
  cab: [0x4d, 0x53, 0x43, 0x46], // "MSCF"
  lnk: [0x4c, 0x00, 0x00, 0x00, 0x01, 0x14, 0x02, 0x00], // MS-SHLLINK §2.1: HeaderSize 0x4C, then the CLSID
  oneNote: [0xe4, 0x52, 0x5c, 0x7b, 0x8c, 0xd8, 0xa7, 0x4d], // MS-ONESTORE §2.3.1: the .one file type GUID
} as const;

/** 'unix-script' starts with "#!": a shell or Perl script, which Windows and mail clients do not run by a double click. */
export type ContentKind = FileKind | 'unix-script' | 'zip' | 'ole' | 'rar' | '7z' | 'gzip';

/**
 * What the first bytes say the file is, whatever its name; undefined when they say nothing we know.
 * ZIP and OLE files are reported as such: whether they are Office documents, with or without macros,
 * needs a look inside (archive.ts, ole-macros in attachment-signals.ts).
 */
export function kindByContent(bytes: Uint8Array): ContentKind | undefined {
  if (isPortableExecutable(bytes)) return 'executable';
  if (startsWith(bytes, [0x7f, 0x45, 0x4c, 0x46])) return 'executable'; // ELF
  if (isMachO(bytes)) return 'executable';
  if (startsWith(bytes, [0x23, 0x21])) return 'unix-script'; // "#!": a script for an interpreter
  if (startsWith(bytes, magic.lnk)) return 'shortcut';
  if (startsWith(bytes, magic.oneNote)) return 'executable'; // a notebook's embedded files run on a click
  if (startsWith(bytes, magic.ole)) return 'ole';
  if (startsWith(bytes, magic.zip) || startsWith(bytes, magic.emptyZip)) return 'zip';
  if (startsWith(bytes, magic.rar)) return 'rar';
  if (startsWith(bytes, magic.sevenZip)) return '7z';
  if (startsWith(bytes, magic.gzip)) return 'gzip';
  if (startsWith(bytes, magic.cab)) return 'archive';
  if (isDiskImage(bytes)) return 'disk-image';
  if (startsWith(bytes, [0x25, 0x50, 0x44, 0x46, 0x2d])) return 'document'; // "%PDF-"
  return markupKind(bytes);
}

/** An MZ header whose e_lfanew (offset 0x3C) points at "PE\0\0" (Microsoft PE format §3); bare "MZ" is too common in text. */
function isPortableExecutable(bytes: Uint8Array): boolean {
  if (!startsWith(bytes, [0x4d, 0x5a]) || bytes.length < 0x40) return false;
  const peOffset = bytes[0x3c]! | (bytes[0x3d]! << 8) | (bytes[0x3e]! << 16) | (bytes[0x3f]! << 24);
  return peOffset >= 0x40 && startsWith(bytes, [0x50, 0x45, 0x00, 0x00], peOffset);
}

function isMachO(bytes: Uint8Array): boolean {
  return [
    [0xfe, 0xed, 0xfa, 0xce],
    [0xfe, 0xed, 0xfa, 0xcf],
    [0xce, 0xfa, 0xed, 0xfe],
    [0xcf, 0xfa, 0xed, 0xfe],
  ].some((m) => startsWith(bytes, m));
}

/** ISO 9660 / ECMA-119 §8.1 and UDF (ECMA-167 §2/9.1) volume descriptors at sector 16; VHD/VHDX cookies. */
export function isDiskImage(bytes: Uint8Array): boolean {
  for (const at of [0x8001, 0x8801, 0x9001]) {
    const id = bytes.length >= at + 5 ? ascii(bytes, at, 5) : '';
    if (id === 'CD001' || id === 'BEA01' || id === 'NSR02' || id === 'NSR03') return true;
  }
  if (bytes.length >= 8 && ascii(bytes, 0, 8) === 'vhdxfile') return true; // MS-VHDX §2.2.1
  // VHD: the "conectix" footer ends the file; dynamic disks also copy it to the start (VHD spec, Hard Disk Footer).
  if (bytes.length >= 512 && (ascii(bytes, 0, 8) === 'conectix' || ascii(bytes, bytes.length - 512, 8) === 'conectix'))
    return true;
  return false;
}

/**
 * The first `length` bytes as text: UTF-16 when a byte order mark says so (Unicode §23.8; browsers
 * honour it, WHATWG Encoding "BOM sniff"), else one character per byte, which keeps ASCII markup
 * readable in any ASCII-compatible charset. At most `length` bytes are read either way.
 */
export function textHead(bytes: Uint8Array, length: number): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = Math.min(buffer.length, length) & ~1;
  if (buffer[0] === 0xff && buffer[1] === 0xfe) return buffer.toString('utf16le', 2, end);
  if (buffer[0] === 0xfe && buffer[1] === 0xff)
    return Buffer.from(buffer.subarray(2, end)).swap16().toString('utf16le');
  return buffer.toString('latin1', 0, length);
}

/** HTML or SVG sent under another name: markup at the very start (after a BOM, blanks and an XML prolog). */
function markupKind(bytes: Uint8Array): 'html' | 'svg' | undefined {
  const head = textHead(bytes, sniffLength)
    .replace(/^(?:\xef\xbb\xbf)?\s*/, '')
    .toLowerCase();
  const body = head.replace(/^(?:<\?xml[^>]*>\s*|<!--[\s\S]*?-->\s*)*/, '');
  if (/^(?:<!doctype svg|<svg[\s>])/.test(body)) return 'svg';
  if (/^(?:<!doctype html|<html[\s>]|<head[\s>]|<body[\s>]|<script[\s>]|<form[\s>]|<meta[\s>]|<iframe[\s>])/.test(body))
    return 'html';
  return undefined;
}

const vbaProjectName = Buffer.from('_VBA_PROJECT', 'utf16le');

/**
 * Whether a legacy Office file (an OLE2 compound file, MS-CFB) holds a VBA project: its directory
 * names the "_VBA_PROJECT" stream (MS-OVBA §2.2.2; Excel's storage is "_VBA_PROJECT_CUR"). A heuristic:
 * it searches the whole file for the UTF-16LE name rather than walking the directory sectors (MS-CFB
 * §2.6), so a document whose text spells that name in UTF-16 would match too.
 */
export function oleHasMacros(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(vbaProjectName) >= 0;
}
