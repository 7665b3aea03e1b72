import type { APIEmbed, APIEmbedField } from 'discord.js';
import { messagesFor, type Catalog, type Locale } from '../i18n/index.js';
import type { Job } from '../jobs/job.js';
import type { HistoryPage } from '../jobs/job-store.js';
import { describeFailure } from './failure-messages.js';
import { actionButton, buttonRow, displayText, LIMITS, NO_PINGS, type MessageBody } from './messages.js';
import { messageUrl } from './replies.js';
import { truncate } from '../text.js';

const COLOR = 0x5865f2;
/** How much of each prompt a history page shows: five entries stay well inside an embed's 6,000 characters. */
const HISTORY_PROMPT_MAX = 300;
export const HISTORY_PAGE_SIZE = 5;

/** The message that shows the job: its video, or its failure (on the reply, or in the channel). */
export function jobMessageUrl(job: Job): string | undefined {
  if (job.outcome) return job.outcome.messageUrl;
  if (job.reply.messageId) return messageUrl(job.reply.guildId, { id: job.reply.messageId, channel_id: job.reply.channelId });
  return undefined;
}

function stateWords(job: Job, t: Catalog): string {
  return t.jobState({ state: job.state, deleted: job.deleted !== undefined });
}

/** ℹ Details: every parameter of the job, its seed, id and state, for anyone who asks (ephemeral). */
export function renderDetails(job: Job, locale: Locale): MessageBody {
  const t = messagesFor(locale);
  const { request } = job;
  const seed = job.outcome?.seed ?? job.result?.seed;
  const url = jobMessageUrl(job);
  const fields: APIEmbedField[] = [
    { name: t.detailsFieldRequester, value: `<@${job.reservation.userId}>`, inline: true },
    { name: t.detailsFieldState, value: stateWords(job, t), inline: true },
    { name: t.detailsFieldCreated, value: `<t:${Math.floor(job.createdAt / 1000)}:f>`, inline: true },
    { name: t.pikaFieldModel, value: request.model, inline: true },
    ...(request.aspectRatio ? [{ name: t.pikaFieldAspectRatio, value: request.aspectRatio, inline: true }] : []),
    { name: t.detailsFieldFrameRate, value: String(request.frameRate), inline: true },
    { name: t.detailsFieldGuidanceScale, value: String(request.guidanceScale), inline: true },
    { name: t.detailsFieldMotion, value: String(request.motion), inline: true },
    { name: t.pikaFieldEffect, value: displayText(request.pikaffect, 100) || t.pikaNoEffect, inline: true },
    { name: t.pikaFieldCamera, value: request.camera ? t.pikaCamera({ move: request.camera }) : t.remixNoCamera, inline: true },
    ...(request.ingredientsMode ? [{ name: t.pikaFieldMode, value: t.pikaIngredientsMode({ mode: request.ingredientsMode }), inline: true }] : []),
    ...(request.kind === 'text' ? [] : [{ name: t.detailsFieldImages, value: truncate(t.detailsImages({ names: request.images.map((image) => displayText(image.filename, 100)).join(', ') }), LIMITS.fieldValue) }]),
    ...(request.negativePrompt ? [{ name: t.pikaFieldNegativePrompt, value: displayText(request.negativePrompt, LIMITS.fieldValue) }] : []),
    { name: t.pikaFieldSeed, value: seed === undefined ? t.pikaUnknownValue : `\`${seed}\``, inline: true },
    { name: t.detailsFieldJob, value: `\`${job.id}\``, inline: true },
    ...(job.origin ? [{ name: t.detailsFieldOrigin, value: t.detailsOrigin(job.origin) }] : []),
    ...(job.failure ? [{ name: t.pikaFieldVideo, value: truncate(describeFailure(job.failure, locale), LIMITS.fieldValue) }] : []),
    ...(url && !job.deleted ? [{ name: t.detailsFieldMessage, value: url }] : []),
  ];
  const embed: APIEmbed = {
    title: t.detailsTitle({ kind: t.pikaKind({ kind: request.kind }) }),
    description: displayText(request.prompt, 3000) || t.pikaPromptNone,
    color: COLOR,
    fields,
    ...(job.legacy ? { footer: { text: t.detailsLegacy } } : {}),
  };
  return { content: '', embeds: [embed], components: [], allowed_mentions: NO_PINGS };
}

/**
 * One page of a member's history, newest first, with buttons to page through it. `own` says
 * whether the reader is that member (else a moderator is looking).
 */
export function renderHistory(history: HistoryPage, userId: string, own: boolean, locale: Locale): MessageBody {
  const t = messagesFor(locale);
  if (history.total === 0) return { content: t.historyEmpty({ own }), embeds: [], components: [], allowed_mentions: NO_PINGS };
  const fields = history.jobs.map((job) => {
    const seed = job.outcome?.seed ?? job.result?.seed;
    const url = jobMessageUrl(job);
    const facts = [
      ...(seed === undefined ? [] : [t.historySeed({ seed })]),
      t.historyId({ id: job.id }),
      ...(url && !job.deleted ? [t.historyOpen({ url })] : []),
    ].join(' · ');
    const prompt = displayText(job.request.prompt, HISTORY_PROMPT_MAX) || t.pikaPromptNone;
    return {
      name: truncate(t.historyEntry({ when: job.createdAt, kind: t.pikaKind({ kind: job.request.kind }), state: stateWords(job, t) }), LIMITS.title),
      value: truncate(`${prompt}\n${facts}`, LIMITS.fieldValue),
    };
  });
  const page = (to: number) => ({ action: 'history' as const, userId, page: Math.min(Math.max(0, to), history.pageCount - 1) });
  return {
    content: '',
    embeds: [
      {
        title: t.historyTitle({ own }),
        // Mentions show as names in a description, not in a title.
        ...(own ? {} : { description: `<@${userId}>` }),
        color: COLOR,
        fields,
        footer: { text: t.historyPage({ page: history.page + 1, pageCount: history.pageCount, total: history.total }) },
      },
    ],
    components:
      history.pageCount > 1
        ? [
            buttonRow([
              actionButton(t.pikaButtonPrevious, '◀️', page(history.page - 1), { disabled: history.page === 0 }),
              actionButton(t.pikaButtonNext, '▶️', page(history.page + 1), { disabled: history.page >= history.pageCount - 1 }),
            ]),
          ]
        : [],
    allowed_mentions: NO_PINGS,
  };
}
