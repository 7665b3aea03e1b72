import { pluralOf } from './format.js';
import type { ProgressStatusCode } from '../discord/messages.js';
import type { AppPermission } from '../discord/interaction.js';
import type { IngredientsMode } from '../config.js';
import type { FailureCause, JobState } from '../jobs/job.js';
import type { CameraMove, GenerationKind, KnownPikaffect } from '../pika/request.js';
import { relativeTime } from './format.js';
import type { LimitField } from '../usage/guild-settings.js';
import type { Limit } from '../usage/limits.js';

/**
 * The English catalog: the source of truth. Every entry is a function of named parameters (or a
 * plain string), and every other catalog must have exactly these keys with the same parameters
 * (checked by the compiler, and by test/unit/catalogs.test.ts for placeholders and unused keys).
 * Sections belong to the parts of the bot that use them.
 */
const videos = (n: number) => `${n} ${pluralOf('en-US', n) === 'one' ? 'video' : 'videos'}`;

/** Words shared by several parts of the bot. */
const common = {
  errorRestarting: 'The bot is restarting. Please try again in a minute.',
  errorUnknownCommand: 'I don’t know that command. It may have been removed; try again in a minute.',
  errorUnknownButton: 'This button no longer does anything here. Start a new video with `/pika`.',
  errorStoreUnreachable: ({ reference }: { reference: string }) =>
    `I can’t reach my records right now, so nothing was started and nothing was charged. Please try again in a moment (reference \`${reference}\`).`,
  errorInternal: ({ reference }: { reference: string }) => `Sorry, something went wrong on my side (reference \`${reference}\`). Please try again.`,
};

/**
 * /pika: progress, the delivered video, failures, refusals and `/pika quota`. Numbers and times
 * come in raw (counts, epoch ms) and are worded here; codes come from the domain as data.
 */
const pikaNotSentAgain = 'To avoid charging twice it was not sent again, and it did not count against your allowance.';
const pikaWhen = (retryAt: number | undefined, fallback: string) => (retryAt === undefined ? fallback : relativeTime(retryAt));
const pikaText = {
  // Progress, delivery and failure messages.
  pikaKind: ({ kind }: { kind: GenerationKind }) => ({ text: 'Text to video', image: 'Image to video', ingredients: 'Ingredients to video' })[kind],
  pikaStatus: ({ status }: { status: ProgressStatusCode }) =>
    ({ waiting: 'Waiting to start', starting: 'Starting', queued: 'Queued', generating: 'Generating' })[status],
  pikaTitleRunning: ({ kind, status }: { kind: string; status: string }) => `🎬 ${kind}: ${status}`,
  pikaTitleDone: ({ kind }: { kind: string }) => `✅ ${kind}: done`,
  pikaTitleQueued: ({ kind }: { kind: string }) => `⏳ ${kind}: waiting in the queue`,
  pikaFieldPosition: 'Place in the queue',
  pikaFieldEstimatedStart: 'Estimated start',
  pikaQueuePosition: ({ position }: { position: number }): string => (position === 1 ? 'next' : `#${position}`),
  pikaQueueFooter: 'Your allowance is held for it; nothing is sent to Pika until it starts, and cancelling gives it back.',
  pikaButtonCancel: 'Cancel',
  pikaCancelStarted: 'It has already started, so it is being made (and paid for) and can no longer be cancelled.',
  pikaCancelNotYours: 'Only the person who asked for this video, or a moderator, can cancel it.',
  pikaTitleFailed: ({ kind }: { kind: string }) => `❌ ${kind}: failed`,
  pikaFieldProgress: 'Progress',
  pikaFieldElapsed: 'Elapsed',
  pikaFieldModel: 'Model',
  pikaFieldEffect: 'Effect',
  pikaFieldCamera: 'Camera',
  pikaFieldAspectRatio: 'Aspect ratio',
  pikaFieldMode: 'Mode',
  pikaFieldNegativePrompt: 'Negative prompt',
  pikaFieldSeed: 'Seed',
  pikaFieldDuration: 'Duration',
  pikaFieldTook: 'Took',
  pikaFieldVideo: 'Video',
  pikaFieldPrompt: 'Prompt',
  pikaNoEffect: 'none',
  pikaUnknownValue: 'unknown',
  pikaSeconds: ({ seconds }: { seconds: number }) => `${seconds} s`,
  pikaElapsedSeconds: ({ seconds }: { seconds: number }) => `${seconds}s`,
  pikaElapsedMinutes: ({ minutes, seconds }: { minutes: number; seconds: number }) => `${minutes}m ${String(seconds).padStart(2, '0')}s`,
  pikaCamera: ({ move }: { move: CameraMove }) =>
    ({
      zoom_in: 'zoom in',
      zoom_out: 'zoom out',
      pan_left: 'pan left',
      pan_right: 'pan right',
      tilt_up: 'tilt up',
      tilt_down: 'tilt down',
      rotate_cw: 'rotate clockwise',
      rotate_ccw: 'rotate counter-clockwise',
    })[move],
  pikaIngredientsMode: ({ mode }: { mode: IngredientsMode }) => ({ precise: 'precise', creative: 'creative' })[mode],
  /** A known effect as autocomplete lists it (the value sent to Pika stays the English name). */
  pikaEffectLabel: ({ effect }: { effect: KnownPikaffect }): string => effect,
  pikaNoPromptImage: '*Animating your image (no prompt)*',
  pikaNoPrompt: '*(no prompt)*',
  pikaPromptNone: '*(none)*',
  pikaVideoReady: ({ mention }: { mention: string }) => `${mention} your video is ready.`,
  pikaOpenVideoLink: ({ url }: { url: string }) => `[open the video](${url})`,
  pikaOpenVideoButton: 'Open video',
  pikaLinkTooLong: 'the address Pika gave is too long to show here',
  pikaTooLarge: ({ size }: { size: string | undefined }) => `Too large to upload here${size ? ` (${size})` : ''}`,
  pikaUnfetchable: 'I could not fetch the file to upload it',
  pikaLinked: ({ why, link }: { why: string; link: string }) => `${why}: ${link}`,
  pikaNoAddress: ({ why }: { why: string }) => `${why}, and Pika gave no address to link.`,
  pikaChannelOutcome: 'here is the outcome of your video request.',

  // Why a job ended without a video.
  pikaFailImageUnreadable: ({ option, problem }: { option: string | undefined; problem: string | undefined }) =>
    `Could not read \`${option ?? 'image'}\`: ${
      ({
        too_large: 'the file is larger than the bot is allowed to download.',
        bad_scheme: 'its address is not a web address the bot will fetch.',
        forbidden_address: 'its address points to a private network the bot does not fetch from.',
        empty: 'the file is empty.',
        timeout: 'downloading it took too long.',
        wrong_content: 'its content is not the kind of image its name says.',
      } as Record<string, string>)[problem ?? ''] ?? 'it could not be downloaded.'
    }`,
  pikaFailStoreUnavailable: 'I can’t reach my records right now, so nothing was started and nothing was charged. Please try again in a moment.',
  pikaFailInterruptedStart: `The bot restarted while this video was being started, so it is unknown whether it began. ${pikaNotSentAgain} Please try again.`,
  pikaFailOutcomeUnknown: ({ cause }: { cause: FailureCause }) =>
    `${
      {
        timeout: 'The video service did not answer in time',
        connection: 'The connection to the video service broke while starting the video',
        gateway: 'The video service’s gateway answered with an error while starting the video',
        unreadable: 'The video service gave an answer the bot could not understand',
      }[cause]
    }, so it is unknown whether the video started. ${pikaNotSentAgain} Please try again later.`,
  pikaFailMisconfigured: 'The bot is misconfigured: the video service refused its credentials. The operator has been alerted in the logs; please try again later.',
  pikaFailOutOfBalance: 'The bot’s video service account is out of credit, so no video could be started. Please let the bot’s operator know.',
  pikaFailRateLimited: 'The video service is busy right now. Please try again in a minute.',
  pikaFailRefused: ({ detail }: { detail: string | undefined }) => (detail ? `The video service refused this request: “${detail}”.` : 'The video service refused this request.'),
  pikaFailUpstreamError: 'The video service had an internal error and did not start the video. Please try again later.',
  pikaFailTaskFailed: ({ detail }: { detail: string | undefined }) => (detail ? `Pika could not make this video: “${detail}”.` : 'Pika could not make this video and gave no reason.'),
  pikaFailNoVideo: 'Pika said the video was finished but gave no address for it.',
  pikaFailNotMp4: 'Pika finished, but what it returned is not an mp4 video.',
  pikaFailTimedOut: ({ waited }: { waited: string }) => `The video was not ready after ${waited}, so the bot stopped waiting. Please try again.`,
  pikaFailUndeliverable: 'The video was made, but it could not be posted here. It did not count against your allowance.',
  pikaFailInternal: 'Something went wrong on the bot’s side. Nothing more will be charged for this request; please try again.',
  pikaFailCancelled: ({ by }: { by: string | undefined }) =>
    `Cancelled${by ? ` by <@${by}>` : ''} while it waited in the queue. Nothing was sent to Pika, and it did not count against your allowance.`,
  pikaFailPolicyRefused: 'While it waited in the queue, this server’s rules changed, so it was not started and did not count against your allowance.',
  pikaFailQueueExpired:
    'It waited in the queue for too long: Discord only lets me answer here for 15 minutes, and nowhere else. Nothing was charged; please try again when it is quieter.',
  pikaFailServiceUnavailable: 'When its turn came the video service was failing, so it was not started and did not count against your allowance. Please try again in a few minutes.',

  // Refusals before anything starts.
  pikaLimitsOff: 'Making videos is switched off here for now. A moderator can change that with `/pika-admin limits`.',
  pikaRefusedQueueFull: ({ waiting }: { waiting: number }) =>
    `You already have ${videos(waiting)} waiting in the queue, the most allowed. You can add another as soon as one of them starts.`,
  pikaRefusedConcurrency: ({ max }: { max: number }) =>
    `You already have ${videos(max)} in progress, the most allowed at once here. You can start another as soon as one finishes.`,
  pikaRefusedCooldown: ({ retryAt }: { retryAt: number | undefined }) => `Please wait a moment between videos: you can start your next one ${pikaWhen(retryAt, 'later')}.`,
  pikaRefusedDaily: ({ limit, retryAt }: { limit: number; retryAt: number | undefined }) =>
    `You have used all ${videos(limit)} of your daily allowance here. You can make more ${pikaWhen(retryAt, 'later')}.`,
  pikaRefusedWeekly: ({ limit, retryAt }: { limit: number; retryAt: number | undefined }) =>
    `You have used all ${videos(limit)} of your weekly allowance here. You can make more ${pikaWhen(retryAt, 'later')}.`,
  pikaRefusedServer: ({ limit, retryAt }: { limit: number; retryAt: number | undefined }) =>
    `This server has reached its limit of ${videos(limit)} for today. Videos can be made again ${pikaWhen(retryAt, 'later')}.`,
  pikaRefusedGlobal: ({ limit, retryAt }: { limit: number; retryAt: number | undefined }) =>
    `The bot has reached its daily limit of ${videos(limit)} across all servers. Videos can be made again ${pikaWhen(retryAt, 'later')}.`,
  pikaServiceUnavailable: ({ retryAt }: { retryAt: number | undefined }) =>
    `The video service is unavailable right now, so I’m not starting new videos for a moment. Please try again ${pikaWhen(retryAt, 'shortly')}.`,
  pikaPolicyBlocked: ({ reason }: { reason: string }) => `A moderator has blocked you from making videos in this server.${reason ? ` Reason: ${reason}` : ''}`,
  pikaPolicyRequiredRole: ({ roleId }: { roleId: string }) => `You need the <@&${roleId}> role to make videos in this server.`,
  pikaPolicyChannel: ({ channels }: { channels: string[] }) => `I can’t be used in this channel. Please use ${channels.join(', ')}.`,
  pikaPolicyBannedWord: 'Your prompt was refused by this server’s rules. Please rephrase it.',
  pikaMissingPermissions: ({ permissions }: { permissions: AppPermission[] }) => {
    const names = permissions.map((p) => `**${{ EmbedLinks: 'Embed Links', AttachFiles: 'Attach Files' }[p]}**`);
    const many = names.length > 1;
    return `I can’t post videos in this channel: I’m missing the ${names.join(' and ')} permission${many ? 's' : ''}. A moderator can grant ${many ? 'them' : 'it'} to my role in the channel settings.`;
  },
  pikaServersOnly: 'Here I only work in servers that installed me. Use me in a server channel, or add the app to your own account (its profile → Add App) to use it anywhere.',
  pikaUnknownSubcommand: 'I don’t know that subcommand. Try `/pika text`, `/pika image`, `/pika ingredients` or `/pika quota`.',

  // Options that fail the checks (Discord enforces most of them already).
  pikaOptionPromptEmpty: 'Please describe the video in `prompt`: it cannot be empty.',
  pikaOptionTooLong: ({ option, length, max }: { option: string; length: number; max: number }) =>
    `\`${option}\` is ${length} characters long; the most it can be is ${max}.`,
  pikaOptionPikaffectCharacters: 'That `pikaffect` contains characters an effect name cannot have.',
  pikaOptionImageMissing: 'Please attach an image in `image`.',
  pikaOptionImagesMissing: 'Please attach at least two images (`image1` and `image2`).',
  pikaOptionTooManyImages: ({ command }: { command: string }) => `That is more images than \`${command}\` takes.`,
  pikaOptionImageType: ({ option }: { option: string }) => `\`${option}\` must be a PNG, JPEG or WebP image.`,
  pikaOptionImageEmpty: ({ option }: { option: string }) => `\`${option}\` is an empty file.`,
  pikaOptionImageTooLarge: ({ option, size, max }: { option: string; size: string; max: string }) => `\`${option}\` is ${size}; images may be at most ${max}.`,
  pikaOptionNotAChoice: ({ option, choices }: { option: string; choices: readonly string[] }) => `\`${option}\` must be one of: ${choices.join(', ')}.`,
  pikaOptionOutOfRange: ({ option, integer, min, max }: { option: string; integer: boolean; min: number; max: number }) =>
    `\`${option}\` must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}.`,

  // `/pika quota`.
  pikaQuotaOwner: '**Your Pika allowance**\nYou are one of the bot’s owners: no limits apply to you.',
  pikaQuotaExempt: '**Your Pika allowance in this server**\nOne of your roles exempts you from this server’s limits.',
  pikaQuotaHeading: '**Your Pika allowance in this server**',
  pikaQuotaUnlimited: 'unlimited',
  pikaQuotaLeft: ({ left, resetsAt }: { left: number; resetsAt: number }) => `${videos(left)} left · resets ${relativeTime(resetsAt)}`,
  pikaQuotaToday: ({ allowance }: { allowance: string }) => `Today: ${allowance}`,
  pikaQuotaWeek: ({ allowance }: { allowance: string }) => `This week: ${allowance}`,
  pikaQuotaCooldown: ({ until }: { until: number | null }) => `Cooldown: ${until === null ? 'ready now' : `next video ${relativeTime(until)}`}`,
  pikaQuotaRunning: ({ running, max, waiting }: { running: number; max: number | null; waiting: number }) =>
    `In progress: ${running - waiting}${max === null ? '' : ` of at most ${max}`}${waiting > 0 ? `, and ${waiting} waiting in the queue` : ''}`,
  pikaQuotaBonus: ({ bonus }: { bonus: number }) => `Extra videos granted: ${bonus}`,
  pikaQuotaServer: ({ left, resetsAt }: { left: number; resetsAt: number }) => `Server today: ${videos(left)} left · resets ${relativeTime(resetsAt)}`,
};

/**
 * /pika-admin: answers to moderators (their locale) and the moderator changes, worded from the
 * `Change` values the edits return. The same change phrases are used in the audit log.
 */
const adminLimitLabels: Record<LimitField, string> = {
  dailyLimit: 'Videos per user per day',
  weeklyLimit: 'Videos per user per week',
  cooldownSeconds: 'Cooldown between a user’s videos',
  maxConcurrent: 'Videos in progress per user',
  serverDailyCap: 'Videos per day for the whole server',
};
const adminLimit = (value: Limit) => (value === null ? 'unlimited' : String(value));
const adminText = {
  // Refusals.
  adminServersOnly: 'This command works in servers only.',
  adminNotModerator: 'Only members with the **Manage Server** permission can change or view the Pika settings.',
  adminUnknownSubcommand: 'I don’t know that subcommand. Try `/pika-admin show`.',
  adminConcurrentAtLeastOne: '`concurrent` must be at least 1, or -1 for unlimited.',
  adminLimitInvalid: ({ label, value }: { label: string; value: Limit }) => `${label} cannot be ${adminLimit(value)}.`,
  adminNothingToChange: 'Nothing to change: give at least one limit, or `reset`.',
  adminAllowanceEmpty: 'Give `daily`, `weekly` or both.',
  adminNotBlocked: ({ userId }: { userId: string }) => `<@${userId}> is not blocked.`,
  adminWordEmpty: 'That word is empty.',
  adminWordAlreadyBanned: 'That word is already banned.',
  adminWordNotListed: 'That word is not on the list.',
  adminTooManyWords: ({ max }: { max: number }) => `A server can ban at most ${max} words.`,

  // Values and labels.
  adminLimitLabel: ({ field }: { field: LimitField }) => adminLimitLabels[field],
  adminUnlimited: 'unlimited',
  adminNoCooldown: 'none',
  adminSeconds: ({ seconds }: { seconds: number }) => `${seconds} s`,

  // Changes, as the answer ("Done: …") and the audit log ("<@moderator> …") word them.
  adminDone: ({ change }: { change: string }) => `Done: ${change}.`,
  adminChanges: ({ changes }: { changes: string[] }) => changes.join('; '),
  adminChangeLimitsReset: 'every limit reset to the bot’s defaults',
  adminChangeLimitSet: ({ label, value }: { label: string; value: Limit }) => `${label.toLowerCase()} set to ${adminLimit(value)}`,
  adminChangeRequiredRole: ({ roleId }: { roleId: string }) => `made <@&${roleId}> required to use the bot`,
  adminChangeNoRequiredRole: 'let everyone use the bot (no role required)',
  adminChangeRoleCleared: ({ roleId }: { roleId: string }) => `removed the rules of <@&${roleId}>`,
  adminChangeRoleExempt: ({ roleId }: { roleId: string }) => `exempted <@&${roleId}> from the limits`,
  adminChangeRoleNotExempt: ({ roleId }: { roleId: string }) => `stopped exempting <@&${roleId}>`,
  adminChangeRoleAllowance: ({ roleId, daily, weekly }: { roleId: string; daily: Limit | undefined; weekly: Limit | undefined }) =>
    `gave <@&${roleId}> an allowance of ${[daily !== undefined ? `${adminLimit(daily)} per day` : '', weekly !== undefined ? `${adminLimit(weekly)} per week` : ''].filter(Boolean).join(' and ')}`,
  adminChangeBlocked: ({ userId, reason }: { userId: string; reason: string | null }) => `blocked <@${userId}>${reason ? ` (reason: ${reason})` : ''}`,
  adminChangeUnblocked: ({ userId }: { userId: string }) => `unblocked <@${userId}>`,
  adminChangeWordBanned: 'banned a word in prompts',
  adminChangeWordAllowed: 'allowed a banned word again',
  adminChangeChannelAllowed: ({ channelId }: { channelId: string }) => `allowed the bot in <#${channelId}>`,
  adminChangeChannelDisallowed: ({ channelId, everywhere }: { channelId: string; everywhere: boolean }) =>
    `stopped allowing the bot in <#${channelId}>${everywhere ? ' (it may now be used in every channel)' : ''}`,
  adminChangeEveryChannel: 'allowed the bot in every channel',
  adminChangeAuditChannel: ({ channelId }: { channelId: string }) => `set the audit log to <#${channelId}>`,
  adminChangeAuditOff: 'turned the audit log off',
  adminChangeGranted: ({ userId, videos: count }: { userId: string; videos: number }) => `granted <@${userId}> ${count} extra ${pluralOf('en-US', count) === 'one' ? 'video' : 'videos'}`,
  adminChangeUsageReset: ({ userId }: { userId: string }) => `reset the usage of <@${userId}>`,
  adminGrantDone: ({ userId, total }: { userId: string; total: number }) => `Done: <@${userId}> now has ${total} extra ${pluralOf('en-US', total) === 'one' ? 'video' : 'videos'}.`,
  adminResetDone: ({ userId }: { userId: string }) => `Done: <@${userId}> starts today and this week afresh.`,

  // `/pika-admin show`.
  adminSettingsHeading: '**Pika settings for this server**',
  adminSettingsLimits: '__Limits__',
  adminSettingsLimit: ({ label, value, isDefault }: { label: string; value: string; isDefault: boolean }) => `${label}: ${value}${isDefault ? ' (default)' : ''}`,
  adminSettingsGlobal: ({ cap }: { cap: number | null }) => `All servers together (set by the operator): ${cap === null ? 'no daily cap' : `${videos(cap)} per day`}`,
  adminSettingsRoles: '__Roles__',
  adminSettingsRoleExempt: 'exempt from limits',
  adminSettingsRolePerDay: ({ limit }: { limit: Limit }) => `${adminLimit(limit)} per day`,
  adminSettingsRolePerWeek: ({ limit }: { limit: Limit }) => `${adminLimit(limit)} per week`,
  adminSettingsRole: ({ roleId, parts }: { roleId: string; parts: string[] }) => `<@&${roleId}>: ${parts.join(', ')}`,
  adminSettingsNoRoles: 'no role rules',
  adminSettingsRequiredRole: ({ roleId }: { roleId: string | null }) => `Required role: ${roleId ? `<@&${roleId}>` : 'none (everyone may use the bot)'}`,
  adminSettingsBlocked: '__Blocked users__',
  adminSettingsBlockedUser: ({ userId, reason }: { userId: string; reason: string | null }) => `<@${userId}>${reason ? `: ${reason}` : ''}`,
  adminSettingsNobody: 'nobody',
  adminSettingsWords: ({ count }: { count: number }) => `__Banned words__ (${count}; see \`/pika-admin words list\`)`,
  adminSettingsChannels: ({ channels }: { channels: string[] }) => `__Channels__: ${channels.length ? channels.join(', ') : 'every channel'}`,
  adminSettingsAudit: ({ channelId }: { channelId: string | null }) => `__Audit log__: ${channelId ? `<#${channelId}>` : 'off'}`,

  // `/pika-admin usage` and `/pika-admin words list`.
  adminUsageHeading: '**Pika usage in this server**',
  adminUsageTotals: ({ day, week }: { day: number; week: number }) => `Today (UTC): ${videos(day)} · This week: ${videos(week)}`,
  adminUsageTopToday: '__Top users today__',
  adminUsageTopWeek: '__Top users this week__',
  adminUsageNobody: 'nobody yet',
  adminUsageRank: ({ rank, userId, count }: { rank: number; userId: string; count: number }) => `${rank}. <@${userId}>: ${count}`,
  adminUserUsageHeading: ({ userId }: { userId: string }) => `**Pika usage of <@${userId}> in this server**`,
  adminUserUsageRunning: ({ running }: { running: number }) => `In progress: ${running}`,
  adminUserUsageBonus: ({ bonus }: { bonus: number }) => `Extra videos granted: ${bonus}`,
  adminUserUsageBlocked: ({ blocked }: { blocked: boolean }) => `Blocked: ${blocked ? 'yes' : 'no'}`,
  adminWordsNone: 'No words are banned.',
  adminWordsHeading: ({ count }: { count: number }) => `**Banned words (${count})**`,
  adminListCut: '(list cut short)',
};

/** The audit-log channel: the server's language. */
const auditText = {
  auditGeneration: ({ userId, command }: { userId: string; command: string }) => `🎬 <@${userId}> made a video with \`${command}\``,
  auditPrompt: ({ prompt }: { prompt: string }) => `Prompt: ${prompt || '*(none)*'}`,
  auditSeed: ({ seed }: { seed: number | undefined }) => `Seed: ${seed ?? 'unknown'}`,
  auditMessage: ({ url }: { url: string }) => `Message: ${url}`,
  auditChange: ({ moderatorId, change }: { moderatorId: string; change: string }) => `🛠️ <@${moderatorId}> ${change}`,
};

/**
 * The buttons on results and what they answer, the notification, `/pika history` and
 * `/pika show`. States and failures come in as codes; times as epoch ms.
 */
const jobText = {
  // Buttons.
  pikaButtonReroll: 'Re-roll',
  pikaButtonRemix: 'Remix',
  pikaButtonDelete: 'Delete',
  pikaButtonDetails: 'Details',
  pikaButtonTryAgain: 'Try again',
  pikaButtonPrevious: 'Newer',
  pikaButtonNext: 'Older',

  // The follow-up that notifies the requester.
  pikaNoticeReady: ({ mention, url }: { mention: string; url: string }) => `${mention} your video is ready: ${url}`,
  pikaNoticeFailed: ({ mention, url }: { mention: string; url: string }) => `${mention} your video could not be made: ${url}`,

  // Refusals of a button or of `/pika show`.
  jobExpired: 'This video’s record has expired, so its buttons no longer work. Start a new one with `/pika`.',
  jobImagesGone: ({ command }: { command: string }) =>
    `The images of this video are no longer available (Discord’s links to attachments expire after about a day). Attach them again with \`${command}\`.`,
  jobNotYoursDelete: 'Only the person who asked for this video, or a moderator, can delete it.',
  jobNotYoursShow: 'You can only bring back your own videos. `/pika history` lists them.',
  jobNoVideo: 'That request ended without a video, so there is nothing to show. `/pika history` lists your videos.',
  jobDeleted: 'Deleted.',
  jobWasDeleted: 'That video was deleted, so it is not posted again.',
  jobElsewhere: 'That video was made in another server (or in DMs); it can only be brought back there.',
  jobNotAModerator: 'Only moderators (Manage Server) can see another member’s history.',

  // Remix.
  remixTitle: 'Remix this video',
  remixPrompt: 'Prompt',
  remixNegativePrompt: 'Negative prompt',
  remixNegativePromptHint: 'What to avoid (optional)',
  remixEffect: 'Effect',
  remixNoEffect: 'No effect',
  remixCamera: 'Camera',
  remixNoCamera: 'No camera movement',
  remixMotion: 'Motion',
  remixMotionChoice: ({ motion }: { motion: number }): string => `${motion}${motion === 0 ? ' (still)' : motion === 4 ? ' (most)' : ''}`,

  // ℹ Details.
  detailsTitle: ({ kind }: { kind: string }) => `ℹ️ ${kind}`,
  detailsFieldRequester: 'Asked by',
  detailsFieldState: 'State',
  detailsFieldCreated: 'Made',
  detailsFieldFrameRate: 'Frame rate',
  detailsFieldGuidanceScale: 'Guidance scale',
  detailsFieldMotion: 'Motion',
  detailsFieldImages: 'Images',
  detailsFieldOrigin: 'Made from',
  detailsFieldMessage: 'Message',
  detailsFieldJob: 'Job id',
  detailsOrigin: ({ how, jobId }: { how: 'reroll' | 'remix'; jobId: string }): string => `${how === 'reroll' ? 'a re-roll' : 'a remix'} of \`${jobId}\``,
  detailsImages: ({ names }: { names: string }): string => names || 'none',
  detailsLegacy: 'Made by an earlier version of the bot, which kept only the options shown on the message.',
  jobState: ({ state, deleted }: { state: JobState; deleted: boolean }): string =>
    deleted
      ? '🗑️ deleted'
      : { queued: '⏳ waiting in the queue', starting: '⏳ starting', running: '🎬 in progress', delivering: '📤 being posted', delivered: '✅ delivered', failed: '❌ failed' }[state],

  // `/pika history` and `/pika-admin history`.
  historyTitle: ({ own }: { own: boolean }): string => (own ? '🕘 Your videos here' : '🕘 A member’s videos here'),
  historyEmpty: ({ own }: { own: boolean }): string => (own ? 'You have not made any videos here yet. Try `/pika text`.' : 'This member has not made any videos here.'),
  historyPage: ({ page, pageCount, total }: { page: number; pageCount: number; total: number }): string =>
    `Page ${page} of ${pageCount} · ${total} ${total === 1 ? 'video' : 'videos'} (kept for a limited time)`,
  historyEntry: ({ when, kind, state }: { when: number; kind: string; state: string }) => `<t:${Math.floor(when / 1000)}:f> · ${kind} · ${state}`,
  historySeed: ({ seed }: { seed: number }) => `seed \`${seed}\``,
  historyOpen: ({ url }: { url: string }) => `[open](${url})`,
  historyId: ({ id }: { id: string }) => `id \`${id}\``,

  // Audit log.
  auditDeleted: ({ moderatorId, userId, jobId }: { moderatorId: string; userId: string; jobId: string }): string =>
    moderatorId === userId ? `🗑️ <@${userId}> deleted their video (\`${jobId}\`)` : `🗑️ <@${moderatorId}> deleted a video by <@${userId}> (\`${jobId}\`)`,
};

/**
 * The names and descriptions of /pika and /pika-admin, as Discord shows them in the command
 * picker (commands/localize.ts turns them into `name_localizations`/`description_localizations`).
 * Names follow Discord's rules in every language: lowercase, 1–32 letters, digits, `-` or `_`,
 * unique among their siblings; descriptions and choice names 1–100 characters. The English
 * names are the canonical ones the code reads options by: never change them.
 */
const commandText = {
  // /pika
  cmdPikaName: 'pika',
  cmdPikaDescription: 'Make a short video with Pika',
  cmdPikaTextName: 'text',
  cmdPikaTextDescription: 'Make a video from a description',
  cmdPikaImageName: 'image',
  cmdPikaImageDescription: 'Bring an image to life',
  cmdPikaIngredientsName: 'ingredients',
  cmdPikaIngredientsDescription: 'Combine several images into one video (model 2.0)',
  cmdPikaQuotaName: 'quota',
  cmdPikaQuotaDescription: 'See how many videos you have left and when they reset',
  cmdPikaPromptName: 'prompt',
  cmdPikaPromptDescription: 'Describe the video',
  cmdPikaPromptImageDescription: 'How the image should move (optional)',
  cmdPikaModelName: 'model',
  cmdPikaModelDescription: 'Pika model version',
  cmdPikaModelChoice: ({ model }: { model: string }) => model,
  cmdPikaAspectRatioName: 'aspect_ratio',
  cmdPikaAspectRatioDescription: 'Width:height of the video (default 16:9)',
  cmdPikaAspectRatioChoice: ({ ratio }: { ratio: string }) => ratio,
  cmdPikaNegativePromptName: 'negative_prompt',
  cmdPikaNegativePromptDescription: 'What must not appear in the video',
  cmdPikaFrameRateName: 'frame_rate',
  cmdPikaFrameRateDescription: ({ min, max }: { min: number; max: number }) => `Frames per second (${min}–${max})`,
  cmdPikaGuidanceScaleName: 'guidance_scale',
  cmdPikaGuidanceScaleDescription: ({ min, max }: { min: number; max: number }) => `How closely to follow the prompt (${min}–${max})`,
  cmdPikaMotionName: 'motion',
  cmdPikaMotionDescription: ({ min, max }: { min: number; max: number }) => `Strength of motion (${min}–${max})`,
  cmdPikaPikaffectName: 'pikaffect',
  cmdPikaPikaffectDescription: 'A Pika effect such as Melt or Explode (adds sound)',
  cmdPikaCameraName: 'camera',
  cmdPikaCameraDescription: 'Camera movement',
  cmdPikaImageOptionName: 'image',
  cmdPikaImageOptionDescription: 'PNG, JPEG or WebP image',
  cmdPikaIngredientName: ({ number }: { number: number }) => `image${number}`,
  cmdPikaIngredientRequiredDescription: ({ number }: { number: number }) => `Image ${number} (PNG, JPEG or WebP)`,
  cmdPikaIngredientOptionalDescription: ({ number }: { number: number }) => `Image ${number} (optional)`,
  cmdPikaModeName: 'mode',
  cmdPikaModeDescription: 'precise (default) or creative',
  cmdPikaHistoryName: 'history',
  cmdPikaHistoryDescription: 'Your recent videos in this server',
  cmdPikaShowName: 'show',
  cmdPikaShowDescription: 'Bring one of your past videos back into the channel',
  cmdPikaShowIdName: 'id',
  cmdPikaShowIdDescription: 'The video (from /pika history or its Details)',

  // /pika-admin
  cmdAdminName: 'pika-admin',
  cmdAdminDescription: 'Moderate the Pika video bot in this server',
  cmdAdminLimitsName: 'limits',
  cmdAdminLimitsDescription: 'Set usage limits (only the options you give change)',
  cmdAdminDailyName: 'daily',
  cmdAdminLimitsDailyDescription: 'Videos per user per UTC day (0 = none, -1 = unlimited)',
  cmdAdminWeeklyName: 'weekly',
  cmdAdminLimitsWeeklyDescription: 'Videos per user per week (0 = none, -1 = unlimited)',
  cmdAdminCooldownName: 'cooldown',
  cmdAdminCooldownDescription: 'Seconds between a user’s videos (0 = none)',
  cmdAdminConcurrentName: 'concurrent',
  cmdAdminConcurrentDescription: 'Videos in progress per user (-1 = unlimited)',
  cmdAdminServerDailyName: 'server_daily',
  cmdAdminServerDailyDescription: 'Videos per UTC day for the whole server (-1 = unlimited)',
  cmdAdminLimitsResetName: 'reset',
  cmdAdminLimitsResetDescription: 'First put every limit back to the bot’s defaults',
  cmdAdminShowName: 'show',
  cmdAdminShowDescription: 'Show this server’s whole Pika configuration',
  cmdAdminUsageName: 'usage',
  cmdAdminUsageDescription: 'Show the top users and the totals for today and this week',
  cmdAdminUsageUserDescription: 'Show this member’s usage only',
  cmdAdminRoleGroupName: 'role',
  cmdAdminRoleGroupDescription: 'Give roles their own allowance, exempt them, or require one',
  cmdAdminAllowanceName: 'allowance',
  cmdAdminAllowanceDescription: 'Give a role its own allowance (a member gets the most generous of their roles)',
  cmdAdminAllowanceDailyDescription: 'Videos per day (-1 = unlimited)',
  cmdAdminAllowanceWeeklyDescription: 'Videos per week (-1 = unlimited)',
  cmdAdminExemptName: 'exempt',
  cmdAdminExemptDescription: 'Free a role from the per-user and server limits (or not)',
  cmdAdminExemptOptionDescription: 'true to exempt, false to stop',
  cmdAdminRoleClearName: 'clear',
  cmdAdminRoleClearDescription: 'Remove every rule of a role',
  cmdAdminRequireName: 'require',
  cmdAdminRequireDescription: 'Only members with this role may use the bot (leave empty to allow everyone)',
  cmdAdminRoleName: 'role',
  cmdAdminRoleDescription: 'The role',
  cmdAdminRequiredRoleDescription: 'The required role',
  cmdAdminUserGroupName: 'user',
  cmdAdminUserGroupDescription: 'Grant, reset, block or unblock one member',
  cmdAdminGrantName: 'grant',
  cmdAdminGrantDescription: 'Give a member extra videos, used once their allowance runs out',
  cmdAdminVideosName: 'videos',
  cmdAdminVideosDescription: 'How many extra videos',
  cmdAdminUserResetName: 'reset',
  cmdAdminUserResetDescription: 'Forget a member’s use of today and this week, and their cooldown',
  cmdAdminBlockName: 'block',
  cmdAdminBlockDescription: 'Stop a member from using the bot here',
  cmdAdminReasonName: 'reason',
  cmdAdminReasonDescription: 'Shown to the member when they try',
  cmdAdminUnblockName: 'unblock',
  cmdAdminUnblockDescription: 'Let a blocked member use the bot again',
  cmdAdminUserName: 'user',
  cmdAdminUserDescription: 'The member',
  cmdAdminWordsName: 'words',
  cmdAdminWordsDescription: 'Words that may not appear in prompts',
  cmdAdminWordsAddName: 'add',
  cmdAdminWordsAddDescription: 'Ban a word or phrase (whole words, any case)',
  cmdAdminWordsRemoveName: 'remove',
  cmdAdminWordsRemoveDescription: 'Allow a banned word again',
  cmdAdminWordsListName: 'list',
  cmdAdminWordsListDescription: 'List the banned words',
  cmdAdminWordName: 'word',
  cmdAdminWordDescription: 'The word or phrase',
  cmdAdminChannelsName: 'channels',
  cmdAdminChannelsDescription: 'Where the bot may be used (everywhere until you add one)',
  cmdAdminChannelsAddName: 'add',
  cmdAdminChannelsAddDescription: 'Allow the bot in a channel (and its threads)',
  cmdAdminChannelsRemoveName: 'remove',
  cmdAdminChannelsRemoveDescription: 'Stop allowing the bot in a channel',
  cmdAdminChannelsClearName: 'clear',
  cmdAdminChannelsClearDescription: 'Allow the bot in every channel again',
  cmdAdminChannelName: 'channel',
  cmdAdminChannelDescription: 'The channel',
  cmdAdminAuditLogName: 'audit-log',
  cmdAdminAuditLogDescription: 'Record every video and settings change in a channel (leave empty to stop)',
  cmdAdminAuditChannelDescription: 'The audit-log channel',
  cmdAdminHistoryName: 'history',
  cmdAdminHistoryDescription: 'A member’s recent videos in this server',
  cmdAdminHistoryUserDescription: 'The member',
};

export const enUS = {
  ...commandText,
  ...adminText,
  ...auditText,
  ...common,
  ...pikaText,
  ...jobText,
};

export type Catalog = typeof enUS;
export type MessageKey = keyof Catalog;
