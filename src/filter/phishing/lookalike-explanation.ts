/**
 * Plain-language English and Russian explanations of a lookalike domain (a sender's, or a link's), for
 * admins and users. Wording only; the detection is in lookalike.ts.
 */
import { scriptOf } from './confusables.ts';

export type Explanation = { en: string; ru: string };

/** Whose domain an explanation speaks of, as the opening words of its sentence. */
export type Subject = Explanation;

export const senderDomainSubject: Subject = { en: "The sender's domain", ru: 'Домен отправителя' };

/** One place where the checked domain differs from the protected one: `got` stands in for `want`. */
export type Swap = { got: string; want: string };

const scriptNames: Partial<Record<string, { en: string; ru: string; ruPlural: string }>> = {
  Latin: { en: 'Latin', ru: 'латинская', ruPlural: 'латинские' },
  Cyrillic: { en: 'Cyrillic', ru: 'кириллическая', ruPlural: 'кириллические' },
  Greek: { en: 'Greek', ru: 'греческая', ruPlural: 'греческие' },
  Armenian: { en: 'Armenian', ru: 'армянская', ruPlural: 'армянские' },
  Georgian: { en: 'Georgian', ru: 'грузинская', ruPlural: 'грузинские' },
  Hebrew: { en: 'Hebrew', ru: 'еврейская', ruPlural: 'еврейские' },
  Arabic: { en: 'Arabic', ru: 'арабская', ruPlural: 'арабские' },
};

/** "the 'а' is a Cyrillic letter" for foreign-script letters (grouped), else "'rn' stands in for 'm'". */
function joined(swaps: Swap[]): Explanation {
  const foreign = new Map<string, Set<string>>(); // script → letters
  const en: string[] = [];
  const ru: string[] = [];
  const seen = new Set<string>();
  for (const { got, want } of swaps) {
    const script = [...got].length === 1 ? scriptOf(got) : undefined;
    if (script !== undefined && script !== 'Latin') {
      foreign.set(script, (foreign.get(script) ?? new Set()).add(got));
    } else if (!seen.has(got)) {
      seen.add(got);
      en.push(`'${got}' stands in for '${want}'`);
      ru.push(`«${got}» вместо «${want}»`);
    }
  }
  for (const [script, set] of foreign) {
    const letters = [...set];
    const name = scriptNames[script];
    const q = letters.map((l) => `'${l}'`).join(', ');
    const g = letters.map((l) => `«${l}»`).join(', ');
    const one = letters.length === 1;
    en.unshift(
      `${one ? 'the' : 'the letters'} ${q} ${one ? `is a ${name?.en ?? script} letter` : `are ${name?.en ?? script}`}`,
    );
    if (name) ru.unshift(one ? `буква ${g} — ${name.ru}` : `буквы ${g} — ${name.ruPlural}`);
    else ru.unshift(`${one ? 'символ' : 'символы'} ${g} — из письменности ${script}`);
  }
  return { en: en.join(', '), ru: ru.join(', ') };
}

/**
 * Homoglyph, mixed-script or punycode lookalike: the skeletons are equal (UTS #39 §4), as written or, for
 * `capitals`, with both names in capital letters (ραυραl.com is not paypal.com to the eye, ΡΑΥΡΑL.COM is).
 */
export function explainConfusable(
  sender: string,
  target: string,
  swaps: Swap[],
  ascii?: string,
  subject: Subject = senderDomainSubject,
  form: 'as-written' | 'capitals' = 'as-written',
): Explanation {
  const detail = joined(swaps);
  const capitals =
    form === 'capitals'
      ? {
          en: `, and in capital letters ${sender.toUpperCase()} looks just like ${target.toUpperCase()}`,
          ru: `: заглавными буквами ${sender.toUpperCase()} не отличить от ${target.toUpperCase()};`,
        }
      : { en: '', ru: ':' };
  if (ascii !== undefined) {
    return {
      en: `${subject.en} ${ascii} is written in punycode; it shows as ${sender} and imitates ${target}${capitals.en}: ${detail.en}.`,
      ru: `${subject.ru} ${ascii} записан в punycode; он выглядит как ${sender} и имитирует ${target}${capitals.ru} ${detail.ru}.`,
    };
  }
  return {
    en: `${subject.en} ${sender} imitates ${target}${capitals.en}: ${detail.en}.`,
    ru: `${subject.ru} ${sender} имитирует ${target}${capitals.ru} ${detail.ru}.`,
  };
}

export type Edit =
  | { kind: 'substitution'; got: string; want: string }
  | { kind: 'insertion'; got: string }
  | { kind: 'deletion'; want: string }
  | { kind: 'transposition'; got: string; want: string };

/** One-letter edit (Damerau-Levenshtein distance 1). */
export function explainEdit(
  sender: string,
  target: string,
  edit: Edit,
  subject: Subject = senderDomainSubject,
): Explanation {
  const en = `${subject.en} ${sender} differs from ${target} by one letter`;
  const ru = `${subject.ru} ${sender} отличается от ${target} на одну букву`;
  switch (edit.kind) {
    case 'substitution':
      return {
        en: `${en}: '${edit.got}' instead of '${edit.want}'.`,
        ru: `${ru}: «${edit.got}» вместо «${edit.want}».`,
      };
    case 'insertion':
      return { en: `${en}: an extra '${edit.got}'.`, ru: `${ru}: лишняя «${edit.got}».` };
    case 'deletion':
      return { en: `${en}: the '${edit.want}' is missing.`, ru: `${ru}: пропущена «${edit.want}».` };
    case 'transposition':
      return {
        en: `${subject.en} ${sender} imitates ${target}: the letters '${edit.want}' are swapped to '${edit.got}'.`,
        ru: `${subject.ru} ${sender} имитирует ${target}: буквы «${edit.want}» переставлены («${edit.got}»).`,
      };
    default:
      return edit satisfies never;
  }
}

export function explainAddedWord(
  sender: string,
  target: string,
  label: string,
  added: string[],
  subject: Subject = senderDomainSubject,
): Explanation {
  const words = added.map((w) => `'${w}'`).join(', ');
  const slova = added.map((w) => `«${w}»`).join(', ');
  return {
    en: `${subject.en} ${sender} is not ${target}: it adds ${words} to the name '${label}'.`,
    ru: `${subject.ru} ${sender} — не ${target}: к имени «${label}» добавлено ${slova}.`,
  };
}

export function explainTldSwap(
  sender: string,
  target: string,
  got: string,
  want: string,
  subject: Subject = senderDomainSubject,
): Explanation {
  return {
    en: `${subject.en} ${sender} is not ${target}: same name, but it ends in .${got} instead of .${want}.`,
    ru: `${subject.ru} ${sender} — не ${target}: имя то же, но зона .${got} вместо .${want}.`,
  };
}
