import { MessageFlags, type InteractionReplyOptions, type RepliableInteraction } from 'discord.js';
import { NO_PINGS } from './messages.js';

/**
 * How long after the interaction was created an answer may still come before the reply is
 * deferred: well inside Discord's 3 seconds, with room left for the deferral's own trip.
 */
export const DEFER_SLOW_ANSWER_AFTER_MS = 1500;

/** A text, or a message of its own (a page with buttons, say), whose mentions it sets itself. */
export type EphemeralAnswer = string | Pick<InteractionReplyOptions, 'content' | 'embeds' | 'components' | 'allowedMentions'>;

/**
 * Answers with `answer`, seen only by whoever asked: at once when it is ready in time (one
 * request, as most answers are), else after an ephemeral deferral, so that a slow store (a big
 * server's report on Redis, say) does not leave "The application did not respond". A failure
 * rejects as `answer` does, before or after the deferral: the router words it either way.
 */
export async function answerEphemerally(interaction: RepliableInteraction, answer: Promise<EphemeralAnswer>, deferAfterMs = DEFER_SLOW_ANSWER_AFTER_MS): Promise<void> {
  // Counted from the interaction's creation: its delivery and the claim before the handler took part of the window.
  const age = Math.max(0, Date.now() - interaction.createdTimestamp);
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<typeof SLOW>((resolve) => (timer = setTimeout(resolve, Math.max(0, deferAfterMs - age), SLOW)));
  let ready: EphemeralAnswer | typeof SLOW;
  try {
    ready = await Promise.race([answer, slow]);
  } finally {
    clearTimeout(timer);
  }
  if (ready !== SLOW) {
    await interaction.reply({ ...messageOf(ready), flags: MessageFlags.Ephemeral });
    return;
  }
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  await interaction.editReply(messageOf(await answer));
}

function messageOf(answer: EphemeralAnswer): Exclude<EphemeralAnswer, string> {
  return typeof answer === 'string' ? { content: answer, allowedMentions: NO_PINGS } : answer;
}

const SLOW = Symbol('slow');
