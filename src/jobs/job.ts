import type { ReplyTarget } from '../discord/replies.js';
import type { GenerationRequest } from '../pika/request.js';
import type { Reservation, Settlement } from '../usage/limits.js';
import type { PolicyRefusal, Requester } from '../moderation/policy.js';

/**
 * A video request as a durable record, and the only legal moves between its states:
 *
 *   queued ──► starting ──► running ──► delivering ──► delivered
 *      └──────────┴───────────┴────────────┴────────► failed
 *
 * `queued`: admitted (its allowance reserved), waiting for a slot; nothing sent. `starting`: generate was (maybe) sent, no task id yet. `running`: the upstream task id is known.
 * `delivering`: the feed said finished; what is needed to post the video is saved. Every
 * transition is stored before the side effect that depends on it, and ended jobs are kept (for
 * `JOB_RETENTION_DAYS`) as the history later features read. Pure: no I/O, clock passed in.
 */
export type JobState = 'queued' | 'starting' | 'running' | 'delivering' | 'delivered' | 'failed';

/** Bumped when the stored shape changes incompatibly, so old records can be recognised. */
export const JOB_VERSION = 1;

/** What the feed reported for a finished task: enough to deliver it after a restart. */
export interface JobResult {
  resultUrl: string | undefined;
  sharingUrl: string | undefined;
  seed: number | undefined;
  durationSeconds: number | undefined;
  finishedAt: number;
}

/** Where and how the video reached the user. */
export interface JobOutcome {
  messageId: string;
  channelId: string;
  messageUrl: string;
  seed: number | undefined;
  sizeBytes: number | undefined;
  /** `attached`: the mp4 is in the message; `linked`: too large or unreachable, so linked. */
  how: 'attached' | 'linked';
  /** `reply`: on the interaction's reply; `channel`: posted in the channel after the reply was gone. */
  where: 'reply' | 'channel';
}

/** The job another one was made from, by a button on its message. */
export interface JobOrigin {
  jobId: string;
  how: 'reroll' | 'remix';
}

/** Who removed the video's message, and when (by its 🗑 button). */
export interface JobDeletion {
  by: string;
  at: number;
}

/**
 * Why a job ended without a video, as data: the Discord edge turns it into words.
 * `billed` records whether the provider (may have) charged for it, which decides the settlement.
 */
export type FailureCode =
  | 'image_unreadable'
  | 'store_unavailable'
  | 'interrupted_start'
  | 'outcome_unknown'
  | 'misconfigured'
  | 'out_of_balance'
  | 'rate_limited'
  | 'refused'
  | 'upstream_error'
  | 'task_failed'
  | 'no_video'
  | 'not_mp4'
  | 'timed_out'
  | 'undeliverable'
  | 'internal'
  /** Cancelled while queued: never sent. */
  | 'cancelled'
  /** Queued, then refused by a moderation rule made meanwhile (`policy` says which). */
  | 'policy_refused'
  /** Queued where only the interaction can answer, until its token was about to expire. */
  | 'queue_expired'
  /** Queued, and the provider was failing when its turn came (the circuit breaker was open). */
  | 'service_unavailable';

/** For `outcome_unknown`: what left it unknown whether the task started. */
export type FailureCause = 'timeout' | 'connection' | 'gateway' | 'unreadable';

export interface Failure {
  code: FailureCode;
  billed: boolean;
  /** Upstream or validation text, already sanitized for display. */
  detail?: string;
  /** For `timed_out`: how long the bot waited. */
  waitedMs?: number;
  /** For `outcome_unknown`: what left it unknown. */
  cause?: FailureCause;
  /** For `image_unreadable`: the image option, and what was wrong with it. */
  option?: string;
  problem?: string;
  /** For `policy_refused`: the rule that turned it away. */
  policy?: PolicyRefusal;
  /** For `cancelled`: who cancelled it. */
  by?: string;
}

export interface Job {
  version: typeof JOB_VERSION;
  /** Also the id of the usage reservation it holds. */
  id: string;
  state: JobState;
  /** Every option the user chose (images by reference), so the job can be shown or re-run. */
  request: GenerationRequest;
  /** The requester's Discord locale and the server's, for words written later (resumes included). */
  locale: string;
  guildLocale: string | null;
  /** Where answers go. Its interaction token is a secret, dropped as soon as the job ends. */
  reply: ReplyTarget;
  reservation: Pick<Reservation, 'id' | 'guildId' | 'userId'>;
  /** Who asked and from where (roles, channel), as moderation saw it: checked again when a queued job starts. */
  requester?: Requester;
  pikaTaskId?: string;
  result?: JobResult;
  outcome?: JobOutcome;
  failure?: Failure;
  createdAt: number;
  updatedAt: number;
  /** Polling stops here: the provider took too long. Set again when a queued job starts. */
  deadlineAt: number;
  /** When it left the queue (or was created, if it never waited). */
  startedAt?: number;
  /** When delivery began: retries of a Discord outage stop `DELIVERY_RETRY_HOURS` later. */
  deliveringSince?: number;
  endedAt?: number;
  /** Set when the job was made by re-rolling or remixing another. */
  origin?: JobOrigin;
  /** The message id of the follow-up that told the requester, once sent. */
  notificationId?: string;
  deleted?: JobDeletion;
  /** Converted from an earlier version's task record, which kept only the displayed options. */
  legacy?: true;
}

export interface NewJob {
  id: string;
  request: GenerationRequest;
  locale: string;
  guildLocale: string | null;
  reply: ReplyTarget;
  reservation: Job['reservation'];
  now: number;
  timeoutMs: number;
  origin?: JobOrigin;
  requester?: Requester;
  /** It waits for a slot before it starts. */
  queued?: boolean;
}

export function newJob({ id, request, locale, guildLocale, reply, reservation, now, timeoutMs, origin, requester, queued }: NewJob): Job {
  return {
    ...(origin ? { origin } : {}),
    ...(requester ? { requester } : {}),
    ...(queued ? {} : { startedAt: now }),
    version: JOB_VERSION,
    id,
    state: queued ? 'queued' : 'starting',
    request,
    locale,
    guildLocale,
    reply,
    reservation,
    createdAt: now,
    updatedAt: now,
    deadlineAt: now + timeoutMs,
  };
}

export class InvalidTransitionError extends Error {
  override readonly name = 'InvalidTransitionError';
  constructor(job: Job, to: JobState) {
    super(`job ${job.id} cannot go from ${job.state} to ${to}`);
  }
}

export function isEnded(job: Job): boolean {
  return job.state === 'delivered' || job.state === 'failed';
}

function move(job: Job, from: readonly JobState[], to: JobState, now: number, changes: Partial<Job>): Job {
  if (!from.includes(job.state)) throw new InvalidTransitionError(job, to);
  return { ...job, ...changes, state: to, updatedAt: now };
}

/** The token is a secret that outlives its use: an ended job keeps no copy of it. */
function withoutToken(reply: ReplyTarget): ReplyTarget {
  const { interactionToken: _dropped, ...rest } = reply;
  return rest;
}

/** A queued job's turn came: its time limit starts now. */
export function markStarting(job: Job, now: number, timeoutMs: number): Job {
  return move(job, ['queued'], 'starting', now, { startedAt: now, deadlineAt: now + timeoutMs });
}

export function markRunning(job: Job, pikaTaskId: string, now: number): Job {
  return move(job, ['starting'], 'running', now, { pikaTaskId });
}

export function markDelivering(job: Job, result: JobResult, now: number): Job {
  return move(job, ['running'], 'delivering', now, { result, deliveringSince: now });
}

export function markDelivered(job: Job, outcome: JobOutcome, now: number): Job {
  return move(job, ['delivering'], 'delivered', now, { outcome, endedAt: now, reply: withoutToken(job.reply) });
}

export function markFailed(job: Job, failure: Failure, now: number): Job {
  return move(job, ['queued', 'starting', 'running', 'delivering'], 'failed', now, { failure, endedAt: now, reply: withoutToken(job.reply) });
}

/** The reply can no longer be written through the interaction: answers go to the channel. */
export function markReplyGone(job: Job, now: number): Job {
  return { ...job, reply: { ...job.reply, gone: true }, updatedAt: now };
}

/** Records the follow-up that notified the requester of the job's end. */
export function withNotification(job: Job, messageId: string, now: number): Job {
  return { ...job, notificationId: messageId, updatedAt: now };
}

/** Records that the video's message was deleted; the job stays in the history, marked so. */
export function markDeleted(job: Job, by: string, now: number): Job {
  if (job.state !== 'delivered') throw new InvalidTransitionError(job, 'delivered');
  return { ...job, deleted: { by, at: now }, updatedAt: now };
}

/**
 * Failures a second try can fix: not the user's own input (an image that could not be read, a
 * request the provider refused), and not a store that could not keep the job (its button would
 * find nothing to try again).
 */
export function canTryAgain(job: Job): boolean {
  return job.state === 'failed' && !['image_unreadable', 'refused', 'store_unavailable', 'cancelled', 'policy_refused'].includes(job.failure?.code ?? '');
}

export function withReplyMessage(job: Job, messageId: string, now: number): Job {
  return { ...job, reply: { ...job.reply, messageId }, updatedAt: now };
}

/**
 * How an ended job settles its reservation: a delivered video counts; a failure is given back
 * to the user, but a call the provider (may have) billed stays on the operator's bill ceiling.
 */
export function settlementFor(job: Job): Settlement {
  if (job.state === 'delivered') return 'delivered';
  if (job.state !== 'failed') throw new InvalidTransitionError(job, 'failed');
  return job.failure?.billed ? 'billed' : 'refunded';
}
