import {
  InteractionContextType,
  type ApplicationCommand,
  type ApplicationCommandDataResolvable,
  type ClientApplication,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Command } from './command.js';

/**
 * Makes the registered commands match `commands` with one bulk overwrite, and only when they
 * differ (names, descriptions, options, choices and their localizations): an unchanged start-up
 * sends no write, so restarts don't churn Discord's command cache.
 */
export async function registerCommands(
  application: ClientApplication,
  commands: readonly Command[],
  guildId: string | undefined,
  allowDms = false,
): Promise<'unchanged' | 'updated'> {
  const wanted = commandDefinitions(commands, allowDms) as Array<ApplicationCommandDataResolvable & EqualsArgument>;
  // Without withLocalizations Discord leaves out the localization maps, and every start would
  // look like a change.
  const registered = await application.commands.fetch({ ...(guildId ? { guildId } : {}), withLocalizations: true });
  const unchanged =
    registered.size === wanted.length &&
    wanted.every((definition) => registered.find((existing) => existing.name === definition.name)?.equals(definition, true));
  if (unchanged) return 'unchanged';
  if (guildId) await application.commands.set(wanted, guildId);
  else await application.commands.set(wanted);
  return 'updated';
}

type EqualsArgument = Parameters<ApplicationCommand['equals']>[0];

/**
 * The commands exactly as Discord receives them: the builders leave keys such as
 * `nsfw: undefined`, which equals() would read as set, so they are dropped by a JSON round trip.
 */
export function commandDefinitions(commands: readonly Command[], allowDms: boolean): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  return commands.map((command) => {
    const json = JSON.parse(JSON.stringify(command.data.toJSON())) as RESTPostAPIChatInputApplicationCommandsJSONBody;
    if (allowDms && command.dmCapable) json.contexts = [...(json.contexts ?? []), InteractionContextType.BotDM];
    return json;
  });
}
