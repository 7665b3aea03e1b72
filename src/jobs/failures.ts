import { ImageUnreadableError } from '../pika/images.js';
import { PikaError } from '../pika/errors.js';
import { isStoreError } from '../storage.js';
import type { Failure } from './job.js';

/**
 * Classifies an error that ended a job before the provider accepted it. A generate call whose
 * outcome is unknown (timeout, dropped connection, a gateway's 502/503/504) may have been billed.
 */
export function failureBeforeStart(error: unknown): Failure {
  if (error instanceof ImageUnreadableError) return { code: 'image_unreadable', billed: false, option: error.optionName, problem: error.problem };
  if (isStoreError(error)) return { code: 'store_unavailable', billed: false };
  if (!(error instanceof PikaError)) return { code: 'internal', billed: false };
  // An answer we cannot read may still have started a task.
  if (error.details.outcomeUnknown || error.kind === 'bad_response') return { code: 'outcome_unknown', billed: true, cause: unknownOutcomeCause(error) };
  const detail = error.details.upstreamMessage;
  switch (error.kind) {
    case 'unauthorized':
      return { code: 'misconfigured', billed: false };
    case 'out_of_balance':
      return { code: 'out_of_balance', billed: false };
    case 'rate_limited':
      return { code: 'rate_limited', billed: false };
    case 'rejected':
      return { code: 'refused', billed: false, ...(detail ? { detail } : {}) };
    default:
      return { code: 'upstream_error', billed: false };
  }
}

function unknownOutcomeCause(error: PikaError): NonNullable<Failure['cause']> {
  if (error.kind === 'timeout') return 'timeout';
  if (error.kind === 'network') return 'connection';
  if (error.kind === 'bad_response') return 'unreadable';
  return 'gateway';
}

/** What the operator should do about a failure, for the log line. */
export function operatorActionFor(error: unknown): string {
  if (!(error instanceof PikaError)) return '';
  if (error.kind === 'unauthorized') return ': the Pika API refused the key — check PIKA_API_KEY (and PIKA_API_URL)';
  if (error.kind === 'out_of_balance') return ': the Pika account is out of balance — top it up with the provider';
  return '';
}
