import { REST, Routes, type APIApplication } from 'discord.js';
import { commands } from '../commands/index.js';
import { ConfigError, loadConfig } from './config.js';
import { commandDefinitions } from './discord/register.js';

/**
 * `npm run deploy-commands`: registers the slash commands now with one bulk overwrite, over REST
 * only (no gateway session), as the discord.js guide does. The bot also does this by itself at
 * start-up, when the registered commands differ.
 */
async function deploy(): Promise<void> {
  const config = loadConfig();
  const rest = new REST(config.discordApiUrl ? { api: config.discordApiUrl } : {}).setToken(config.discordToken);
  const application = (await rest.get(Routes.currentApplication())) as APIApplication;
  const body = commandDefinitions(commands, config.limits.allowDms);
  const route = config.devGuildId ? Routes.applicationGuildCommands(application.id, config.devGuildId) : Routes.applicationCommands(application.id);
  await rest.put(route, { body });
  const scope = config.devGuildId ? `server ${config.devGuildId} (they appear at once)` : 'all servers (global commands can take up to an hour to appear)';
  process.stdout.write(`Registered ${body.map((c) => `/${c.name}`).join(' and ')} for ${scope}.\n`);
}

deploy().catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : `Could not register the commands: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
