import type { GenerationDefaults } from '../config.js';
import { checkGenerationOptions, type GenerationKind, type GenerationRequest, type RawGenerationOptions } from '../pika/request.js';
import type { Job } from './job.js';

/** Why a button or command acting on a stored job was turned away, as data: the Discord edge words it. */
export type JobActionProblem =
  /** No such job: removed after the retention period (or never made). */
  | { code: 'expired' }
  /** The job's images can no longer be fetched (Discord's attachment links expire), or were never kept. */
  | { code: 'images_gone'; kind: GenerationKind }
  /** Only the requester (or a moderator) may do this. */
  | { code: 'not_yours'; action: 'delete' | 'show' }
  /** The job ended without a video. */
  | { code: 'no_video' }
  /** Its video was deleted (by its 🗑 button): not to be posted again. */
  | { code: 'deleted' }
  /** Made in another server (or in DMs): shown only where it was made. */
  | { code: 'elsewhere' };

export class JobActionRefused extends Error {
  override readonly name = 'JobActionRefused';
  constructor(readonly problem: JobActionProblem) {
    super(`job action refused: ${problem.code}`);
  }
}

/** The job, or a refusal saying it has expired. */
export function requireJob(job: Job | undefined): Job {
  if (!job) throw new JobActionRefused({ code: 'expired' });
  return job;
}

/** What a remix may change; everything else is the original's. */
export interface RemixChanges {
  prompt: string;
  negativePrompt: string;
  pikaffect: string;
  camera: string | null;
  motion: number;
}

/** How long before a link's expiry it is no longer handed on: the provider fetches it a little later. */
const LINK_EXPIRY_MARGIN_MS = 60_000;

/**
 * The request of a re-roll (no changes) or a remix of `job`: every option the same, the same
 * images, checked again as a command's options are (the operator's limits may have changed).
 * Pika picks a new seed by itself; the API takes none.
 */
export function rerunRequest(job: Job, changes: RemixChanges | undefined, defaults: GenerationDefaults, maxImageBytes: number, now: number): GenerationRequest {
  const { request } = job;
  const imagesNeeded = request.kind === 'text' ? 0 : request.kind === 'image' ? 1 : 2;
  if (request.images.length < imagesNeeded || request.images.some((image) => linkExpired(image.url, now))) {
    throw new JobActionRefused({ code: 'images_gone', kind: request.kind });
  }
  const raw: RawGenerationOptions = {
    prompt: changes?.prompt ?? request.prompt,
    negative_prompt: changes?.negativePrompt ?? request.negativePrompt,
    model: request.model,
    aspect_ratio: request.aspectRatio ?? null,
    frame_rate: request.frameRate,
    guidance_scale: request.guidanceScale,
    motion: changes?.motion ?? request.motion,
    pikaffect: changes?.pikaffect ?? request.pikaffect,
    camera: changes ? changes.camera : (request.camera ?? null),
    mode: request.ingredientsMode ?? null,
    images: request.images,
  };
  return checkGenerationOptions(request.kind, raw, defaults, maxImageBytes);
}

/**
 * Discord's attachment links are signed and expire (`ex`: the expiry as hex Unix seconds).
 * Links without one are assumed to last.
 */
export function linkExpired(url: string, now: number): boolean {
  let ex: string | null;
  try {
    ex = new URL(url).searchParams.get('ex');
  } catch {
    return true;
  }
  if (!ex || !/^[0-9a-f]{1,12}$/i.test(ex)) return false;
  return Number.parseInt(ex, 16) * 1000 <= now + LINK_EXPIRY_MARGIN_MS;
}

/** Who may delete a video's message: its requester, and moderators. */
export function mayDelete(job: Job, userId: string, isModerator: boolean): boolean {
  return isModerator || job.reservation.userId === userId;
}
