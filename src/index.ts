import { setFlagsFromString } from 'node:v8';
import { ConfigError, loadConfig, type Config } from './config.js';
import { startBot } from './bot.js';
import { createLogger, createRedactor } from './logger.js';

/** The password in a Redis STORE_URL, kept out of every log line like the other secrets. */
function storePassword(url: string): string[] {
  try {
    const { password } = new URL(url);
    return password ? [password, decodeURIComponent(password)] : [];
  } catch {
    return [];
  }
}

/**
 * Thousands of jobs in flight keep much short-lived data alive across a few garbage collections
 * (requests, feeds, renders waiting on the network), and V8 then lets the heap grow to about four
 * times what is live before it collects again: over 100 MiB of garbage held at 2,000 jobs. A
 * smaller growth step keeps the bot's memory near what it uses, for a little more time spent
 * collecting (`npm run bench` shows both). V8 reads it at every collection, so it is set here,
 * unless the operator started Node with a value of their own.
 */
const HEAP_GROWING_PERCENT = 50;

function tuneRuntime(): void {
  if (!process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  // Stack traces in logs point at the TypeScript source, not the compiled dist/.
  process.setSourceMapsEnabled(true);
}

/** Entry point of `npm start`: configuration is checked once, then the bot runs until a signal. */
async function main(): Promise<void> {
  tuneRuntime();
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  // discord.js reads SHARD_COUNT and SHARDS as a ShardingManager's; this process's shards come from the config.
  delete process.env.SHARD_COUNT;
  delete process.env.SHARDS;

  const secrets = [config.discordToken, config.pikaApiKey, ...storePassword(config.storeUrl)];
  const logger = createLogger({ level: config.logLevel, secrets });
  const redact = createRedactor(secrets);
  process.on('unhandledRejection', (reason) => logger.error('unhandled promise rejection', { error: reason }));
  process.on('uncaughtException', (error) => {
    logger.error('uncaught exception', { error });
    process.exit(1);
  });

  let bot;
  try {
    bot = await startBot(config, logger, redact);
  } catch (error) {
    logger.error(`could not start: ${(error as Error).message}`);
    process.exit(1);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    const forced = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 9000);
    forced.unref();
    bot.shutdown().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('shutdown failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
