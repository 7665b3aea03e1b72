import { Client, Events } from 'discord.js';
import { commands } from '../commands/index.js';
import { ConfigError, loadConfig } from './config.js';
import { registerCommands } from './discord/register.js';

/** `npm run deploy-commands`: registers the slash commands now (only if they changed), then exits. */
async function deploy(): Promise<void> {
  const config = loadConfig();
  const client = new Client({ intents: [], rest: config.discordApiUrl ? { api: config.discordApiUrl } : {} });
  const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
  await client.login(config.discordToken);
  const readyClient = await ready;
  try {
    const outcome = await registerCommands(readyClient.application, commands, config.devGuildId, config.limits.allowDms);
    const scope = config.devGuildId ? `guild ${config.devGuildId}` : 'all servers (global commands can take up to an hour to appear)';
    process.stdout.write(`Slash commands ${outcome === 'updated' ? 'registered' : 'already up to date'} for ${scope}.\n`);
  } finally {
    await client.destroy();
  }
}

deploy().catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : `Could not register the commands: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
