import { PermissionFlagsBits, type RepliableInteraction } from 'discord.js';
import type { AppContext } from '../context.js';
import type { JobOrigin } from '../jobs/job.js';
import type { GenerationRequest } from '../pika/request.js';
import type { ReplyTarget } from './replies.js';
import { requesterOf, requireAppPermissions, replyTargetOf, usageScopeOf, warnIfChannelFallbackWouldFail } from './interaction.js';

/**
 * Starts a checked request for whoever gave the command or clicked the button: the same checks
 * for both (the bot's permissions here, then moderation, the breaker and the clicker's own
 * limits, refused as data before anything is shown), then a public deferred reply at once, then
 * the job once its reservation is stored. An admission given back if the deferral or the store
 * fails leaves nothing spent.
 */
export async function startGeneration(interaction: RepliableInteraction, request: GenerationRequest, ctx: AppContext, origin?: JobOrigin): Promise<void> {
  const scope = usageScopeOf(interaction, ctx.config.limits.allowDms);
  requireVideoPermissions(interaction);
  warnIfChannelFallbackWouldFail(interaction, ctx.logger);
  const requester = requesterOf(interaction);
  const admitted = await ctx.admission.admit(scope, requester, request);
  let reply;
  try {
    reply = await deferPublicReply(interaction);
    await admitted.stored;
    // The job's start waits for the next turn of the event loop: the rest of a burst of commands,
    // already arrived, gets its deferrals out before this job's work (records, generate, edits).
    await new Promise((resolve) => setImmediate(resolve));
  } catch (error) {
    // Given back without waiting: a store that just failed may be slow to take the refund too,
    // and the user's answer must not wait for it (reconciliation refunds what this misses).
    admitted.cancel().catch((cancelError: unknown) => ctx.logger.warn('could not give back an admission', { error: cancelError }));
    throw error;
  }
  await ctx.jobs.start(request, reply, admitted, { locale: interaction.locale, guildLocale: interaction.guildLocale, requester, ...(origin ? { origin } : {}) });
}

/** Posting a video needs its embed and its file: refused here, before anything is shown, when the bot lacks either. */
export function requireVideoPermissions(interaction: RepliableInteraction): void {
  requireAppPermissions(interaction, [
    [PermissionFlagsBits.EmbedLinks, 'EmbedLinks'],
    [PermissionFlagsBits.AttachFiles, 'AttachFiles'],
  ]);
}

/**
 * Defers a reply everyone sees, and answers where the job's messages go. Not asked for the
 * reply's message (`withResponse`): discord.js would build a whole Message of it for every
 * command, and the job learns its id from its first edit.
 */
export async function deferPublicReply(interaction: RepliableInteraction): Promise<ReplyTarget> {
  await interaction.deferReply();
  return replyTargetOf(interaction);
}
