import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageFlags, type Interaction, type RepliableInteraction } from 'discord.js';
import type { AppContext } from '../context.js';
import { UserError } from '../errors.js';
import { messagesFor, resolveLocale } from '../i18n/index.js';
import { isStoreError } from '../storage.js';
import type { Command } from './command.js';
import type { ComponentHandler } from './component.js';
import { decodeComponentId } from './custom-ids.js';
import { NO_PINGS } from './messages.js';
import { describeRefusal } from './refusals.js';

/** How long a process that is stopping lets another claim an interaction first (well inside Discord's 3 s). */
const YIELD_WHILE_STOPPING_MS = 1000;

/**
 * Sends each interaction to its command, button or modal handler and is the one error boundary: a refusal (a UserError, or
 * one thrown as data and worded here in the user's language) becomes a polite ephemeral answer (or an edit of the deferred reply), anything else a short message with
 * a reference that matches a log line.
 */
export class InteractionRouter {
  private readonly commands: Map<string, Command>;
  private readonly components: Map<string, ComponentHandler>;
  private accepting = true;

  constructor(
    commands: readonly Command[],
    components: readonly ComponentHandler<any>[],
    private readonly ctx: AppContext,
    /** True for the first process to claim an interaction (two may run the same shard during a deploy). */
    private readonly claim: (interactionId: string) => Promise<boolean>,
  ) {
    this.commands = new Map(commands.map((command) => [command.data.name, command]));
    this.components = new Map(components.map((handler) => [handler.action, handler]));
  }

  /**
   * Whether this process answers the interaction: another process that also runs its shard may
   * have claimed it first. A store that cannot be asked does not stop the answer: the handler
   * meets the same store and says so, and nothing is reserved while it is down.
   */
  private async claimed(interaction: Interaction): Promise<boolean> {
    // Shutting down: a process that stays and runs the same shard answers it, if there is one.
    if (!this.accepting) await sleep(YIELD_WHILE_STOPPING_MS);
    try {
      const mine = await this.claim(interaction.id);
      this.ctx.logger.debug(mine ? 'answering an interaction' : 'another process answers this interaction', { interaction: interaction.id });
      return mine;
    } catch (error) {
      this.ctx.logger.warn('could not claim an interaction; answering it here', { error });
      return true;
    }
  }

  /** Refuses new commands from now on (shutdown). */
  stopAccepting(): void {
    this.accepting = false;
  }

  async handle(interaction: Interaction): Promise<void> {
    if (!(await this.claimed(interaction))) return;
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
    if (!interaction.isChatInputCommand() && !interaction.isButton() && !interaction.isModalSubmit()) return;
    try {
      const t = messagesFor(resolveLocale(interaction.locale));
      if (!this.accepting) throw new UserError(t.errorRestarting);
      if (interaction.isChatInputCommand()) {
        const command = this.commands.get(interaction.commandName);
        if (!command) throw new UserError(t.errorUnknownCommand);
        await command.execute(interaction, this.ctx);
        return;
      }
      const id = decodeComponentId(interaction.customId);
      const handler = id && this.components.get(id.action);
      if (!id || !handler) throw new UserError(t.errorUnknownButton);
      if (interaction.isButton()) await handler.button(interaction, id, this.ctx);
      else if (handler.modal) await handler.modal(interaction, id, this.ctx);
      else throw new UserError(t.errorUnknownButton);
    } catch (error) {
      await this.respondWithError(interaction, error);
    }
  }

  private async respondWithError(interaction: RepliableInteraction, error: unknown): Promise<void> {
    const locale = resolveLocale(interaction.locale);
    const t = messagesFor(locale);
    let content: string;
    const refusal = describeRefusal(error, locale);
    if (refusal !== undefined) {
      content = refusal;
    } else if (error instanceof UserError) {
      content = error.message;
    } else {
      const reference = randomBytes(4).toString('hex');
      this.ctx.logger.error('command failed', { error, reference, interaction: interaction.id });
      content = isStoreError(error) ? t.errorStoreUnreachable({ reference }) : t.errorInternal({ reference });
    }
    try {
      if ((interaction.deferred || interaction.replied) && interaction.ephemeral === null) {
        // A button answered in place (the message it sits on) or with a modal: that message is not ours to overwrite.
        await interaction.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_PINGS });
      } else if (interaction.deferred || interaction.replied) {
        await interaction.editReply({ content, embeds: [], components: [], allowedMentions: NO_PINGS });
      } else {
        await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_PINGS });
      }
    } catch (replyError) {
      this.ctx.logger.warn('could not tell the user about an error', { error: replyError, interaction: interaction.id });
    }
  }
}
