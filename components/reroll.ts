import type { ComponentHandler } from '../src/discord/component.js';
import { startGeneration } from '../src/discord/generation.js';
import { requireJob, rerunRequest } from '../src/jobs/job-actions.js';

/**
 * 🔄 Re-roll (and 🔄 Try again on a failure): the same request again, as the clicker's own job,
 * through every check a command goes through. Pika picks a new seed by itself.
 */
export const reroll: ComponentHandler<'reroll'> = {
  action: 'reroll',
  async button(interaction, { jobId }, ctx) {
    const job = requireJob(await ctx.jobs.find(jobId));
    const request = rerunRequest(job, undefined, ctx.config.defaults, ctx.config.maxImageBytes, Date.now());
    await startGeneration(interaction, request, ctx, { jobId, how: 'reroll' });
  },
};
