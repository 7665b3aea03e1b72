import type { Failure } from '../jobs/job.js';
import { optionLabel } from './option-names.js';
import { messagesFor, type Locale } from '../i18n/index.js';
import { formatDuration } from './messages.js';
import { renderPolicyRefusal } from './usage-messages.js';

/** Plain words, in `locale`, for why a job ended without a video, safe to show to anyone. */
export function describeFailure(failure: Failure, locale: Locale): string {
  const t = messagesFor(locale);
  switch (failure.code) {
    case 'image_unreadable':
      return t.pikaFailImageUnreadable({ option: optionLabel(failure.option ?? 'image', locale), problem: failure.problem });
    case 'store_unavailable':
      return t.pikaFailStoreUnavailable;
    case 'interrupted_start':
      return t.pikaFailInterruptedStart;
    case 'outcome_unknown':
      return t.pikaFailOutcomeUnknown({ cause: failure.cause ?? 'gateway' });
    case 'misconfigured':
      return t.pikaFailMisconfigured;
    case 'out_of_balance':
      return t.pikaFailOutOfBalance;
    case 'rate_limited':
      return t.pikaFailRateLimited;
    case 'refused':
      return t.pikaFailRefused({ detail: failure.detail });
    case 'upstream_error':
      return t.pikaFailUpstreamError;
    case 'task_failed':
      return t.pikaFailTaskFailed({ detail: failure.detail });
    case 'no_video':
      return t.pikaFailNoVideo;
    case 'not_mp4':
      return t.pikaFailNotMp4;
    case 'timed_out':
      return t.pikaFailTimedOut({ waited: formatDuration(failure.waitedMs ?? 0, locale) });
    case 'undeliverable':
      return t.pikaFailUndeliverable;
    case 'internal':
      return t.pikaFailInternal;
    case 'cancelled':
      return t.pikaFailCancelled({ by: failure.by });
    case 'policy_refused':
      return failure.policy ? `${t.pikaFailPolicyRefused} ${renderPolicyRefusal(failure.policy, locale)}` : t.pikaFailPolicyRefused;
    case 'queue_expired':
      return t.pikaFailQueueExpired;
    case 'service_unavailable':
      return t.pikaFailServiceUnavailable;
  }
}
