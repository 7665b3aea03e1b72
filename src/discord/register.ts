import {
  type ApplicationCommand,
  type ApplicationCommandDataResolvable,
  type ClientApplication,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Command } from './command.js';

/**
 * Registers the commands globally (Discord applies installation types and contexts to global
 * commands only, so user installs need them) and, with `devGuildId`, also in that server, where
 * changes show at once while testing. Each scope is overwritten in bulk, and only when it differs
 * (names, descriptions, options, choices, contexts and localizations): an unchanged start-up
 * sends no write, so restarts don't churn Discord's command cache.
 */
export async function registerCommands(
  application: ClientApplication,
  commands: readonly Command[],
  devGuildId: string | undefined,
): Promise<{ global: Registration; guild?: Registration }> {
  const global = await registerIn(application, commands, undefined);
  return devGuildId ? { global, guild: await registerIn(application, commands, devGuildId) } : { global };
}

export type Registration = 'unchanged' | 'updated';

async function registerIn(application: ClientApplication, commands: readonly Command[], guildId: string | undefined): Promise<Registration> {
  const wanted = commandDefinitions(commands) as Array<ApplicationCommandDataResolvable & EqualsArgument>;
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
export function commandDefinitions(commands: readonly Command[]): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  return commands.map((command) => JSON.parse(JSON.stringify(command.data.toJSON())) as RESTPostAPIChatInputApplicationCommandsJSONBody);
}
