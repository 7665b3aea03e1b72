import type { Locale } from './locales.js';

/** A Discord timestamp that each reader's client shows relative to now, in their own language. */
export function relativeTime(ms: number): string {
  return `<t:${Math.ceil(ms / 1000)}:R>`;
}

const pluralRules = new Map<Locale, Intl.PluralRules>();

/** The plural category of `n` in `locale` (Node's built-in CLDR rules). */
export function pluralOf(locale: Locale, n: number): Intl.LDMLPluralRule {
  let rules = pluralRules.get(locale);
  if (!rules) pluralRules.set(locale, (rules = new Intl.PluralRules(locale)));
  return rules.select(n);
}
