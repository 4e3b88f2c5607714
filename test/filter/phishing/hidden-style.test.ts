import assert from 'node:assert/strict';
import test from 'node:test';
import { hiddenByStyle, inlineByStyle } from '../../../src/filter/phishing/hidden-style.ts';

test('inline styles that keep content from the reader are hidden', () => {
  for (const style of [
    'display:none',
    'DISPLAY: None !important',
    'color:red; display:none',
    'visibility:hidden',
    'visibility: collapse',
    'font-size:0',
    'font-size: 0px',
    'font-size:.0em',
    'opacity:0',
    'opacity: 0%',
  ]) {
    assert.equal(hiddenByStyle(style), true, style);
  }
});

test('styles a reader still sees are not hidden', () => {
  for (const style of [
    undefined,
    '',
    'display:block',
    'display:none; display:block',
    'font-size:10px',
    'font-size:0.5em',
    'opacity:0.5',
    'visibility:visible',
    'color:#000000',
    'display',
  ]) {
    assert.equal(hiddenByStyle(style), false, String(style));
  }
});

test('an inline display makes a block element join the text around it', () => {
  assert.equal(inlineByStyle('display:inline'), true);
  assert.equal(inlineByStyle('display: inline-block'), true);
  assert.equal(inlineByStyle('display:block'), false);
  assert.equal(inlineByStyle(undefined), false);
});
