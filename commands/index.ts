import type { Command } from '../src/discord/command.js';
import { pikaAdmin } from './pika-admin.js';
import { pika } from './pika.js';

/** Every slash command the bot registers, listed explicitly. */
export const commands: readonly Command[] = [pika, pikaAdmin];
