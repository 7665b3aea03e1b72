import { randomBytes } from 'node:crypto';
import { MessageFlags, type Interaction, type RepliableInteraction } from 'discord.js';
import type { AppContext } from '../context.js';
import { UserError } from '../errors.js';
import { isStoreError } from '../storage.js';
import type { Command } from './command.js';
import { NO_PINGS } from './messages.js';

/**
 * Sends each interaction to its command and is the one error boundary: a UserError becomes a
 * polite ephemeral answer (or an edit of the deferred reply), anything else a short message with
 * a reference that matches a log line.
 */
export class InteractionRouter {
  private readonly commands: Map<string, Command>;
  private accepting = true;

  constructor(
    commands: readonly Command[],
    private readonly ctx: AppContext,
  ) {
    this.commands = new Map(commands.map((command) => [command.data.name, command]));
  }

  /** Refuses new commands from now on (shutdown). */
  stopAccepting(): void {
    this.accepting = false;
  }

  async handle(interaction: Interaction): Promise<void> {
    if (interaction.isAutocomplete()) {
      const command = this.commands.get(interaction.commandName);
      try {
        if (command?.autocomplete) await command.autocomplete(interaction, this.ctx);
        else await interaction.respond([]);
      } catch (error) {
        this.ctx.logger.warn('autocomplete failed', { error, command: interaction.commandName });
      }
      return;
    }
    if (!interaction.isChatInputCommand()) return;

    const command = this.commands.get(interaction.commandName);
    try {
      if (!this.accepting) throw new UserError('The bot is restarting. Please try again in a minute.');
      if (!command) throw new UserError('I don’t know that command. It may have been removed; try again in a minute.');
      await command.execute(interaction, this.ctx);
    } catch (error) {
      await this.respondWithError(interaction, error);
    }
  }

  private async respondWithError(interaction: RepliableInteraction, error: unknown): Promise<void> {
    let content: string;
    if (error instanceof UserError) {
      content = error.message;
    } else {
      const reference = randomBytes(4).toString('hex');
      this.ctx.logger.error('command failed', { error, reference, interaction: interaction.id });
      content = isStoreError(error)
        ? `I can’t reach my records right now, so nothing was started and nothing was charged. Please try again in a moment (reference \`${reference}\`).`
        : `Sorry, something went wrong on my side (reference \`${reference}\`). Please try again.`;
    }
    try {
      if (interaction.deferred || interaction.replied) {
        await interaction.editReply({ content, embeds: [], components: [], allowedMentions: NO_PINGS });
      } else {
        await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_PINGS });
      }
    } catch (replyError) {
      this.ctx.logger.warn('could not tell the user about an error', { error: replyError, interaction: interaction.id });
    }
  }
}
