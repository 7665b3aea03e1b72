import type { ButtonInteraction, ModalSubmitInteraction } from 'discord.js';
import type { AppContext } from '../context.js';
import type { ComponentAction, ComponentId } from './custom-ids.js';

/**
 * What a button (and the modal it may open) does, beside its handlers, as commands are laid out.
 * The router decodes the custom id once and hands the handler its parts; a refusal thrown as
 * data (or a UserError) becomes an ephemeral answer to the clicker.
 */
export interface ComponentHandler<Action extends ComponentAction = ComponentAction> {
  action: Action;
  button(interaction: ButtonInteraction, id: Extract<ComponentId, { action: Action }>, ctx: AppContext): Promise<void>;
  modal?(interaction: ModalSubmitInteraction, id: Extract<ComponentId, { action: Action }>, ctx: AppContext): Promise<void>;
}
