import { messagesFor, type Locale } from '../i18n/index.js';
import { AdmissionRefused } from '../jobs/admission.js';
import { JobActionRefused, type JobActionProblem } from '../jobs/job-actions.js';
import { formatBytes, InvalidOptions, type OptionProblem } from '../pika/request.js';
import { commandLabel, optionLabel } from './option-names.js';
import { renderPolicyRefusal, renderRefusal, renderServiceUnavailable } from './usage-messages.js';

/** Words, in `locale`, for what is wrong with a command's options. */
export function describeOptionProblem(problem: OptionProblem, locale: Locale): string {
  const t = messagesFor(locale);
  const option = 'option' in problem ? optionLabel(problem.option, locale) : '';
  switch (problem.code) {
    case 'prompt_empty':
      return t.pikaOptionPromptEmpty;
    case 'too_long':
      return t.pikaOptionTooLong({ ...problem, option });
    case 'pikaffect_characters':
      return t.pikaOptionPikaffectCharacters;
    case 'image_missing':
      return t.pikaOptionImageMissing;
    case 'images_missing':
      return t.pikaOptionImagesMissing;
    case 'too_many_images':
      return t.pikaOptionTooManyImages({ command: commandLabel(problem.kind, locale) });
    case 'image_type':
      return t.pikaOptionImageType({ option });
    case 'image_empty':
      return t.pikaOptionImageEmpty({ option });
    case 'image_too_large':
      return t.pikaOptionImageTooLarge({ option, size: formatBytes(problem.sizeBytes), max: formatBytes(problem.maxBytes) });
    case 'not_a_choice':
      return t.pikaOptionNotAChoice({ ...problem, option });
    case 'out_of_range':
      return t.pikaOptionOutOfRange({ ...problem, option });
  }
}

/** Words, in `locale`, for why a button (or `/pika show`) cannot act on a stored job. */
export function describeJobActionProblem(problem: JobActionProblem, locale: Locale): string {
  const t = messagesFor(locale);
  switch (problem.code) {
    case 'expired':
      return t.jobExpired;
    case 'images_gone':
      return t.jobImagesGone({ command: commandLabel(problem.kind, locale) });
    case 'not_yours':
      return problem.action === 'delete' ? t.jobNotYoursDelete : t.jobNotYoursShow;
    case 'no_video':
      return t.jobNoVideo;
    case 'deleted':
      return t.jobWasDeleted;
    case 'elsewhere':
      return t.jobElsewhere;
  }
}

/**
 * The words for a refusal the domain threw as data (a request that fails the checks, or one
 * admission turned away), in `locale`; undefined for any other error.
 */
export function describeRefusal(error: unknown, locale: Locale): string | undefined {
  if (error instanceof InvalidOptions) return describeOptionProblem(error.problem, locale);
  if (error instanceof JobActionRefused) return describeJobActionProblem(error.problem, locale);
  if (error instanceof AdmissionRefused) {
    const { refusal } = error;
    switch (refusal.kind) {
      case 'policy':
        return renderPolicyRefusal(refusal.refusal, locale);
      case 'service_unavailable':
        return renderServiceUnavailable(refusal.retryAt, locale);
      case 'limit':
        return renderRefusal(refusal.refusal, refusal.rules, refusal.globalDailyCap, locale);
    }
  }
  return undefined;
}
