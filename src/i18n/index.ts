import { enUS, type Catalog } from './en-US.js';
import type { Locale } from './locales.js';
import { zhCN } from './zh-CN.js';

export type { Catalog } from './en-US.js';
export { LOCALES, resolveLocale, type Locale } from './locales.js';
export { relativeTime } from './format.js';

const CATALOGS: Record<Locale, Catalog> = { 'en-US': enUS, 'zh-CN': zhCN };

/** The messages of one language. */
export function messagesFor(locale: Locale): Catalog {
  return CATALOGS[locale];
}
