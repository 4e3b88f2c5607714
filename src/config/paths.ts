/**
 * What a file path in the config may be (dataDir, certificates, rule tables, access maps, a milter's
 * socket). A leaf module: schema.ts imports filter-schema.ts, and both check paths.
 */
import { z } from 'zod';

/** C0 controls and DEL: no file name an admin means holds one. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/** "a control character (U+0000) at position 9" and why it is refused, for the character at `at` of `value`. */
export function controlCharacterMessage(value: string, at: number): string {
  const code = value.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0');
  return (
    `holds a control character (U+${code}) at position ${at + 1}, which no file name is meant to have (a NUL ` +
    'makes every file call fail): remove it (an escape such as "\\0" or "\\n" in a quoted string, or a | block\'s line end)'
  );
}

/**
 * Why `value` cannot be the path it is meant to be, or undefined; `what` and `example` complete "name
 * …, such as …". A path is taken as written, relative ones from the config file's folder: white space
 * around it (" /x/data") would become part of a name (a directory " " beside the config), and a
 * leading "~" is no home directory (a shell expands it; nothing here does), so a directory named "~"
 * would be made.
 */
export function pathProblem(value: string, what: string, example: string): string | undefined {
  if (value === '') return `empty: name ${what}, such as ${example}`;
  if (value.trim() === '') return `only white space: name ${what}, such as ${example}`;
  const at = value.search(CONTROL);
  if (at >= 0) return controlCharacterMessage(value, at);
  if (value !== value.trim()) {
    const where = value.trimStart() !== value ? 'starts' : 'ends';
    return `${where} with white space, which would be part of the name (nothing trims it): remove it`;
  }
  if (value.startsWith('~')) {
    return `starts with "~", which is taken as a name here (only a shell expands ~ to a home directory): give an absolute path, such as ${example}`;
  }
  return undefined;
}

/**
 * A file path key: `what` and `example` complete "name …, such as …" in its messages. `emptyIsUnset`
 * keeps an empty value meaning "none" where it always has (tls.acme.directoryCa).
 */
export const filePath = (what: string, example: string, { emptyIsUnset = false } = {}) =>
  z.string().superRefine((value, ctx) => {
    const problem = emptyIsUnset && value === '' ? undefined : pathProblem(value, what, example);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
