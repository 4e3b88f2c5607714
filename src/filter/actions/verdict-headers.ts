/**
 * The header fields that carry the phishing verdict to the user's mail client and Sieve rules
 * (issue 8): X-Postern-Verdict and X-Postern-Signals. Since clients and rules trust them, the same
 * fields arriving from outside are forged and are removed before ours are added.
 */
import { readRawFields, replaceRanges, splitEntity } from './mime-parts.ts';

export interface VerdictSummary {
  score: number;
  category: string;
  action: string;
  signals: { name: string; weight: number }[];
  /** The first threshold; below it the verdict reads "clean". Without it, the action decides. */
  threshold?: number;
}

/** Actions below the first threshold: the message is delivered as it is, so it reads as clean. */
const CLEAN_ACTIONS: ReadonlySet<string> = new Set(['none', 'accept', 'deliver', 'pass']);
/** RFC 5322 §2.1.1: lines SHOULD be at most 78 characters (and MUST be at most 998). */
const LINE_LIMIT = 78;
/** Keeps "name=weight" well inside one line whatever a caller passes. */
const MAX_TOKEN = 40;
const MAX_NUMBER = 1_000_000;

const FIELDS: ReadonlySet<string> = new Set(['x-postern-verdict', 'x-postern-signals']);

/** Both fields, each ending in CRLF; X-Postern-Signals only when there are signals. */
export function verdictHeaders(verdict: VerdictSummary): string {
  const clean = verdict.threshold !== undefined ? verdict.score < verdict.threshold : CLEAN_ACTIONS.has(verdict.action);
  const word = clean ? 'clean' : 'phishing';
  const verdictField = fold('X-Postern-Verdict', ';', [
    word,
    `score=${number(verdict.score)}`,
    `category=${token(verdict.category)}`,
    `action=${token(verdict.action)}`,
  ]);
  if (verdict.signals.length === 0) return verdictField;
  const signals = verdict.signals.map((s) => `${token(s.name)}=${number(s.weight)}`);
  return verdictField + fold('X-Postern-Signals', ',', signals);
}

/** A name as a token: no separators, spaces, controls or line breaks can get into the field. */
function token(text: string): string {
  const clean = text.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, MAX_TOKEN);
  return clean === '' ? 'unknown' : clean;
}

function number(value: number): string {
  if (!Number.isFinite(value)) return '0';
  const clamped = Math.max(-MAX_NUMBER, Math.min(MAX_NUMBER, value));
  return String(Math.round(clamped * 10) / 10 || 0); // "|| 0": no "-0"
}

/** RFC 5322 §2.2.3: folded by a CRLF before the space that follows a separator. */
function fold(name: string, separator: string, items: string[]): string {
  const lines: string[] = [];
  let line = `${name}:`;
  items.forEach((item, i) => {
    const sep = i === 0 ? '' : separator;
    if (i > 0 && line.length + sep.length + 1 + item.length > LINE_LIMIT) {
      lines.push(line + sep);
      line = ` ${item}`;
    } else {
      line += `${sep} ${item}`;
    }
  });
  lines.push(line);
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * The message without any X-Postern-Verdict or X-Postern-Signals field (with its folded lines)
 * in the top-level header section; the same Buffer when there is none.
 */
export function stripVerdictHeaders(message: Buffer): Buffer {
  const { fieldsEnd } = splitEntity(message, 0, message.length);
  const forged = readRawFields(message, 0, fieldsEnd).filter((f) => FIELDS.has(f.name));
  return replaceRanges(
    message,
    forged.map((f) => ({ start: f.start, end: f.end, bytes: Buffer.alloc(0) })),
  );
}
