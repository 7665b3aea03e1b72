import { MessageFlags, Routes } from 'discord.js';
import type { ComponentHandler } from '../src/discord/component.js';
import { moderatesMessages } from '../src/discord/interaction.js';
import { messagesFor, resolveLocale } from '../src/i18n/index.js';
import { JobActionRefused, mayDelete } from '../src/jobs/job-actions.js';

/**
 * 🗑 Delete: removes the message the button is on, for the requester or a moderator (Manage
 * Messages, or the bot's moderators), and records it on the job and in the audit log. Deleted
 * through the click's own interaction token, so it works wherever the message was posted.
 */
export const deleteVideo: ComponentHandler<'delete'> = {
  action: 'delete',
  async button(interaction, { jobId }, ctx) {
    const t = messagesFor(resolveLocale(interaction.locale));
    const moderator = moderatesMessages(interaction, (id) => ctx.usage.isOwner(id));
    const job = await ctx.jobs.find(jobId);
    // Past retention nobody knows whose it was; moderators may still clear it away.
    if (!job && !moderator) throw new JobActionRefused({ code: 'expired' });
    if (job && !mayDelete(job, interaction.user.id, moderator)) throw new JobActionRefused({ code: 'not_yours', action: 'delete' });

    await interaction.deferUpdate();
    // Recorded before the message goes, so a failing store leaves the video in place, not unaccounted for.
    const recorded = job?.outcome?.messageId === interaction.message.id ? await ctx.jobs.recordDeletion(jobId, interaction.user.id) : undefined;
    await interaction.deleteReply();
    ctx.logger.info('video message deleted', { job: jobId, message: interaction.message.id, by: interaction.user.id });
    if (recorded?.notificationId && recorded.outcome) {
      // The follow-up that announced the video would point at nothing now. (One still on its way is withdrawn by its sender.)
      await interaction.client.rest.delete(Routes.channelMessage(recorded.outcome.channelId, recorded.notificationId)).catch((error: unknown) =>
        ctx.logger.warn('could not delete the notification of a deleted video', { job: jobId, error }),
      );
    }
    // An expired job's requester is still named by the message, when it was the reply to their command.
    const requesterId = job?.reservation.userId ?? interaction.message.interactionMetadata?.user.id;
    if (interaction.guildId && requesterId && (!job || job.reservation.guildId === interaction.guildId)) {
      await ctx.audit.deletion(interaction.guildId, interaction.user.id, requesterId, jobId, interaction.guildLocale);
    }
    await interaction.followUp({ content: t.jobDeleted, flags: MessageFlags.Ephemeral });
  },
};
