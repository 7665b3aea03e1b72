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
  const body = commandDefinitions(commands);
  // Global: user installs work only with global commands. The dev server's copy shows changes at once.
  await rest.put(Routes.applicationCommands(application.id), { body });
  if (config.devGuildId) await rest.put(Routes.applicationGuildCommands(application.id, config.devGuildId), { body });
  const where = config.devGuildId ? ` (and in server ${config.devGuildId}, where they appear at once)` : '';
  process.stdout.write(`Registered ${body.map((c) => `/${c.name}`).join(' and ')} globally (this can take up to an hour to appear)${where}.\n`);
}

deploy().catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : `Could not register the commands: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
