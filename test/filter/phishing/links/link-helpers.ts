/** What the link-signal tests share: a sender of our own domain, the default brands, and ways to read the result. */
import assert from 'node:assert/strict';
import { DEFAULT_BRANDS } from '../../../../src/filter/phishing/brands.ts';
import { linkSignals } from '../../../../src/filter/phishing/links/link-signals.ts';
import type { Signal } from '../../../../src/filter/phishing/signal.ts';

export const base = {
  text: '',
  senderDomain: 'acmecorp.ru',
  protectedDomains: ['acmecorp.ru'],
  brands: DEFAULT_BRANDS,
};
export const html = (body: string) => linkSignals({ ...base, html: body });
export const text = (body: string) => linkSignals({ ...base, html: '', text: body });
export const names = (signals: Signal[]) => signals.map((s) => s.name).sort();
/** The one signal of that name (the test fails on none or several). */
export const one = (signals: Signal[], name: string) => {
  const found = signals.filter((s) => s.name === name);
  assert.equal(found.length, 1, `${name} in ${JSON.stringify(names(signals))}`);
  return found[0] as Signal;
};
