import type { RepliableInteraction } from 'discord.js';
import type { AppContext } from '../context.js';
import { UserError } from '../errors.js';
import { messagesFor, resolveLocale } from '../i18n/index.js';
import { isModerator, usageScopeOf } from './interaction.js';
import { HISTORY_PAGE_SIZE, renderHistory } from './job-messages.js';

/**
 * A page of `userId`'s history in the server the interaction comes from, for that member or a
 * moderator (checked here, since a page button can be pressed by anyone who sees it), as the
 * options of an ephemeral reply or of an update to it.
 */
export async function historyView(interaction: RepliableInteraction, ctx: AppContext, userId: string, page: number) {
  const locale = resolveLocale(interaction.locale);
  const own = interaction.user.id === userId;
  if (!own && !isModerator(interaction, (id) => ctx.usage.isOwner(id))) throw new UserError(messagesFor(locale).jobNotAModerator);
  const scope = usageScopeOf(interaction, ctx.config.limits.allowDms);
  const body = renderHistory(await ctx.jobs.history(scope, userId, page, HISTORY_PAGE_SIZE), userId, own, locale);
  return { content: body.content, embeds: body.embeds, components: body.components, allowedMentions: body.allowed_mentions };
}

