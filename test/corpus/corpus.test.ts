/**
 * The labelled corpus for `npm run eval:phishing` (issue 8, "Quality"): the manifest must describe exactly
 * the files on disk, cover every mask in both languages, and every message must parse into something the
 * detector can look at.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { parseMessage } from '../../src/mime/message.ts';

const CORPUS = import.meta.dirname;
const LANGUAGES = ['en', 'ru'];
/** The masks of issue 8 (CATEGORIES in src/filter/phishing/signal.ts without 'generic'). */
const PHISHING_CATEGORIES = ['bank', 'subscription', 'executive', 'plea', 'job', 'sextortion', 'password'];
/** Hard negatives: legitimate mail on the same topics as the masks, plus the everyday mail that looks like them. */
const HAM_TOPICS = [
  ...PHISHING_CATEGORIES,
  'security',
  'it',
  'gov',
  'newsletter',
  'safelinks',
  'invoice',
  'order',
  'colleague',
];
const MIN_PHISHING_PER_CATEGORY = 9;
const MIN_HAM_PER_LANGUAGE = 30;

interface Label {
  file: string;
  label: 'phishing' | 'ham';
  category: string;
  language: string;
  tricks?: string[];
  difficulty?: string;
}

const labels: Label[] = JSON.parse(await readFile(join(CORPUS, 'labels.json'), 'utf8'));

async function emlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.eml')) {
      out.push(relative(CORPUS, join(entry.parentPath, entry.name)).split('\\').join('/'));
    }
  }
  return out.sort();
}

test('the manifest lists every .eml file once, sorted, and nothing else', async () => {
  const files = await emlFiles(CORPUS);
  const listed = labels.map((l) => l.file);
  assert.deepEqual(listed, [...listed].sort(), 'labels.json is sorted by file');
  assert.equal(new Set(listed).size, listed.length, 'no file is listed twice');
  assert.deepEqual(listed, files);
});

test('every entry agrees with its path and uses a known label, language and category', () => {
  for (const l of labels) {
    const m = /^(phishing|ham)\/(en|ru)\/([a-z]+)-(\d{2})\.eml$/.exec(l.file);
    assert.ok(m, `${l.file}: path is <label>/<lang>/<category>-<nn>.eml`);
    assert.equal(l.label, m[1], l.file);
    assert.equal(l.language, m[2], l.file);
    assert.equal(l.category, m[3], l.file);
    assert.ok(LANGUAGES.includes(l.language), l.file);
    if (l.label === 'phishing') {
      assert.ok(PHISHING_CATEGORIES.includes(l.category), `${l.file}: category ${l.category}`);
      assert.ok(Array.isArray(l.tricks) && l.tricks.length > 0, `${l.file}: names its tricks`);
      for (const t of l.tricks) assert.match(t, /^[a-z0-9]+(-[a-z0-9]+)*$/, `${l.file}: trick ${t}`);
    } else {
      assert.ok(HAM_TOPICS.includes(l.category), `${l.file}: topic ${l.category}`);
      assert.equal(l.tricks, undefined, `${l.file}: ham has no tricks`);
    }
  }
});

test(`each mask has at least ${MIN_PHISHING_PER_CATEGORY} samples per language, ham at least ${MIN_HAM_PER_LANGUAGE}`, () => {
  for (const language of LANGUAGES) {
    for (const category of PHISHING_CATEGORIES) {
      const n = labels.filter(
        (l) => l.label === 'phishing' && l.language === language && l.category === category,
      ).length;
      assert.ok(n >= MIN_PHISHING_PER_CATEGORY, `phishing/${language}/${category}: ${n}`);
    }
    const ham = labels.filter((l) => l.label === 'ham' && l.language === language).length;
    assert.ok(ham >= MIN_HAM_PER_LANGUAGE, `ham/${language}: ${ham}`);
  }
});

test('every message parses with a From, a Subject and something to read', async () => {
  for (const l of labels) {
    const message = await parseMessage(await readFile(join(CORPUS, l.file)));
    assert.equal(message.from.length, 1, `${l.file}: one From`);
    assert.match(message.from[0]!.address, /^[^@\s]+@[^@\s]+\.[a-z-]+$/, `${l.file}: From address`);
    assert.notEqual(message.subject.trim(), '', `${l.file}: Subject`);
    assert.ok(!message.subject.includes('=?'), `${l.file}: Subject decodes`);
    const body = message.text.trim() + message.html.trim();
    assert.ok(body !== '' || message.attachments.length > 0, `${l.file}: a body or an attachment`);
    assert.ok(!/[\uFFFD]/.test(body), `${l.file}: the body decodes in its charset`);
    const auth = message.headers.find((h) => h.name === 'authentication-results');
    assert.match(auth?.value ?? '', /^mx\.vostok-trade\.ru;/, `${l.file}: our Authentication-Results`);
  }
});
