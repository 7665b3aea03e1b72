import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../src/discord/component.js';
import { moderatesMessages } from '../src/discord/interaction.js';
import { messagesFor, resolveLocale } from '../src/i18n/index.js';
import { requireJob } from '../src/jobs/job-actions.js';

/**
 * ✖ Cancel on a queued job (its requester or a moderator): it never reaches the provider and its
 * allowance is given back; the reply says so. A job whose start is under way is paid for and stays.
 */
export const cancel: ComponentHandler<'cancel'> = {
  action: 'cancel',
  async button(interaction, { jobId }, ctx) {
    const t = messagesFor(resolveLocale(interaction.locale));
    const job = requireJob(await ctx.jobs.find(jobId));
    // A server's moderators have a say over its own jobs only (not over user-installed use there).
    const moderator = ctx.usage.isOwner(interaction.user.id) || (job.reservation.guildId === interaction.guildId && moderatesMessages(interaction, () => false));
    if (job.reservation.userId !== interaction.user.id && !moderator) {
      await interaction.reply({ content: t.pikaCancelNotYours, flags: MessageFlags.Ephemeral });
      return;
    }
    const outcome = await ctx.cancels.cancel(jobId, interaction.user.id);
    if (outcome === 'cancelled') {
      // The job's own reply is rewritten by its end; this click only needs acknowledging.
      await interaction.deferUpdate();
      return;
    }
    await interaction.reply({ content: outcome === 'started' ? t.pikaCancelStarted : t.jobExpired, flags: MessageFlags.Ephemeral });
  },
};
