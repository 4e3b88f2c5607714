/**
 * The warning banner a phishing verdict puts at the top of the message body (issue 8), in Russian,
 * English or both. The reasons come from the signals and quote attacker-controlled text (domains,
 * display names), so the HTML form escapes every piece of it and is built from inline styles only:
 * mail clients drop <style> blocks, scripts and remote images.
 */
import { parse } from 'parse5';
import { parse as parseDomain } from 'tldts';
import { parseHeaderValue } from '../../mime/entity.ts';
import {
  decodeTextPart,
  encodeTextPart,
  findBodyTextParts,
  inOwnCharset,
  lineEndOf,
  readRawFields,
  replaceRanges,
  splitEntity,
  type TextPart,
  wrapWithTextPart,
} from './mime-parts.ts';

export interface Banner {
  text: string;
  /** A ready, self-contained HTML fragment. */
  html: string;
  /**
   * The same in ASCII, for parts in a charset we cannot read (mime-parts.ts, opaque text): the
   * English text with other characters as "?", and the HTML with them as character references.
   */
  ascii: { text: string; html: string };
}

export interface BannerOptions {
  language: 'en' | 'ru' | 'both';
  reasons: { en: string; ru: string }[];
  /** Replaces the default wording; `{reasons}` stands for the reasons. */
  template?: { en?: string; ru?: string };
}

type Language = 'en' | 'ru';

const MAX_REASONS = 3;
const MAX_REASON_LENGTH = 200;

const WORDING: Record<Language, { label: string; warning: string; found: string; advice: string }> = {
  en: {
    label: 'CAUTION',
    warning: 'this message may be phishing.',
    found: 'Postern found:',
    advice:
      'Do not open links or attachments or reply with passwords or payment details unless you have confirmed with the sender by another channel.',
  },
  ru: {
    label: 'ВНИМАНИЕ',
    warning: 'это письмо может быть фишингом.',
    found: 'Postern обнаружил:',
    advice:
      'Не открывайте ссылки и вложения и не отправляйте в ответ пароли или платёжные данные, пока не убедитесь по другому каналу связи, что письмо действительно от этого отправителя.',
  },
};

interface Paragraph {
  language: Language;
  /** Shown in bold before the text; empty for a configured template. */
  label: string;
  text: string;
}

export function warningBanner(options: BannerOptions): Banner {
  const languages: Language[] = options.language === 'both' ? ['ru', 'en'] : [options.language];
  const paragraphs = languages.map((language) => paragraph(language, options));
  const text = plainText(paragraphs);
  const html = bannerHtml(paragraphs);
  return {
    text,
    html,
    ascii: {
      text: plainText([paragraph('en', options)]).replace(/[^\x00-\x7f]/gu, '?'),
      html: html.replace(/[^\x00-\x7f]/gu, (c) => `&#${c.codePointAt(0)};`),
    },
  };
}

function plainText(paragraphs: Paragraph[]): string {
  return paragraphs.map((p) => (p.label === '' ? p.text : `${p.label}: ${p.text}`)).join('\n\n');
}

function paragraph(language: Language, options: BannerOptions): Paragraph {
  const reasons = options.reasons.slice(0, MAX_REASONS);
  const listed = reasons.map((r) => cleanReason(r[language])).filter((r) => r !== '');
  const joined = listed.join('; ');
  const template = options.template?.[language];
  if (template !== undefined) return { language, label: '', text: template.replaceAll('{reasons}', joined) };
  const w = WORDING[language];
  const found = listed.length > 0 ? ` ${w.found} ${joined}.` : '';
  return { language, label: w.label, text: `${w.warning}${found} ${w.advice}` };
}

/**
 * One line of plain text: control characters and bidirectional overrides are removed so that a
 * reason cannot break the banner into lines of its own or reverse how a domain reads (the
 * "Trojan Source" trick, Unicode UAX #9 §2); length is capped.
 */
function cleanReason(reason: string): string {
  const line = reason
    .replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[.;\s]+$/, '') // each reason ends where the next begins, with "; "
    .replace(DOMAIN_NAME, (name) => (parseDomain(name).isIcann === true ? name.replaceAll('.', '[.]') : name));
  return line.length > MAX_REASON_LENGTH ? `${line.slice(0, MAX_REASON_LENGTH - 1)}…` : line;
}

/**
 * A domain name in a reason ("paypa1.com", "login.paypa1-secure.example", the domain of an address):
 * labels joined by dots, the last one a top-level domain's (letters, or an A-label). Written
 * "paypa1[.]com" in the banner, as security warnings defang them: mail programs turn a bare
 * "paypa1.com" into a link (Gmail, Apple Mail), and the warning must not hand the reader a link to
 * the very site it warns of; nor may a Postern after this one read it as a link the message carries.
 * Only names under a top-level domain of the Public Suffix List's ICANN section: "gnp.exe" stays, and
 * so do scores and versions ("1.5"), whose last label is digits.
 */
const DOMAIN_NAME =
  /(?<![\p{L}\p{N}-])[\p{L}\p{N}][\p{L}\p{N}-]*(?:\.[\p{L}\p{N}][\p{L}\p{N}-]*)*\.(?:\p{L}{2,}|xn--[a-z0-9-]+)(?![\p{L}\p{N}-])/gu;

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML 5 §13.1.2.4 and §13.1.2.3: these five are enough in text and in quoted attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

function bannerHtml(paragraphs: Paragraph[]): string {
  const body = paragraphs
    .map((p, i) => {
      const margin = i === paragraphs.length - 1 ? '0' : '0 0 8px 0';
      const label = p.label === '' ? '' : `<strong>${escapeHtml(p.label)}:</strong> `;
      const text = escapeHtml(p.text).replace(/\r?\n/g, '<br>');
      return `<p lang="${p.language}" dir="ltr" style="margin:${margin};">${label}${text}</p>`;
    })
    .join('');
  return (
    '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" ' +
    'style="width:100%;border-collapse:collapse;margin:0 0 16px 0;"><tr><td ' +
    'style="background-color:#fdecea;border:1px solid #d93025;border-left:6px solid #d93025;' +
    'padding:12px 16px;font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:20px;' +
    `color:#202124;text-align:left;">${body}</td></tr></table>`
  );
}

/**
 * The message with the banner at the top of every body text part (mime-parts.ts says which). A part
 * in a charset we cannot read but whose bytes are ASCII-compatible gets the ASCII banner and keeps its
 * own bytes. A body that cannot be edited so — signed or encrypted, nested too deep, in a transfer
 * encoding or charset we cannot write, HTML whose body begins past what is parsed or that has none (a
 * frameset), an alternative shown in place of the text, or no text at all (an image, an attached
 * message) — is not left without a warning: the message becomes a multipart/mixed with the banner as
 * its first part. So does one that would grow past `maxSize` (smtp.maxMessageSize): that costs a
 * kilobyte, whatever the size of the text. A part that already begins with this very banner (a
 * Postern before this one put it there: a relay, a forward) gets no second one.
 */
export function insertBanner(message: Buffer, banner: Banner, options: { maxSize?: number | undefined } = {}): Buffer {
  // Wrapped, an encrypted message could not be decrypted any more (a reader decrypts the message, not
  // a part of it): its subject tag and verdict fields mark it, as for mail we cannot read. Only the
  // whole message: an encrypted part beside the text a reader shows is no reason to leave that text bare.
  if (encryptedMessage(message)) return message;
  const wrapped = () => wrapWithTextPart(message, banner.text);
  const found = findBodyTextParts(message);
  if (found.sealed !== undefined || found.parts.length === 0) return wrapped();
  const changes: { start: number; end: number; bytes: Buffer }[] = [];
  let size = message.length;
  for (const part of found.parts) {
    // RFC 2046 §5.1.1: a body part begins on a line of its own, after its delimiter line's CRLF. Fields
    // written where no line begins would run on from the line before ("--iContent-Type: …"): no part to
    // a reader, but text of the part before it. bodyParts opens no such part; should one come, wrap.
    if (part.headerStart > 0 && message[part.headerStart - 1] !== 0x0a) return wrapped();
    const read = decodeTextPart(message, part);
    if (read === undefined) return wrapped();
    const { text, opaque } = read;
    const html = part.subtype === 'html';
    const at = html ? bodyStart(text) : 0;
    if (at === undefined) return wrapped();
    const form = opaque ? banner.ascii : banner;
    // Only the same banner, reasons and all: a sender's copy of our wording with reasons of its own
    // (a lure, "verified by your IT") must not keep ours out.
    if (html ? text.startsWith(form.html, at) : startsWithTextBanner(text, form.text, lineEndOf(message))) continue;
    const changed = html
      ? withHtmlBanner(part, text, at, form.html, opaque)
      : withTextBanner(text, form.text, lineEndOf(message));
    const bytes = encodeTextPart(message, part, { text: changed, opaque });
    changes.push({ start: part.headerStart, end: part.bodyEnd, bytes });
    size += bytes.length - (part.bodyEnd - part.headerStart);
  }
  if (options.maxSize !== undefined && size > options.maxSize) return wrapped();
  return replaceRanges(message, changes);
}

/**
 * Whether the message itself is encrypted: PGP/MIME (RFC 3156 §4, multipart/encrypted) or S/MIME
 * (RFC 8551 §3.2, application/pkcs7-mime). Its smime-type parameter is optional (RFC 8551 §3.2.2,
 * and older agents write none, only name=smime.p7m): only signed-data and certs-only, which a reader
 * shows without a key, say it is not enveloped (or authEnveloped) data.
 */
function encryptedMessage(message: Buffer): boolean {
  const { fieldsEnd } = splitEntity(message, 0, message.length);
  const field = readRawFields(message, 0, fieldsEnd).find((f) => f.name === 'content-type');
  if (!field) return false;
  const type = parseHeaderValue(field.value);
  const name = type.value.toLowerCase();
  if (name === 'multipart/encrypted') return true;
  const smime = (type.params['smime-type'] ?? '').trim().toLowerCase();
  return /^application\/(x-)?pkcs7-mime$/.test(name) && smime !== 'signed-data' && smime !== 'certs-only';
}

function withTextBanner(text: string, banner: string, messageEol: string): string {
  const eol = lineEndIn(text, messageEol);
  return banner.replace(/\r\n|\r|\n/g, eol) + eol + eol + text;
}

/** Whether the text begins as withTextBanner makes it begin, or is all banner (wrapWithTextPart's part). */
function startsWithTextBanner(text: string, banner: string, messageEol: string): boolean {
  const eol = lineEndIn(text, messageEol);
  const written = banner.replace(/\r\n|\r|\n/g, eol);
  return text === written || text.startsWith(written + eol + eol);
}

/** The line end the text has, else the message's. */
function lineEndIn(text: string, messageEol: string): string {
  return text.includes('\r\n') ? '\r\n' : text.includes('\n') ? '\n' : messageEol;
}

/** The banner where the document's body begins (`at`, bodyStart). */
function withHtmlBanner(part: TextPart, html: string, at: number, banner: string, opaque: boolean): string {
  const head = html.slice(0, at);
  const changed = head + banner + html.slice(at);
  if (opaque || inOwnCharset(part, changed) !== undefined) return changed;
  // Re-encoded, the text is now UTF-8: a <meta> naming another charset would make a browser misread
  // it (HTML 5 §4.2.5.4); the MIME charset wins in mail readers, but not when the part is saved.
  const utf8 = head.replace(/(<meta\b[^<>]*?\bcharset\s*=\s*["']?)(?!utf-?8\b)[\w.:-]+/gi, '$1utf-8');
  return utf8 === head ? changed : utf8 + banner + html.slice(at);
}

/**
 * How much of an HTML part is parsed to find where its body begins. The body starts near the top of
 * every real message; past this (a head padded with megabytes of style), the message is wrapped.
 */
const BODY_SEARCH_CHARS = 256 * 1024;

/**
 * Where a browser's body begins, as the HTML standard's parser builds the tree (HTML 5 §13.2.6.4,
 * parse5, with scripting off as in mail readers): just past an explicit `<body>` tag that opened the
 * body, or where the first text or element that opened it implicitly (a `<div>`, a word) begins. A
 * `<body>` the sender writes after that — inside a hidden `<div>`, a comment, a `<template>`, an
 * attribute, a script, a `<noscript>` — is no body start: a browser merges its attributes into the
 * body already open and puts nothing there. A parser of our own differed from browsers' on quotes in
 * attribute names, vertical tabs in tag names and escaped script text, each a place to hide the
 * banner. Undefined when the body begins past BODY_SEARCH_CHARS, holds nothing, or is none (a frameset).
 */
export function bodyStart(html: string): number | undefined {
  // Most bodies begin within the first few kilobytes: a short read first, the long one only if needed.
  // A parse of the first part of a document builds the same tree up to where it stops (tree building
  // goes in document order), so a start found well inside the part read is the whole document's.
  for (const length of BODY_SEARCH_STEPS) {
    const cut = html.length > length;
    const found = bodyStartIn(cut ? html.slice(0, length) : html);
    if (found !== undefined && (!cut || found < length - 1)) return found;
    if (!cut) return undefined;
  }
  return undefined;
}

/** First a short read, then BODY_SEARCH_CHARS. */
const BODY_SEARCH_STEPS = [16 * 1024, BODY_SEARCH_CHARS];

function bodyStartIn(source: string): number | undefined {
  const document = parse(source, { sourceCodeLocationInfo: true, scriptingEnabled: false });
  const root = document.childNodes.find((node) => node.nodeName === 'html');
  const body = root && 'childNodes' in root ? root.childNodes.find((node) => node.nodeName === 'body') : undefined;
  if (!body || !('childNodes' in body)) return undefined;
  const tag = body.sourceCodeLocation?.startTag;
  if (tag) return tag.endOffset;
  // Nothing in the body: the document may end inside a comment or a <script> (what is added after it
  // would be hidden there), or the text read ended inside the head. Where it begins is not known.
  // The earliest child, not the first: text inside a <table> is moved before it (foster parenting,
  // HTML 5 §13.2.6.1), and the banner must go before the table, not into it.
  let first: number | undefined;
  for (const node of body.childNodes) {
    const at = node.sourceCodeLocation?.startOffset;
    if (at !== undefined && (first === undefined || at < first)) first = at;
  }
  return first;
}
