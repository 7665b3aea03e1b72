import type { APIApplicationCommandOptionChoice, LocalizationMap } from 'discord.js';
import { LOCALES, messagesFor, type Catalog, type Locale } from '../src/i18n/index.js';

/** The catalog entries that name and describe commands (the `commandText` section). */
/** Command text, and the choice labels that messages show too (the same words in both places). */
type CommandKey = Extract<keyof Catalog, `cmd${string}` | 'pikaCamera' | 'pikaIngredientsMode'>;
type ParamsOf<Entry> = Entry extends (params: infer P) => string ? [params: P] : [];

/**
 * One catalog entry in every language: `text` in English (the source, and what Discord treats
 * as canonical) and the others as Discord's localization map. The bot's locale codes are
 * Discord's (`zh-CN`), so a new catalog is localized here with no further change.
 */
export interface CommandText {
  text: string;
  localizations: LocalizationMap;
}

const SOURCE: Locale = 'en-US';

export function commandText<K extends CommandKey>(key: K, ...params: ParamsOf<Catalog[K]>): CommandText {
  const render = (locale: Locale): string => {
    const entry = messagesFor(locale)[key] as string | ((params: unknown) => string);
    return typeof entry === 'string' ? entry : entry(params[0]);
  };
  const localizations: LocalizationMap = Object.fromEntries(
    LOCALES.filter((locale) => locale !== SOURCE).map((locale) => [locale, render(locale)]),
  );
  return { text: render(SOURCE), localizations };
}

/** What the discord.js builders of commands, subcommands, groups and options have in common. */
interface Nameable {
  setName(name: string): this;
  setNameLocalizations(localizedNames: LocalizationMap | null): this;
  setDescription(description: string): this;
  setDescriptionLocalizations(localizedDescriptions: LocalizationMap | null): this;
}

/** Sets a builder's name and description, with their translations, from the catalogs. */
export function named<B extends Nameable>(builder: B, name: CommandText, description: CommandText): B {
  return builder
    .setName(name.text)
    .setNameLocalizations(name.localizations)
    .setDescription(description.text)
    .setDescriptionLocalizations(description.localizations);
}

/** A choice with a translated name; the value never changes. */
export function choice<V extends string | number>(name: CommandText, value: V): APIApplicationCommandOptionChoice<V> {
  return { name: name.text, name_localizations: name.localizations, value };
}
