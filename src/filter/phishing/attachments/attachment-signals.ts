/**
 * The attachment signals of the phishing detector (issue 8, "Attachments"): programs and scripts,
 * names that hide their type, Office macros, HTML and SVG files, disk images and shortcuts, and
 * archives that hold any of these or that a password keeps closed to antivirus scanners. Looks at
 * names, first bytes and archive directories only; runs nothing, extracts nothing but a nested ZIP's
 * directory and a .tar.gz's headers (archive.ts). A message attached to the message (a forward as message/rfc822, an .eml
 * file) is parsed and its own attachments inspected the same way, a few levels deep. One signal of
 * each name per message, the strongest.
 */
import { inflateRawSync } from 'node:zlib';
import type { MessageAttachment } from '../../../mime/message.ts';
import {
  type AttachedBudget,
  attachedBudget,
  isAttachedMessage,
  MAX_ATTACHED_DEPTH,
  openAttachedMessage,
  shown,
  shownName,
} from '../embedded.ts';
import type { HtmlBudget } from '../html-budget.ts';
import type { Explanation, Signal } from '../signal.ts';
import { type ArchiveListing, archiveBudget, archiveFormatOf, type Budget, listArchive } from './archive.ts';
import {
  type ContentKind,
  deceptiveName,
  extensionOf,
  type FileKind,
  isInterpretedScript,
  kindByContent,
  kindByName,
  oleHasMacros,
  textHead,
} from './file-types.ts';
import { activeHtml, htmlAttachmentBudget } from './html-content.ts';
import { pdfActive, pdfBudget } from './pdf-content.ts';

type Input = {
  attachments: MessageAttachment[];
  text: string;
  subject: string;
  /** The attached messages the message's checks may open (embedded.ts), shared with the link checks. */
  attached?: AttachedBudget;
};
type Emit = (name: string, weight: number, explanation: Explanation, evidence: string) => void;

/** What the inspection of one message's attachments shares. */
interface Context {
  emit: Emit;
  /** The archive budget, shared by every archive of the message, embedded messages' included. */
  budget: Budget;
  /** Whether the text gives a password: looked for only when an archive needs it, then remembered. */
  password: () => boolean;
  /** Embedded messages entered so far. */
  depth: number;
  /** How many more embedded messages may be opened, at any depth. */
  attached: AttachedBudget;
  /** "forward.eml → " for the attachments of an embedded message, as names are shown. */
  within: string;
  /** Stream data the PDFs the detector has not read already may inflate (pdf-content.ts). */
  pdf: { bytes: number };
  /** What the HTML attachments, embedded messages' included, may have parsed (html-content.ts). */
  html: HtmlBudget;
}

/**
 * An attached web page the reader may open in a browser: named as one (by any of its names), or HTML by
 * type or content and a file (an attachment, or named). Not an unnamed inline HTML part, a body the
 * parser kept apart, nor a named part the reader shows as the text (alsoText): mail programs name their
 * bodies ("message.htm", "body.txt"), and the link and language checks read that markup as the body.
 * `known`: what the caller has already worked out of the part.
 */
export function isWebPage(
  a: MessageAttachment,
  known?: { named: boolean; byContent: ContentKind | undefined },
): boolean {
  if (a.alsoText) return false;
  const names = a.names ?? (a.filename ? [a.filename] : []);
  if (known?.named ?? names.some((n) => kindByName(n) === 'html')) return true;
  const isAttachment = a.disposition === 'attachment' || a.filename !== '';
  const htmlType = a.contentType === 'text/html' || a.contentType === 'application/xhtml+xml';
  return isAttachment && (htmlType || (known ? known.byContent : kindByContent(a.content)) === 'html');
}

export async function attachmentSignals(input: Input): Promise<Signal[]> {
  const found = new Map<string, Signal>();
  const emit: Emit = (name, weight, explanation, evidence) => {
    const had = found.get(name);
    if (had && had.weight >= weight) return;
    const categories = name === 'html-attachment' ? { password: 0.5 } : undefined;
    found.set(name, { name, group: 'attachments', weight, explanation, evidence, ...(categories && { categories }) });
  };
  const password = once(() => passwordGiven(`${input.subject}\n${input.text}`));
  await inspectAll(input.attachments, {
    emit,
    budget: archiveBudget(),
    password,
    depth: 0,
    attached: input.attached ?? attachedBudget(),
    within: '',
    pdf: pdfBudget(),
    html: htmlAttachmentBudget(),
  });
  return [...found.values()];
}

async function inspectAll(attachments: readonly MessageAttachment[], context: Context): Promise<void> {
  for (const attachment of attachments) {
    try {
      await inspect(attachment, context);
    } catch {
      // A file we cannot read says nothing; one odd attachment must not lose the others' signals.
    }
  }
}

function once(compute: () => boolean): () => boolean {
  let value: boolean | undefined;
  return () => (value ??= compute());
}

async function inspect(a: MessageAttachment, context: Context): Promise<void> {
  const { emit, budget } = context;
  const name = visible(shownName(a, context.within));
  // A whole message carried as an attachment (embedded.ts) is opened, its attachments judged too.
  const inner =
    isAttachedMessage(a) && context.depth < MAX_ATTACHED_DEPTH ? openAttachedMessage(a, context.attached) : undefined;
  if (inner !== undefined) {
    // A password for an archive inside may be given in the forwarded text or in the message around it.
    const innerPassword = once(() => passwordGiven(`${inner.subject}\n${inner.text}`) || context.password());
    await inspectAll(inner.attachments, {
      ...context,
      password: innerPassword,
      depth: context.depth + 1,
      within: `${name} → `,
    });
  }
  // The file itself is judged too: a program named "letter.eml" is still a program. So is every name
  // the part gives (message.ts fileNames()): readers differ in the one they save, so the riskiest counts.
  const names = a.names ?? (a.filename ? [a.filename] : []);
  const kinds = names.map(kindByName);
  /** The name, as shown, that gives the kind; undefined when none does. */
  const named = (kind: FileKind): string | undefined => {
    const at = kinds.indexOf(kind);
    return at < 0 ? undefined : visible(shown(context.within + names[at]));
  };
  const byContent = kindByContent(a.content);
  for (const each of names) {
    const disguise = deceptiveName(each);
    if (!disguise) continue;
    const shownAs = visible(shown(context.within + each));
    emit('double-extension', 4, explainDisguise(shownAs, disguise, extensionOf(each)), shownAs);
    break;
  }
  const differ = namesDiffer(names, kinds, a.alsoText === true);
  if (differ) {
    const [one, other] = differ.map((n) => visible(shown(context.within + n))) as [string, string];
    emit('double-extension', 4, explainNamesDiffer(one, other), `${one} / ${other}`);
  }
  const executable = named('executable');
  if (executable !== undefined || byContent === 'executable') {
    emit(
      'executable-attachment',
      5,
      executable === undefined ? explainHiddenProgram(name) : explainKind(executable, 'executable'),
      executable ?? name,
    );
  } else if ((byContent === 'unix-script' && !a.alsoText) || names.some(isInterpretedScript)) {
    // Weighed low: technical ham (SpamAssassin's easy_ham) attaches such scripts, and they need a shell
    // or an interpreter to run. A script shown as the text (an inline part) is read, not run.
    const script = names.find(isInterpretedScript);
    const shownAs = script === undefined ? name : visible(shown(context.within + script));
    emit(
      'executable-attachment',
      2,
      script === undefined ? explainHiddenProgram(name) : explainKind(shownAs, 'executable'),
      shownAs,
    );
  }
  const shortcut = named('shortcut');
  if (shortcut !== undefined || byContent === 'shortcut')
    emit('shortcut-attachment', 5, explainKind(shortcut ?? name, 'shortcut'), shortcut ?? name);
  const diskImage = named('disk-image');
  if (diskImage !== undefined || byContent === 'disk-image')
    emit('disk-image-attachment', 4, explainKind(diskImage ?? name, 'disk-image'), diskImage ?? name);
  const macro = named('macro-office');
  if (macro !== undefined || (byContent === 'ole' && oleHasMacros(a.content)))
    emit('macro-office', 3, explainKind(macro ?? name, 'macro-office'), macro ?? name);
  const htmlName = named('html');
  if (isWebPage(a, { named: htmlName !== undefined, byContent })) {
    const active = activeHtml(a.content, context.html);
    emit('html-attachment', active ? 4 : 3, explainHtml(htmlName ?? name, active), htmlName ?? name);
  }
  if (named('svg') !== undefined || byContent === 'svg' || a.contentType === 'image/svg+xml') {
    const active = activeSvg(a.content);
    emit('svg-attachment', active ? 4 : 3, explainSvg(name, active), name);
  }
  if (byContent === 'document' && isPdf(a.content)) {
    // As risky as a web page with a script: the reader runs what the file asks when it opens or on a click.
    const active = pdfActive(a.content, context.pdf);
    if (active) emit('active-pdf', 4, explainActivePdf(name, active), name);
  }
  if (byContent !== 'executable' && archiveFormatOf(a.content) !== undefined) {
    const listing = await listArchive(a.content, budget, a.filename);
    if (listing) inspectArchive(name, listing, packageOf(a.content), context.password, emit);
  }
}

/** Kinds two names of one file may differ between unremarked: opening none of them runs anything. */
const ordinaryKinds: readonly FileKind[] = ['document', 'archive', 'other'];

/**
 * Two names of one file (message.ts fileNames()) whose extensions say different kinds, one of them
 * risky: "invoice.pdf" shown, "evil.exe" saved. Names that differ only in their wording or between
 * ordinary kinds ("scan.pdf", "scan.jpg") are left alone, and so is a web page's name on a part shown
 * as the text (alsoText), which the reader renders as the body whatever it is named.
 */
function namesDiffer(
  names: readonly string[],
  kinds: readonly FileKind[],
  shownAsText: boolean,
): [string, string] | undefined {
  const risky = kinds.findIndex((k) => !ordinaryKinds.includes(k) && !(shownAsText && k === 'html'));
  if (risky < 0) return undefined;
  const other = kinds.findIndex((k) => k !== kinds[risky]);
  return other < 0 ? undefined : [names[Math.min(risky, other)]!, names[Math.max(risky, other)]!];
}

/** Control characters named, as shown() names bidi controls: a NUL must not cut a header line or a log. */
function visible(name: string): string {
  return name.replace(
    /[\x00-\x1f\x7f-\x9f]/gu,
    (c) => `[U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`,
  );
}

const zipLocalHeader = 0x04034b50;
/** Longer than any media type a package names ("application/vnd.oasis.opendocument.text-master-template"). */
const mimetypeLength = 128;

/**
 * An EPUB or OpenDocument package, by the media type its first entry, "mimetype", holds uncompressed
 * right after that entry's local header (APPNOTE §4.3.7): EPUB 3.3 §4.3 ("OCF ZIP container media type
 * identification") and ODF 1.2 Part 3 §3.3 ("MIME Media Type") require it there, so that readers tell
 * the package by its first bytes.
 */
function packageOf(bytes: Uint8Array): 'epub' | 'odf' | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 30 || b.readUInt32LE(0) !== zipLocalHeader) return undefined;
  const nameLength = b.readUInt16LE(26);
  if (b.toString('latin1', 30, 30 + nameLength) !== 'mimetype') return undefined;
  const start = 30 + nameLength + b.readUInt16LE(28);
  const stored = b.subarray(start, start + Math.min(b.readUInt32LE(18), mimetypeLength));
  // Some writers deflate it against the rule (epubcheck's PKG-005); a few bytes, inflated within a bound.
  const method = b.readUInt16LE(8);
  let content: Buffer;
  try {
    content =
      method === 0
        ? stored
        : method === 8
          ? inflateRawSync(stored, { maxOutputLength: mimetypeLength })
          : Buffer.alloc(0);
  } catch {
    return undefined;
  }
  const type = content.toString('latin1');
  if (type === 'application/epub+zip') return 'epub';
  if (/^application\/vnd\.oasis\.opendocument\.[a-z0-9.+-]+$/.test(type)) return 'odf';
  return undefined;
}

/** Inner kinds that make an archive risky, with the weight each earns (macros and markup are common in real work). */
const riskyInside: Record<Described, number> = {
  executable: 5,
  shortcut: 5,
  'disk-image': 5,
  disguised: 5,
  'macro-office': 3,
  html: 3,
  svg: 3,
};

function isDescribed(kind: FileKind | 'disguised'): kind is Described {
  return kind in riskyInside;
}

function inspectArchive(
  name: string,
  listing: ArchiveListing,
  container: 'epub' | 'odf' | undefined,
  passwordInText: () => boolean,
  emit: Emit,
): void {
  // An Office Open XML document is a ZIP (ECMA-376 Part 2 §8): its parts are not attachments, but a VBA project is a macro.
  const paths = listing.entries.map((e) => e.path.join('/'));
  const office = paths.includes('[Content_Types].xml');
  if (office && paths.some((p) => /(?:^|\/)vbaProject\.bin$/i.test(p)))
    emit('macro-office', 3, explainKind(name, 'macro-office'), name);
  for (const entry of listing.entries) {
    const inner = entry.path.at(-1)!;
    const kind = deceptiveName(inner) ? 'disguised' : kindByName(inner);
    if (!isDescribed(kind)) continue;
    // A document's own parts (pictures, web views) are not files given to the user; anything else a
    // "document" holds is, as 7-Zip and Windows Explorer list it: a [Content_Types].xml beside an .exe
    // made the archive look like a document and hid the program.
    if (office && isPackagePart(entry.path) && (kind === 'html' || kind === 'svg' || kind === 'macro-office')) continue;
    // An e-book's chapters are XHTML and its pictures SVG, an OpenDocument's drawings SVG: parts the
    // reading program shows, as an Office document's are. A program beside them is still a program.
    if (container !== undefined && entry.path.length === 1 && (kind === 'html' || kind === 'svg')) continue;
    const path = shown(entry.path.join(' → '));
    emit('risky-archive-content', riskyInside[kind], explainInside(name, path, kind), `${name} → ${path}`);
  }
  const password = listing.encrypted || !listing.listed ? passwordInText() : false;
  if (listing.encrypted || (password && !listing.listed)) {
    emit('encrypted-archive', password ? 4 : 2, explainEncrypted(name, listing.encrypted === true, password), name);
  } else if (!listing.listed) {
    emit('unlistable-archive', 1, explainUnlistable(name, listing.format), name);
  } else if (listing.partial) {
    // What a mail gateway cannot look into is unknown, not clean (ClamAV's AlertExceedsMax, amavis's UNCHECKED).
    emit('unlistable-archive', 1, explainPartial(name), name);
  }
}

/** The parts an Office Open XML package keeps in its own folders (ECMA-376 Part 2 §9, Part 1 §11-§13, §15). */
const packagePart = /^(?:\[Content_Types\]\.xml$|(?:word|xl|ppt|docProps|_rels|customXml)\/)/i;

function isPackagePart(path: readonly string[]): boolean {
  return path.length === 1 && packagePart.test(path[0]!);
}

/**
 * The subject or body gives a password ("password: 1234", "пароль для архива 1234", "pwd 77x").
 * English and Russian; any form of "пароль". Without a colon the value must hold a digit, so that
 * "a password is required" gives none.
 *
 * Every repetition is bounded (a password given in mail is a short token, near its keyword), so each
 * occurrence of a keyword costs a constant and the whole text linear time: `\S*\d` after every
 * "pass-" of 400 KB of "pass-pass-…" had backtracked for 40 seconds.
 */
const passwordPatterns = (() => {
  const word = '(?:password|passcode|passwd|pwd|pass|парол[ьяюе]м?|пасс)';
  const strongWord = '(?:password|passcode|passwd|pwd|парол[ьяюе]м?)'; // "pass 3" is not a password
  const gap = String.raw`\s{0,32}`;
  const forArchive = String.raw`(?:\s{1,32}(?:for|to|of|для|от|к|на)\s{1,32}(?:the\s{1,32})?(?:archive|attachment|file|zip|rar|document|архив\p{L}{0,16}|вложени\p{L}{0,16}|файл\p{L}{0,16}|документ\p{L}{0,16}))?`;
  const value = String.raw`\S{0,63}\d`; // a token with a digit in it
  return [
    new RegExp(String.raw`(?<!\p{L})${word}${forArchive}${gap}(?:[:=]${gap}\S{3}|(?:is|[—–-])${gap}${value})`, 'iu'),
    new RegExp(String.raw`(?<!\p{L})${strongWord}${forArchive}\s{1,32}${value}`, 'iu'),
    /(?:password for the (?:archive|attachment|zip)|пароль (?:для|от|к) (?:архив|вложени|файл))/iu,
  ];
})();

function passwordGiven(text: string): boolean {
  // As the reader sees it: "ｐａｓｓｗｏｒｄ" is password (NFKC), "Pass\u00adword" too (a soft hyphen and the
  // other Default_Ignorable_Code_Point characters, UAX #44 §5.3, are drawn as nothing).
  const shown = text.normalize('NFKC').replace(/\p{Default_Ignorable_Code_Point}/gu, '');
  return passwordPatterns.some((pattern) => pattern.test(shown));
}

/** The first megabyte is enough to see an SVG's script; bigger pictures are rare. */
const scanLength = 1024 * 1024;

function head(bytes: Uint8Array): string {
  return textHead(bytes, scanLength); // a UTF-16 page (with its BOM) is read as a browser reads it
}

/**
 * Script, event handlers, embedded HTML or javascript: links, which a plain picture does not need. The
 * white space around a quote is matched one way only: `\s*["']?\s*` split a run of spaces every way.
 */
function activeSvg(bytes: Uint8Array): boolean {
  return /<script[\s>]|\son[a-z]+\s*=|<foreignObject[\s>]|href\s*=\s*(?:["']\s*)?javascript:/i.test(head(bytes));
}

type Described = Exclude<FileKind, 'archive' | 'document' | 'other'> | 'disguised';

/** What a kind of file is, in English and in Russian (accusative, after "содержит"). */
const nouns: Record<Described, { en: string; ru: string }> = {
  executable: { en: 'a program or script', ru: 'программу или сценарий' },
  shortcut: { en: 'a Windows shortcut', ru: 'ярлык Windows' },
  'disk-image': { en: 'a disk image', ru: 'образ диска' },
  'macro-office': { en: 'an Office document with macros', ru: 'документ Office с макросами' },
  html: { en: 'a web page', ru: 'веб-страницу' },
  svg: { en: 'an SVG image, which can carry scripts', ru: 'изображение SVG, в котором могут быть сценарии' },
  disguised: { en: 'a file whose name hides its real type', ru: 'файл, имя которого скрывает его настоящий тип' },
};

function explainKind(name: string, kind: 'executable' | 'shortcut' | 'disk-image' | 'macro-office'): Explanation {
  switch (kind) {
    case 'executable':
      return {
        en: `The attachment “${name}” is a program or script: opening it runs code on the computer. Senders of real business mail almost never send programs; malware arrives this way.`,
        ru: `Вложение «${name}» — программа или сценарий: если его открыть, на компьютере запустится код. В деловой переписке программы почти никогда не пересылают, а вредоносное ПО приходит именно так.`,
      };
    case 'shortcut':
      return {
        en: `The attachment “${name}” is a Windows shortcut: opening it can run any command on the computer. Shortcuts have no business in mail.`,
        ru: `Вложение «${name}» — ярлык Windows: при открытии он может выполнить на компьютере любую команду. Ярлыкам в почте не место.`,
      };
    case 'disk-image':
      return {
        en: `The attachment “${name}” is a disk image. Windows opens it with a double click, and the files inside escape the warnings shown for downloaded files; it is a common way to deliver malware.`,
        ru: `Вложение «${name}» — образ диска. Windows открывает его двойным щелчком, и на файлы внутри не распространяются предупреждения о скачанных файлах; так часто доставляют вредоносные программы.`,
      };
    case 'macro-office':
      return {
        en: `The attachment “${name}” is an Office document with macros. Macros are programs, and a document asking you to “enable content” is a common way to infect a computer.`,
        ru: `Вложение «${name}» — документ Office с макросами. Макросы — это программы, и документ с просьбой «включить содержимое» — распространённый способ заразить компьютер.`,
      };
    default:
      return kind satisfies never;
  }
}

function explainHiddenProgram(name: string): Explanation {
  return {
    en: `The attachment “${name}” is named like an ordinary file, but its content is a program or script. Disguising a program this way is a trick to get it opened.`,
    ru: `Вложение «${name}» названо как обычный файл, но на самом деле это программа или сценарий. Программу так маскируют, чтобы её открыли.`,
  };
}

function explainNamesDiffer(one: string, other: string): Explanation {
  return {
    en: `The attachment has two names, “${one}” and “${other}”, of different kinds of file. Mail programs show one and save another, so the file you open may not be the one you were shown.`,
    ru: `У вложения два имени, «${one}» и «${other}», и они обозначают разные типы файлов. Почтовые программы показывают одно, а сохраняют под другим, так что открыть можно совсем не тот файл, что был показан.`,
  };
}

function explainDisguise(
  name: string,
  how: 'bidi' | 'control' | 'double-extension' | 'padding',
  ext: string,
): Explanation {
  switch (how) {
    case 'bidi':
      return {
        en: `The file name “${name}” contains an invisible character that reverses the direction of the text, so the extension you see is not the real one.`,
        ru: `В имени файла «${name}» есть невидимый символ, меняющий направление текста, поэтому видимое расширение — не настоящее.`,
      };
    case 'control':
      return {
        en: `The file name “${name}” contains a control character, which file names never have. Programs stop reading the name there${ext ? `, so the file is a .${ext} file whatever the rest of the name says` : ''}.`,
        ru: `В имени файла «${name}» есть управляющий символ, которого в именах файлов не бывает. Программы дальше него имя не читают${ext ? `, поэтому это файл .${ext}, что бы ни говорила остальная часть имени` : ''}.`,
      };
    case 'double-extension':
      return {
        en: `The file name “${name}” hides its real type: it looks like a document, but it is a .${ext} file.`,
        ru: `Имя файла «${name}» скрывает его настоящий тип: файл выглядит как документ, а на деле это .${ext}.`,
      };
    case 'padding':
      return {
        en: `The file name “${name}” has a long run of spaces that pushes its real extension (.${ext}) out of view.`,
        ru: `В имени файла «${name}» много пробелов подряд, и настоящее расширение (.${ext}) уходит из поля зрения.`,
      };
    default:
      return how satisfies never;
  }
}

function explainHtml(name: string, active: boolean): Explanation {
  return active
    ? {
        en: `The attachment “${name}” is a web page with a form, a password field, a script, a redirect or hidden encoded content — what pages that steal passwords are made of.`,
        ru: `Вложение «${name}» — веб-страница с формой, полем для пароля, сценарием, переходом на другой сайт или скрытым закодированным содержимым: из этого и состоят страницы для кражи паролей.`,
      }
    : {
        en: `The attachment “${name}” is a web page. Opened from mail it can show anything, often a fake sign-in page, with no address bar to give it away.`,
        ru: `Вложение «${name}» — веб-страница. Открытая из письма, она может изображать что угодно, чаще всего поддельную страницу входа, и адресной строки, которая бы её выдала, нет.`,
      };
}

function explainSvg(name: string, active: boolean): Explanation {
  return active
    ? {
        en: `The attachment “${name}” is an SVG image with a script, event handler or embedded web page. A picture has no need of them; such files redirect to phishing pages.`,
        ru: `Вложение «${name}» — изображение SVG со сценарием, обработчиком событий или встроенной веб-страницей. Обычной картинке это не нужно, а такие файлы перенаправляют на фишинговые страницы.`,
      }
    : {
        en: `The attachment “${name}” is an SVG image. SVG files open in the browser and can carry scripts and links.`,
        ru: `Вложение «${name}» — изображение SVG. Такие файлы открываются в браузере и могут содержать сценарии и ссылки.`,
      };
}

function isPdf(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', 0, 5) === '%PDF-';
}

function explainActivePdf(name: string, active: 'launch' | 'javascript'): Explanation {
  return active === 'launch'
    ? {
        en: `The PDF “${name}” asks the reader to start a program or open a file when it is opened or clicked. Real documents do not need to; malware is delivered this way.`,
        ru: `PDF-файл «${name}» просит программу просмотра запустить программу или открыть файл при открытии или щелчке. Настоящим документам это не нужно, а вредоносное ПО доставляют именно так.`,
      }
    : {
        en: `The PDF “${name}” contains JavaScript, which runs in the reader when it is opened or clicked. Invoices and letters have no need of it; such files open phishing pages or exploit the reader.`,
        ru: `PDF-файл «${name}» содержит JavaScript, который выполняется в программе просмотра при открытии или щелчке. Счетам и письмам он не нужен, а такие файлы открывают фишинговые страницы или атакуют программу просмотра.`,
      };
}

function explainInside(archive: string, path: string, kind: Described): Explanation {
  const noun = nouns[kind];
  return {
    en: `The archive “${archive}” contains “${path}”, ${noun.en}. Packing such a file into an archive helps it past mail filters.`,
    ru: `Архив «${archive}» содержит «${path}» — ${noun.ru}. Такие файлы упаковывают в архив, чтобы обойти почтовые фильтры.`,
  };
}

function explainEncrypted(name: string, known: boolean, password: boolean): Explanation {
  const en = known
    ? `The archive “${name}” is password-protected, so no antivirus can look inside it.`
    : `The message gives a password for the archive “${name}”, which Postern cannot open: a password-protected archive cannot be checked by any antivirus.`;
  const ru = known
    ? `Архив «${name}» защищён паролем, поэтому антивирус не может проверить его содержимое.`
    : `В письме указан пароль к архиву «${name}», который Postern открыть не может: архив с паролем не проверит ни один антивирус.`;
  if (!password || !known) return { en, ru };
  return {
    en: `${en} The password is given in the message itself — a classic way to get malware past mail filters.`,
    ru: `${ru} Пароль указан прямо в письме — классический приём, чтобы провести вредоносную программу мимо почтовых фильтров.`,
  };
}

function explainPartial(name: string): Explanation {
  return {
    en: `The archive “${name}” holds more than Postern looks into (over 1,000 files, or archives inside it beyond the size it opens). Every file name was checked, but what the archives inside it hold is unknown.`,
    ru: `В архиве «${name}» больше, чем Postern просматривает (свыше 1000 файлов или вложенные архивы больше допустимого размера). Имена всех файлов проверены, но что внутри вложенных архивов, неизвестно.`,
  };
}

function explainUnlistable(name: string, format: ArchiveListing['format']): Explanation {
  // Formats Postern lists are unlistable only when damaged; the others, always.
  return format === 'zip' || format === 'tar' || format === 'cab'
    ? {
        en: `The archive “${name}” is damaged or uses a form of ${format.toUpperCase()} Postern cannot read, so what is inside is unknown.`,
        ru: `Архив «${name}» повреждён или записан в варианте ${format.toUpperCase()}, который Postern не читает, поэтому неизвестно, что внутри.`,
      }
    : {
        en: `The archive “${name}” is in ${format.toUpperCase()} format, whose contents Postern cannot list, so what is inside is unknown.`,
        ru: `Архив «${name}» в формате ${format.toUpperCase()}, содержимое которого Postern не может просмотреть, поэтому неизвестно, что внутри.`,
      };
}
