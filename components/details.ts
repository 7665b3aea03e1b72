import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../src/discord/component.js';
import { renderDetails } from '../src/discord/job-messages.js';
import { resolveLocale } from '../src/i18n/index.js';
import { requireJob } from '../src/jobs/job-actions.js';

/** ℹ Details: the job's every parameter, seed and id, shown only to the clicker (anyone may ask). */
export const details: ComponentHandler<'details'> = {
  action: 'details',
  async button(interaction, { jobId }, ctx) {
    const job = requireJob(await ctx.jobs.find(jobId));
    const { content, embeds, allowed_mentions } = renderDetails(job, resolveLocale(interaction.locale));
    await interaction.reply({ content, embeds, allowedMentions: allowed_mentions, flags: MessageFlags.Ephemeral });
  },
};
