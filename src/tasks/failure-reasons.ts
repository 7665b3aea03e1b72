import { DownloadError } from '../download.js';
import { PikaError } from '../pika/errors.js';
import { UserError } from '../errors.js';
import { formatDuration } from '../discord/messages.js';

/** Plain words for why no video came out of a request, safe to show to anyone. */
export function reasonFor(error: unknown): string {
  if (error instanceof UserError) return error.message;
  if (error instanceof PikaError) return pikaReason(error);
  if (error instanceof DownloadError) return downloadReason(error);
  return 'Something went wrong on the bot’s side. Nothing more will be charged for this request; please try again.';
}

function pikaReason(error: PikaError): string {
  switch (error.kind) {
    case 'unauthorized':
      return 'The bot is misconfigured: the video service refused its credentials. The operator has been alerted in the logs; please try again later.';
    case 'out_of_balance':
      return 'The bot’s video service account is out of credit, so no video could be started. Please let the bot’s operator know.';
    case 'rate_limited':
      return 'The video service is busy right now. Please try again in a minute.';
    case 'rejected':
      return error.details.upstreamMessage
        ? `The video service refused this request: “${error.details.upstreamMessage}”.`
        : 'The video service refused this request.';
    case 'timeout':
      return error.details.outcomeUnknown
        ? 'The video service did not answer in time, so it is unknown whether the video started. To avoid charging twice it was not sent again; please try again later.'
        : 'The video service did not answer in time. Please try again later.';
    case 'network':
      return error.details.outcomeUnknown
        ? 'The connection to the video service broke while starting the video, so it was not sent again (to avoid charging twice). Please try again later.'
        : 'The video service could not be reached. Please try again later.';
    case 'server':
      return 'The video service had an internal error and did not start the video. Please try again later.';
    case 'bad_response':
      return 'The video service gave an answer the bot could not understand. Please try again later.';
  }
}

function downloadReason(error: DownloadError): string {
  switch (error.reason) {
    case 'too_large':
      return 'The file is larger than the bot is allowed to download.';
    case 'bad_scheme':
      return 'The file’s address is not a web address the bot will fetch.';
    case 'empty':
      return 'The file is empty.';
    case 'timeout':
      return 'Downloading the file took too long.';
    default:
      return 'The file could not be downloaded.';
  }
}

export function taskErrorReason(upstreamError: string | undefined): string {
  return upstreamError
    ? `Pika could not make this video: “${upstreamError}”.`
    : 'Pika could not make this video and gave no reason.';
}

export function timeoutReason(timeoutMs: number): string {
  return `The video was not ready after ${formatDuration(timeoutMs)}, so the bot stopped waiting. Please try again.`;
}
