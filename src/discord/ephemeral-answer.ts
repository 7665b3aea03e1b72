import { MessageFlags, type InteractionReplyOptions, type MessageComponentInteraction, type RepliableInteraction } from 'discord.js';
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
  const ready = await readyInTime(interaction, answer, deferAfterMs);
  if (ready !== SLOW) {
    await interaction.reply({ ...messageOf(ready), flags: MessageFlags.Ephemeral });
    return;
  }
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  await interaction.editReply(messageOf(await answer));
}

/**
 * Shows `answer` in place of the message the button is on (another page of it, say): as the
 * button's answer when ready in time, else after deferring the update, as answerEphemerally
 * does for a new message.
 */
export async function answerInPlace(interaction: MessageComponentInteraction, answer: Promise<Exclude<EphemeralAnswer, string>>, deferAfterMs = DEFER_SLOW_ANSWER_AFTER_MS): Promise<void> {
  const ready = await readyInTime(interaction, answer, deferAfterMs);
  if (ready !== SLOW) {
    await interaction.update(ready);
    return;
  }
  await interaction.deferUpdate();
  await interaction.editReply(await answer);
}

/** `answer` if it comes within `deferAfterMs` of the interaction's creation, else SLOW. */
async function readyInTime<T>(interaction: Pick<RepliableInteraction, 'createdTimestamp'>, answer: Promise<T>, deferAfterMs: number): Promise<T | typeof SLOW> {
  // Counted from the interaction's creation: its delivery and the claim before the handler took part of the window.
  const age = Math.max(0, Date.now() - interaction.createdTimestamp);
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<typeof SLOW>((resolve) => (timer = setTimeout(resolve, Math.max(0, deferAfterMs - age), SLOW)));
  try {
    return await Promise.race([answer, slow]);
  } finally {
    clearTimeout(timer);
  }
}

function messageOf(answer: EphemeralAnswer): Exclude<EphemeralAnswer, string> {
  return typeof answer === 'string' ? { content: answer, allowedMentions: NO_PINGS } : answer;
}

const SLOW = Symbol('slow');
