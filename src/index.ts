import { ConfigError, loadConfig, type Config } from './config.js';
import { startBot } from './bot.js';
import { createLogger, createRedactor } from './logger.js';

/** Entry point of `npm start`: configuration is checked once, then the bot runs until a signal. */
async function main(): Promise<void> {
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

  const secrets = [config.discordToken, config.pikaApiKey];
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
