/**
 * Offline scanning (`postern scan`, `npm run eval:phishing`): a stored or saved message through the
 * phishing detector with the server's settings. What sender authentication found is read back from
 * our own Authentication-Results field, as the server added it on arrival (RFC 8601 §5). What the
 * server itself wrote into a delivered message, its warning banner and subject tag, is not read as
 * the sender's words.
 */
import type { FilterConfig, PhishingConfig } from '../../config/filter-schema.ts';
import { decodeQuotedPrintable, parseHeaderValue } from '../../mime/entity.ts';
import { type ParsedMessage, parseMessage } from '../../mime/message.ts';
import { type Banner, bodyStart, insertBanner, warningBanner } from '../actions/banner.ts';
import {
  bodyParts,
  decodeTextPart,
  encodeTextPart,
  findBodyTextParts,
  lineEndOf,
  type PartText,
  type RawField,
  readRawFields,
  replaceRanges,
  splitEntity,
  type TextPart,
  wrapWithTextPart,
} from '../actions/mime-parts.ts';
import { type PhishingAction, phishingAction } from '../phishing-verdict.ts';
import { authenticationFromHeaders } from './authentication-signals.ts';
import { detectPhishing, type PhishingReport, type PhishingSettings } from './detector.ts';
import { detectorSettings } from './settings.ts';

export interface ScanSettings {
  detector: PhishingSettings;
  thresholds: FilterConfig['phishing']['thresholds'];
  /** Our authserv-id: only Authentication-Results fields with it are believed. */
  authservId: string;
  /** How the server marks a message from `warn` up, to leave its own words out of a delivered copy. */
  marks?: { subjectTag: string; banner: PhishingConfig['banner'] };
}

export interface ScanResult extends PhishingReport {
  action: PhishingAction;
  from: string;
  subject: string;
}

export function scanSettings(options: {
  filter: FilterConfig;
  localDomains: readonly string[];
  authservId: string;
}): ScanSettings {
  const { subjectTag, banner } = options.filter.phishing;
  return {
    detector: detectorSettings(options.filter, options.localDomains),
    thresholds: options.filter.phishing.thresholds,
    authservId: options.authservId,
    marks: { subjectTag, banner },
  };
}

export async function scanMessage(content: Uint8Array, settings: ScanSettings): Promise<ScanResult> {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content.buffer, content.byteOffset, content.length);
  const marks = settings.marks && markedByUs(bytes) ? settings.marks : undefined;
  // Only what the server puts in: with the banner off, a copy of its wording is the sender's text.
  const message = await parseMessage(marks?.banner.enabled ? withoutBanner(bytes, marks.banner) : bytes);
  const authentication = authenticationFromHeaders(message.headers, settings.authservId);
  const returnPath = message.headers.find((h) => h.name === 'return-path')?.value;
  const envelopeFrom = returnPath === undefined ? undefined : (/<([^<>]*)>/.exec(returnPath)?.[1] ?? returnPath.trim());
  const report = await detectPhishing(
    {
      message: marks ? withoutSubjectTag(message, marks.subjectTag) : message,
      ...(envelopeFrom !== undefined ? { envelopeFrom } : {}),
      ...(authentication ? { authentication } : {}),
    },
    settings.detector,
  );
  return {
    ...report,
    action: phishingAction(report.score, settings.thresholds),
    from: message.from[0]?.address ?? '',
    subject: message.subject,
  };
}

/**
 * Whether the server marked this message: our X-Postern-Verdict field with an action above `none`
 * (phishing-stage.ts adds it with the tag and the banner). On arrival the server removes any such
 * field a sender wrote (verdict-headers.ts), so in a delivered message it is ours. A file that never
 * went through the server may carry a forged one, with a copy of our banner at the top of its body:
 * the scan of such a file leaves that out. The server's verdict never leaves anything out.
 */
function markedByUs(message: Buffer): boolean {
  const { fieldsEnd } = splitEntity(message, 0, message.length);
  const verdict = readRawFields(message, 0, fieldsEnd).find((f) => f.name === 'x-postern-verdict');
  const action = verdict && /(?:^|;)\s*action=([\w-]+)/.exec(verdict.value)?.[1];
  return action !== undefined && action !== 'none';
}

/** The subject without our tag in front, as the sender wrote it (subject-tag.ts puts "tag " there). */
function withoutSubjectTag(message: ParsedMessage, tag: string): ParsedMessage {
  const word = tag.trim();
  const subject = message.subject.trimStart();
  if (word === '' || !subject.startsWith(word)) return message;
  return { ...message, subject: subject.slice(word.length).trimStart() };
}

/**
 * The message as it was before the server put its warning banner in (banner.ts insertBanner), or the
 * same bytes when that banner is not found. Found only as the configured banner, in our wording with
 * whatever reasons, exactly where insertBanner puts it: at the top of every body text part, or as the
 * first part of the multipart/mixed it wraps a body it cannot edit in. Either is checked by doing
 * insertBanner's work again on what is left and getting the delivered message back. So nothing else
 * is taken out: not a copy of our banner anywhere else, and not one the server did not put there.
 */
function withoutBanner(message: Buffer, config: PhishingConfig['banner']): Buffer {
  const shapes = bannerShapes(config);
  return unwrapped(message, shapes) ?? withoutPartBanners(message, shapes) ?? message;
}

/** A banner's forms as patterns: plain and HTML text, and their ASCII forms for parts in charsets we cannot read. */
interface Shapes {
  /** At the start of a plain text part, with the empty line after it. */
  text: RegExp;
  /** The whole of the text part wrapWithTextPart adds. */
  wholeText: RegExp;
  html: RegExp;
  asciiText: RegExp;
  asciiHtml: RegExp;
}

/** Stands for the reasons in a banner built to learn the wording around them. */
const SLOT = 'POSTERNREASONSSLOT';
/**
 * At most this many characters of reasons: banner.ts keeps three of at most 200, and the HTML forms
 * escape a character into at most ten ("&#1114111;"). Bounds the matching.
 */
const SLOT_LIMIT = 8192;
const LINE_END = '(?:\\r\\n|\\r|\\n)';

const shapesByConfig = new WeakMap<PhishingConfig['banner'], Shapes[]>();

/** The configured banner with reasons, and without (a verdict whose reasons are all empty). */
function bannerShapes(config: PhishingConfig['banner']): Shapes[] {
  let shapes = shapesByConfig.get(config);
  if (shapes === undefined) {
    const options = { language: config.language, ...(config.text ? { template: config.text } : {}) };
    shapes = [
      warningBanner({ ...options, reasons: [{ en: SLOT, ru: SLOT }] }),
      warningBanner({ ...options, reasons: [] }),
    ].map((banner: Banner) => ({
      text: pattern(banner.text, '[^\\r\\n]', `${LINE_END}{2}`),
      wholeText: pattern(banner.text, '[^\\r\\n]', '$'),
      html: pattern(banner.html, '[^<]', ''),
      asciiText: pattern(banner.ascii.text, '[^\\r\\n]', `${LINE_END}{2}`),
      asciiHtml: pattern(banner.ascii.html, '[^<]', ''),
    }));
    shapesByConfig.set(config, shapes);
  }
  return shapes;
}

/**
 * The banner as a sticky pattern: its literal text with the reasons in each slot (never a line end
 * in the plain text, never a "<" in the HTML: banner.ts cleans and escapes them), then `after`. Line
 * ends in the plain text are the part's own (insertBanner writes them so).
 */
function pattern(banner: string, slotCharacter: string, after: string): RegExp {
  const plain = slotCharacter !== '[^<]';
  const pieces = banner.split(SLOT).map((piece) => {
    const literal = piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return plain ? literal.replace(/\r\n|\r|\n/g, LINE_END) : literal;
  });
  return new RegExp(pieces.join(`${slotCharacter}{0,${SLOT_LIMIT}}`) + after, 'y');
}

/** wrapWithTextPart's boundary: "=_postern_" and 12 random bytes in hex. */
const WRAP_BOUNDARY = /^=_postern_[0-9a-f]{24}$/;

/**
 * The message wrapWithTextPart wrapped, unwrapped: its header fields but our MIME-Version and
 * Content-Type, then the content part (the original Content-* fields and body). Undefined when the
 * message is not such a wrap with our banner as its first part.
 */
function unwrapped(message: Buffer, shapes: readonly Shapes[]): Buffer | undefined {
  const { fieldsEnd, bodyStart } = splitEntity(message, 0, message.length);
  const fields = readRawFields(message, 0, fieldsEnd);
  const content = fields.filter((f) => f.name.startsWith('content-'));
  const type =
    content.length === 1 && content[0]!.name === 'content-type' ? parseHeaderValue(content[0]!.value) : undefined;
  const boundary = type?.params.boundary;
  if (type?.value.toLowerCase() !== 'multipart/mixed' || !boundary || !WRAP_BOUNDARY.test(boundary)) return undefined;
  const parts = bodyParts(message, bodyStart, message.length, boundary, 3);
  if (parts.length !== 2) return undefined;
  const [[bannerStart, bannerEnd], [contentStart, contentEnd]] = parts as [[number, number], [number, number]];
  const bannerBody = splitEntity(message, bannerStart, bannerEnd).bodyStart;
  const text = decodeQuotedPrintable(message.subarray(bannerBody, bannerEnd)).toString('utf8');
  if (!shapes.some((shape) => matchesAt(shape.wholeText, text, 0) !== undefined)) return undefined;
  const eol = lineEndOf(message);
  const written = (field: RawField) => {
    const bytes = message.subarray(field.start, field.end);
    return bytes.at(-1) === 0x0a ? bytes : Buffer.concat([bytes, Buffer.from(eol)]);
  };
  const original = Buffer.concat([
    ...fields.filter((f) => !f.name.startsWith('content-') && f.name !== 'mime-version').map(written),
    Buffer.from(`MIME-Version: 1.0${eol}`),
    message.subarray(contentStart, contentEnd),
  ]);
  // Wrapped again it must give the delivered message, but for the boundary, which is random.
  const again = wrapWithTextPart(original, text);
  const againType = readRawFields(again, 0, splitEntity(again, 0, again.length).fieldsEnd).find(
    (f) => f.name === 'content-type',
  );
  const againBoundary = againType && parseHeaderValue(againType.value).params.boundary;
  if (!againBoundary) return undefined;
  return again.toString('latin1').replaceAll(againBoundary, boundary) === message.toString('latin1')
    ? original
    : undefined;
}

/**
 * The message without the banner at the top of each body text part, or undefined when not every one
 * has it where insertBanner puts it (insertBanner puts it in all, or wraps the message instead).
 */
function withoutPartBanners(message: Buffer, shapes: readonly Shapes[]): Buffer | undefined {
  const found = findBodyTextParts(message);
  if (found.sealed !== undefined || found.parts.length === 0) return undefined;
  const parts: (PartText & { part: TextPart })[] = [];
  for (const part of found.parts) {
    const read = decodeTextPart(message, part);
    if (read === undefined) return undefined;
    parts.push({ part, ...read });
  }
  for (const shape of shapes) {
    const changes: { start: number; end: number; bytes: Buffer }[] = [];
    for (const { part, text, opaque } of parts) {
      const stripped = strippedPart(message, part, { text, opaque }, shape);
      if (stripped === undefined) break;
      changes.push({ start: part.headerStart, end: part.bodyEnd, bytes: stripped });
    }
    if (changes.length === parts.length) return replaceRanges(message, changes);
  }
  return undefined;
}

/**
 * The part's bytes without the banner, or undefined when it is not where insertBanner puts it: at the
 * start of plain text; in HTML where the body begins (banner.ts bodyStart), which with the banner in
 * is where the banner's table begins.
 */
function strippedPart(message: Buffer, part: TextPart, { text, opaque }: PartText, shape: Shapes): Buffer | undefined {
  const html = part.subtype === 'html';
  const banner = html ? (opaque ? shape.asciiHtml : shape.html) : opaque ? shape.asciiText : shape.text;
  const start = html ? (bodyStart(text) ?? 0) : 0;
  const end = matchesAt(banner, text, start);
  if (end === undefined) return undefined;
  const found = text.slice(start, end);
  const shown = html ? found : found.replace(/(?:\r\n|\r|\n){2}$/, '');
  const bytes = encodeTextPart(message, part, { text: text.slice(0, start) + text.slice(end), opaque });
  return putBackGives(bytes, shown, text) ? bytes : undefined;
}

/** Where a sticky pattern's match at `start` ends, if it matches there. */
function matchesAt(pattern: RegExp, text: string, start: number): number | undefined {
  pattern.lastIndex = start;
  const found = pattern.exec(text);
  return found ? start + found[0].length : undefined;
}

/** Whether insertBanner, given the part without the banner, puts it back exactly where it was. */
function putBackGives(strippedPart: Buffer, banner: string, delivered: string): boolean {
  const shown: Banner = { text: banner, html: banner, ascii: { text: banner, html: banner } };
  const again = insertBanner(strippedPart, shown);
  const [part] = findBodyTextParts(again).parts;
  return part !== undefined && decodeTextPart(again, part)?.text === delivered;
}
