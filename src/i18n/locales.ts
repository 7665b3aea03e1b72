/** The languages the bot speaks; en-US is the source of truth every other catalog follows. */
export const LOCALES = ['en-US', 'zh-CN'] as const;
export type Locale = (typeof LOCALES)[number];

/**
 * The bot's language for a Discord locale: Chinese for zh-CN, and for zh-TW too while there is
 * no Traditional text; English for everything else (and when Discord sends none).
 */
export function resolveLocale(discordLocale: string | null | undefined): Locale {
  return discordLocale?.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en-US';
}
