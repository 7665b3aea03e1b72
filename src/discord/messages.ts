import {
  ButtonStyle,
  ComponentType,
  type APIActionRowComponent,
  type APIAllowedMentions,
  type APIButtonComponent,
  type APIEmbed,
  type APIEmbedField,
} from 'discord.js';
import { messagesFor, resolveLocale, type Catalog, type Locale } from '../i18n/index.js';
import { relativeTime } from '../i18n/format.js';
import { formatBytes, type GenerationRequest } from '../pika/request.js';
import { truncate } from '../text.js';
import { encodeComponentId, type ComponentId } from './custom-ids.js';

export { truncate };

/** What a message shows of the request: no image URLs, nothing secret. */
export type DisplayRequest = Pick<
  GenerationRequest,
  'kind' | 'prompt' | 'negativePrompt' | 'model' | 'aspectRatio' | 'pikaffect' | 'camera' | 'ingredientsMode'
> & { imageCount: number };

export function toDisplayRequest(request: GenerationRequest): DisplayRequest {
  const { kind, prompt, negativePrompt, model, aspectRatio, pikaffect, camera, ingredientsMode } = request;
  return { kind, prompt, negativePrompt, model, aspectRatio, pikaffect, camera, ingredientsMode, imageCount: request.images.length };
}

/** The body of a message as the REST API takes it (webhook edit or channel message). */
export interface MessageBody {
  content: string;
  embeds: APIEmbed[];
  components: APIActionRowComponent<APIButtonComponent>[];
  allowed_mentions: APIAllowedMentions;
}

/** The stages the bot has words for; the poller maps the upstream statuses onto them. */
export type ProgressStatusCode = 'waiting' | 'starting' | 'queued' | 'generating';
/** A known stage, or an upstream status the bot has no words for (sanitized), shown as sent. */
export type ProgressStatus = ProgressStatusCode | { upstream: string };

/** The languages a job writes in: the requester's on the reply, the server's in the channel. */
export interface Audiences {
  requester: Locale;
  server: Locale;
}

/** A job's audiences, from the Discord locales it was started with. */
export function audiencesOf(job: { locale: string; guildLocale: string | null }): Audiences {
  return { requester: resolveLocale(job.locale), server: resolveLocale(job.guildLocale) };
}

export interface ProgressState {
  status: ProgressStatus;
  progress: number;
  posterUrl: string | undefined;
}

/** Discord's limits, kept here so every renderer stays within them. */
export const LIMITS = { description: 4096, fieldValue: 1024, content: 2000, title: 256 } as const;
const PROMPT_DISPLAY_MAX = 3000;
const NEGATIVE_PROMPT_DISPLAY_MAX = 900;
const MAX_BUTTON_URL = 512;
const MAX_FIELD_LINK = 900;
const COLORS = { running: 0x5865f2, done: 0x57f287, failed: 0xed4245 } as const;

/** Mentions that ping nobody; user text is never allowed to reach anyone. */
export const NO_PINGS: APIAllowedMentions = { parse: [] };
/** Pings the requester only, where the bot means to tell them something. */
export function pingOnly(userId: string): APIAllowedMentions {
  return { parse: [], users: [userId] };
}

/**
 * Characters that Discord's markdown may give a meaning to: `*_~\`|` styles, `>` quotes,
 * `#` and `-` headings and lists, `[]()` masked links, `<` and `@` mentions and emoji, `:` in
 * autolinked URLs. Discord hides a backslash before any punctuation, so escaping them all shows
 * the text exactly as typed.
 */
const MARKDOWN_SIGNIFICANT = /[\\*_~`|>#\-[\]()<@:]/g;

/**
 * Makes user text safe to display: control and invisible characters dropped, markdown, links
 * and mention syntax escaped so it shows as typed, then cut to `max` characters. (discord.js's
 * escapeMarkdown takes milliseconds on adversarial prompts; this is one linear pass.)
 */
export function displayText(text: string, max: number): string {
  const visible = text.replace(/[\p{Cf}]/gu, '').replace(/[\p{Cc}]/gu, (c) => (c === '\n' ? '\n' : ' '));
  const escaped = visible.replace(MARKDOWN_SIGNIFICANT, '\\$&').replace(/^(\s*\d+)\./gm, '$1\\.');
  return truncate(escaped, max);
}

export function progressBar(percent: number, width = 12): string {
  const clamped = Math.max(0, Math.min(100, Math.round(percent)));
  const filled = Math.round((clamped / 100) * width);
  return `${'▰'.repeat(filled)}${'▱'.repeat(width - filled)} ${clamped}%`;
}

export function formatDuration(ms: number, locale: Locale): string {
  const t = messagesFor(locale);
  const total = Math.max(0, Math.round(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return minutes > 0 ? t.pikaElapsedMinutes({ minutes, seconds }) : t.pikaElapsedSeconds({ seconds });
}

/** User text for a field or description; Discord refuses empty values, so `fallback` stands in. */
function displayOr(text: string, max: number, fallback: string): string {
  return displayText(text, max) || fallback;
}

function requestFields(request: DisplayRequest, t: Catalog): APIEmbedField[] {
  const fields: APIEmbedField[] = [
    { name: t.pikaFieldModel, value: request.model, inline: true },
    { name: t.pikaFieldEffect, value: displayOr(request.pikaffect, 100, t.pikaNoEffect), inline: true },
  ];
  if (request.camera) fields.push({ name: t.pikaFieldCamera, value: t.pikaCamera({ move: request.camera }), inline: true });
  if (request.aspectRatio) fields.push({ name: t.pikaFieldAspectRatio, value: request.aspectRatio, inline: true });
  if (request.ingredientsMode) fields.push({ name: t.pikaFieldMode, value: t.pikaIngredientsMode({ mode: request.ingredientsMode }), inline: true });
  const negativePrompt = displayText(request.negativePrompt, NEGATIVE_PROMPT_DISPLAY_MAX);
  if (negativePrompt) fields.push({ name: t.pikaFieldNegativePrompt, value: negativePrompt });
  return fields;
}

function promptDescription(request: DisplayRequest, t: Catalog): string {
  return displayOr(request.prompt, PROMPT_DISPLAY_MAX, request.kind === 'image' ? t.pikaNoPromptImage : t.pikaNoPrompt);
}

function statusWords(status: ProgressStatus, t: Catalog): string {
  if (typeof status === 'string') return t.pikaStatus({ status });
  return status.upstream.charAt(0).toUpperCase() + status.upstream.slice(1);
}

/** The live progress view of a running task. Elapsed time is refreshed with each edit. */
export function renderProgress(request: DisplayRequest, state: ProgressState, elapsedMs: number, locale: Locale): MessageBody {
  const t = messagesFor(locale);
  return {
    content: '',
    embeds: [
      {
        title: truncate(t.pikaTitleRunning({ kind: t.pikaKind({ kind: request.kind }), status: statusWords(state.status, t) }), LIMITS.title),
        description: promptDescription(request, t),
        color: COLORS.running,
        fields: [
          { name: t.pikaFieldProgress, value: progressBar(state.progress) },
          { name: t.pikaFieldElapsed, value: formatDuration(elapsedMs, locale), inline: true },
          ...requestFields(request, t),
        ],
        ...(state.posterUrl ? { thumbnail: { url: state.posterUrl } } : {}),
      },
    ],
    components: [],
    allowed_mentions: NO_PINGS,
  };
}

/** Where a queued job stands: its place in the line (1 = next) and when it should start. */
export interface QueuePlace {
  position: number;
  estimatedStartAt: number;
}

/** A job waiting in the queue: its place, an estimate of when it starts, and ✖ Cancel. */
export function renderQueued(request: DisplayRequest, place: QueuePlace, locale: Locale, jobId: string): MessageBody {
  const t = messagesFor(locale);
  return {
    content: '',
    embeds: [
      {
        title: truncate(t.pikaTitleQueued({ kind: t.pikaKind({ kind: request.kind }) }), LIMITS.title),
        description: promptDescription(request, t),
        color: COLORS.running,
        fields: [
          { name: t.pikaFieldPosition, value: t.pikaQueuePosition({ position: place.position }), inline: true },
          { name: t.pikaFieldEstimatedStart, value: relativeTime(place.estimatedStartAt), inline: true },
          ...requestFields(request, t),
        ],
        footer: { text: t.pikaQueueFooter },
      },
    ],
    components: [buttonRow([actionButton(t.pikaButtonCancel, '✖️', { action: 'cancel', jobId }, { style: ButtonStyle.Danger })])],
    allowed_mentions: NO_PINGS,
  };
}

export interface FinishedVideo {
  seed: number | undefined;
  durationSeconds: number | undefined;
  resultUrl: string;
  sizeBytes: number | undefined;
  /** Set when the file is attached; unset when it is only linked. */
  attachmentName: string | undefined;
  /** Why a video is only linked: too large to upload here (the default), or not fetchable by the bot. */
  linkReason?: 'too_large' | 'unreachable';
}

export function videoFileName(seed: number | undefined, taskId: string): string {
  return seed === undefined ? `pika-${taskId.replace(/[^\w-]/g, '').slice(0, 36)}.mp4` : `pika-${seed}.mp4`;
}

/** The finished video: the mp4 attached (or linked when too large), with its seed, its settings and the buttons that act on job `jobId`. */
export function renderDelivery(request: DisplayRequest, requesterId: string, video: FinishedVideo, elapsedMs: number, locale: Locale, jobId: string): MessageBody {
  const t = messagesFor(locale);
  const fields: APIEmbedField[] = [
    { name: t.pikaFieldSeed, value: video.seed === undefined ? t.pikaUnknownValue : `\`${video.seed}\``, inline: true },
    { name: t.pikaFieldDuration, value: video.durationSeconds === undefined ? t.pikaUnknownValue : t.pikaSeconds({ seconds: video.durationSeconds }), inline: true },
    { name: t.pikaFieldTook, value: formatDuration(elapsedMs, locale), inline: true },
    ...requestFields(request, t),
  ];
  const linkOnly = video.attachmentName === undefined;
  if (linkOnly) {
    // Upstream URLs have no length limit; Discord's field (1024) and button (512) do.
    const link = video.resultUrl.length <= MAX_FIELD_LINK ? t.pikaOpenVideoLink({ url: video.resultUrl }) : t.pikaLinkTooLong;
    const why = video.linkReason === 'unreachable' ? t.pikaUnfetchable : t.pikaTooLarge({ size: video.sizeBytes ? formatBytes(video.sizeBytes) : undefined });
    fields.push({ name: t.pikaFieldVideo, value: video.resultUrl ? t.pikaLinked({ why, link }) : t.pikaNoAddress({ why }) });
  }
  return {
    content: t.pikaVideoReady({ mention: `<@${requesterId}>` }),
    embeds: [
      {
        title: t.pikaTitleDone({ kind: t.pikaKind({ kind: request.kind }) }),
        description: promptDescription(request, t),
        color: COLORS.done,
        fields,
      },
    ],
    components: [
      buttonRow([
        actionButton(t.pikaButtonReroll, '🔄', { action: 'reroll', jobId }),
        actionButton(t.pikaButtonRemix, '🔀', { action: 'remix', jobId }),
        actionButton(t.pikaButtonDelete, '🗑️', { action: 'delete', jobId }),
        actionButton(t.pikaButtonDetails, 'ℹ️', { action: 'details', jobId }),
        ...(linkOnly && video.resultUrl && video.resultUrl.length <= MAX_BUTTON_URL ? [linkButton(t.pikaOpenVideoButton, video.resultUrl)] : []),
      ]),
    ],
    allowed_mentions: pingOnly(requesterId),
  };
}

/** What a failure message offers: ℹ Details always, 🔄 Try again when another try could succeed. */
export interface FailureActions {
  jobId: string;
  tryAgain: boolean;
}

/** A task that ended without a video, saying why in plain words. */
export function renderFailure(request: DisplayRequest, reason: string, locale: Locale, actions: FailureActions): MessageBody {
  const t = messagesFor(locale);
  return {
    content: '',
    embeds: [
      {
        title: t.pikaTitleFailed({ kind: t.pikaKind({ kind: request.kind }) }),
        description: truncate(reason, 1000),
        color: COLORS.failed,
        fields: [{ name: t.pikaFieldPrompt, value: displayOr(request.prompt, LIMITS.fieldValue, t.pikaPromptNone) }, ...requestFields(request, t)],
      },
    ],
    components: [
      buttonRow([
        ...(actions.tryAgain ? [actionButton(t.pikaButtonTryAgain, '🔄', { action: 'reroll', jobId: actions.jobId })] : []),
        actionButton(t.pikaButtonDetails, 'ℹ️', { action: 'details', jobId: actions.jobId }),
      ]),
    ],
    allowed_mentions: NO_PINGS,
  };
}

/** A job's end, for the follow-up that notifies its requester. */
export interface Notice {
  outcome: 'ready' | 'failed';
  /** The reply that shows it. */
  messageUrl: string;
}

/** The short follow-up that pings the requester (and no one else) when their reply shows the outcome. */
export function renderNotice(requesterId: string, notice: Notice, locale: Locale): MessageBody {
  const t = messagesFor(locale);
  const mention = `<@${requesterId}>`;
  return {
    content: notice.outcome === 'ready' ? t.pikaNoticeReady({ mention, url: notice.messageUrl }) : t.pikaNoticeFailed({ mention, url: notice.messageUrl }),
    embeds: [],
    components: [],
    allowed_mentions: pingOnly(requesterId),
  };
}

export function buttonRow(buttons: APIButtonComponent[]): APIActionRowComponent<APIButtonComponent> {
  return { type: ComponentType.ActionRow, components: buttons };
}

export function actionButton(label: string, emoji: string | undefined, id: ComponentId, { disabled = false, style = ButtonStyle.Secondary as ButtonStyle.Secondary | ButtonStyle.Danger } = {}): APIButtonComponent {
  return {
    type: ComponentType.Button,
    style,
    label,
    custom_id: encodeComponentId(id),
    ...(emoji ? { emoji: { name: emoji } } : {}),
    ...(disabled ? { disabled } : {}),
  };
}

function linkButton(label: string, url: string): APIButtonComponent {
  return { type: ComponentType.Button, style: ButtonStyle.Link, label, url };
}
