import type { Failure } from '../jobs/job.js';
import { formatDuration } from './messages.js';

const NOT_SENT_AGAIN = 'To avoid charging twice it was not sent again, and it did not count against your allowance.';

const IMAGE_PROBLEMS: Record<string, string> = {
  too_large: 'the file is larger than the bot is allowed to download.',
  bad_scheme: 'its address is not a web address the bot will fetch.',
  forbidden_address: 'its address points to a private network the bot does not fetch from.',
  empty: 'the file is empty.',
  timeout: 'downloading it took too long.',
  wrong_content: 'its content is not the kind of image its name says.',
  network: 'it could not be downloaded.',
};

const UNKNOWN_OUTCOME_CAUSES: Record<NonNullable<Failure['cause']>, string> = {
  timeout: 'The video service did not answer in time',
  connection: 'The connection to the video service broke while starting the video',
  gateway: 'The video service’s gateway answered with an error while starting the video',
  unreadable: 'The video service gave an answer the bot could not understand',
};

/** Plain words for why a job ended without a video, safe to show to anyone. */
export function describeFailure(failure: Failure): string {
  switch (failure.code) {
    case 'image_unreadable':
      return `Could not read \`${failure.option ?? 'image'}\`: ${IMAGE_PROBLEMS[failure.problem ?? ''] ?? IMAGE_PROBLEMS.network}`;
    case 'store_unavailable':
      return 'I can’t reach my records right now, so nothing was started and nothing was charged. Please try again in a moment.';
    case 'interrupted_start':
      return `The bot restarted while this video was being started, so it is unknown whether it began. ${NOT_SENT_AGAIN} Please try again.`;
    case 'outcome_unknown':
      return `${UNKNOWN_OUTCOME_CAUSES[failure.cause ?? 'gateway']}, so it is unknown whether the video started. ${NOT_SENT_AGAIN} Please try again later.`;
    case 'misconfigured':
      return 'The bot is misconfigured: the video service refused its credentials. The operator has been alerted in the logs; please try again later.';
    case 'out_of_balance':
      return 'The bot’s video service account is out of credit, so no video could be started. Please let the bot’s operator know.';
    case 'rate_limited':
      return 'The video service is busy right now. Please try again in a minute.';
    case 'refused':
      return failure.detail ? `The video service refused this request: “${failure.detail}”.` : 'The video service refused this request.';
    case 'upstream_error':
      return 'The video service had an internal error and did not start the video. Please try again later.';
    case 'task_failed':
      return failure.detail ? `Pika could not make this video: “${failure.detail}”.` : 'Pika could not make this video and gave no reason.';
    case 'no_video':
      return 'Pika said the video was finished but gave no address for it.';
    case 'not_mp4':
      return 'Pika finished, but what it returned is not an mp4 video.';
    case 'timed_out':
      return `The video was not ready after ${formatDuration(failure.waitedMs ?? 0)}, so the bot stopped waiting. Please try again.`;
    case 'undeliverable':
      return 'The video was made, but it could not be posted here. It did not count against your allowance.';
    case 'internal':
      return 'Something went wrong on the bot’s side. Nothing more will be charged for this request; please try again.';
  }
}
