import assert from 'node:assert/strict';
import test from 'node:test';
import {
  DRAWN,
  drawnChild,
  hiddenByStyle,
  inlineByStyle,
  isHidden,
  styleValue,
} from '../../../src/filter/phishing/hidden-style.ts';

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

test('one parser: comments dropped, invalid values ignored, !important kept over later declarations', () => {
  // CSS Syntax 3 §4.3.2: a comment is no part of a value.
  assert.equal(hiddenByStyle('display:/* x */none'), true);
  assert.equal(hiddenByStyle('font-size:/**/0'), true);
  // CSS 2.1 §4.2: a declaration with a value the property cannot take is ignored, not read as unset.
  assert.equal(hiddenByStyle('visibility:hidden; visibility:nonsense'), true);
  assert.equal(hiddenByStyle('opacity:0; opacity:cloudy'), true);
  // CSS Cascade 4 §6.4: an important declaration wins over a later normal one.
  assert.equal(hiddenByStyle('display:none !important; display:block'), true);
  assert.equal(hiddenByStyle('font-size:0!important;font-size:14px'), true);
  assert.equal(hiddenByStyle('display:none; display:block !important'), false);
  assert.equal(styleValue('PADDING: 0 4px; color: red', 'padding'), '0 4px');
});

test('inherited: a descendant draws again what visibility or a zero font size hid; display and opacity hide all below', () => {
  const under = (...styles: string[]) => styles.reduce((parent, style) => drawnChild(parent, 'span', style), DRAWN);
  assert.equal(isHidden(under('font-size:0', 'font-size:14px')), false);
  assert.equal(isHidden(under('font-size:0', 'font-size:medium')), false);
  assert.equal(isHidden(under('font-size:0', 'font-size:1rem')), false);
  assert.equal(isHidden(under('font-size:0', 'font-size:calc(0em + 14px)')), false);
  assert.equal(isHidden(under('font-size:0', 'color:red')), true);
  assert.equal(isHidden(under('font-size:0', 'font-size:2em')), true);
  assert.equal(isHidden(under('font-size:0', 'font-size:150%')), true);
  assert.equal(isHidden(under('font-size:0', 'font-size:inherit')), true);
  assert.equal(isHidden(under('font-size:0', 'font-size:larger')), true);
  assert.equal(isHidden(under('visibility:hidden', 'visibility:visible')), false);
  assert.equal(isHidden(under('visibility:hidden', 'visibility:inherit')), true);
  assert.equal(isHidden(under('visibility:hidden', '')), true);
  for (const hider of ['display:none', 'opacity:0']) {
    assert.equal(isHidden(under(hider, 'display:block;visibility:visible;font-size:14px;opacity:1')), true, hider);
  }
  assert.equal(isHidden(drawnChild(DRAWN, 'script', undefined)), true);
  assert.equal(isHidden(drawnChild(DRAWN, 'noscript', undefined)), false);
});
