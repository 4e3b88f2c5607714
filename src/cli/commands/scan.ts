/**
 * `postern scan <file.eml|->… [--json] [--lang en|ru]`: the phishing verdict of saved messages,
 * offline, with the server's settings — for an admin investigating a report, and for evaluation.
 * One file prints the verdict with every signal explained; several files (or a directory) are batch
 * mode: one line (or one JSON object per line) per message, then the rate.
 */
import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_ATTACHED_MESSAGES } from '../../filter/phishing/embedded.ts';
import { type ScanResult, scanMessage, scanSettings } from '../../filter/phishing/scan.ts';
import { printable } from '../../log/printable.ts';
import { CliError, usageError } from '../errors.ts';
import { configFrom, parseCommandLine } from './options.ts';

export async function scanCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    args,
    { json: { type: 'boolean' }, lang: { type: 'string' } },
    'scan',
  );
  if (positionals.length === 0) throw usageError('scan: missing message file (a path, a directory or - for stdin)');
  const lang = values.lang ?? undefined;
  if (lang !== undefined && lang !== 'en' && lang !== 'ru')
    throw usageError(`scan: --lang must be en or ru, not "${lang}"`);
  const { config } = configFrom(values);
  const language = (lang as 'en' | 'ru' | undefined) ?? config.filter.phishing.language;
  const settings = scanSettings({
    filter: config.filter,
    localDomains: config.domains,
    authservId: config.authentication.authservId ?? config.hostname,
  });
  const files = await expand(positionals);
  if (files.length === 0) {
    throw new CliError(`scan: no message files in ${positionals.join(', ')} (subdirectories are not searched)`);
  }
  if (files.length === 1 && !(await isDirectory(positionals[0]!))) {
    const result = await scanMessage(await read(files[0]!), settings);
    process.stdout.write(
      values.json === true
        ? `${JSON.stringify(toJson(files[0]!, result), null, 2)}\n`
        : printable(describe(result, language), true),
    );
    return 0;
  }
  const started = performance.now();
  let bytes = 0;
  const print = (file: string, r: ScanResult) =>
    process.stdout.write(
      values.json === true
        ? `${JSON.stringify(toJson(file, r))}\n`
        : `${printable(file)}\t${r.score}\t${r.action}\t${r.category}\t${r.signals.map((s) => s.name).join(',')}\n`,
    );
  // One thread: worker threads measured slower here (each warms up its own JIT, and the two cores of
  // the test machines share caches), see docs/benchmarks.md.
  // A file that cannot be read is said on stderr and the batch goes on; the exit status tells of it.
  let unreadable = 0;
  for (const file of files) {
    let content: Buffer;
    try {
      content = await read(file);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      process.stderr.write(`postern: ${err.message}\n`);
      unreadable++;
      continue;
    }
    bytes += content.length;
    print(file, await scanMessage(content, settings));
  }
  const seconds = (performance.now() - started) / 1000;
  const scanned = files.length - unreadable;
  process.stderr.write(
    `scanned ${scanned} messages (${Math.round(bytes / 1024)} KB) in ${seconds.toFixed(2)} s: ${Math.round(scanned / seconds)} messages/s` +
      `${unreadable > 0 ? `; ${unreadable} could not be read` : ''}\n`,
  );
  return unreadable > 0 ? 1 : 0;
}

async function expand(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if (p !== '-' && (await isDirectory(p))) {
      const names = (await readdir(p)).filter((n) => !n.startsWith('.')).sort();
      for (const n of names) if (!(await isDirectory(join(p, n)))) out.push(join(p, n));
    } else out.push(p);
  }
  return out;
}

async function isDirectory(path: string): Promise<boolean> {
  if (path === '-') return false;
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function read(path: string): Promise<Buffer> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
  try {
    // Synchronous: a batch reads one small file after another, and the thread pool round trips of
    // fs.promises cost more than the read itself.
    return readFileSync(path);
  } catch (err) {
    throw new CliError(`scan: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function toJson(file: string, r: ScanResult) {
  return {
    file,
    from: r.from,
    subject: r.subject,
    score: r.score,
    action: r.action,
    category: r.category,
    ...(r.allowlisted ? { allowlisted: r.allowlisted } : {}),
    ...(r.unopenedAttachedMessages ? { unopenedAttachedMessages: r.unopenedAttachedMessages } : {}),
    signals: r.signals.map((s) => ({
      name: s.name,
      group: s.group,
      weight: s.weight,
      ...(s.evidence !== undefined ? { evidence: s.evidence } : {}),
      en: s.explanation.en,
      ru: s.explanation.ru,
    })),
  };
}

const ACTION_TEXT: Record<ScanResult['action'], { en: string; ru: string }> = {
  none: { en: 'deliver', ru: 'доставить' },
  warn: { en: 'deliver with a warning', ru: 'доставить с предупреждением' },
  junk: { en: 'deliver to Junk', ru: 'доставить в «Спам»' },
  quarantine: { en: 'quarantine', ru: 'карантин' },
  reject: { en: 'reject (554)', ru: 'отклонить (554)' },
};

function describe(r: ScanResult, lang: 'en' | 'ru'): string {
  const ru = lang === 'ru';
  const lines = [
    `${ru ? 'От' : 'From'}: ${r.from || '-'}`,
    `${ru ? 'Тема' : 'Subject'}: ${r.subject}`,
    `${ru ? 'Оценка' : 'Score'}: ${r.score}`,
    `${ru ? 'Действие' : 'Action'}: ${ACTION_TEXT[r.action][lang]}`,
    `${ru ? 'Категория' : 'Category'}: ${r.category}`,
  ];
  if (r.allowlisted) lines.push(`${ru ? 'В белом списке' : 'Allow-listed'}: ${r.allowlisted}`);
  if (r.unopenedAttachedMessages) {
    // Past MAX_ATTACHED_MESSAGES the detector opens no more (a DoS guard): what they hold was not judged.
    lines.push(
      ru
        ? `Не открыто вложенных писем: ${r.unopenedAttachedMessages} (открываются первые ${MAX_ATTACHED_MESSAGES})`
        : `Attached messages not opened: ${r.unopenedAttachedMessages} (the first ${MAX_ATTACHED_MESSAGES} are)`,
    );
  }
  if (r.signals.length === 0) lines.push(ru ? 'Признаков фишинга нет.' : 'No phishing signals.');
  else lines.push(ru ? 'Признаки:' : 'Signals:');
  for (const s of [...r.signals].sort((a, b) => b.weight - a.weight)) {
    lines.push(`  +${s.weight}  ${s.name}: ${s.explanation[lang]}`);
  }
  return `${lines.join('\n')}\n`;
}
