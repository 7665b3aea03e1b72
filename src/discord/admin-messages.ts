import type { GenerationKind } from '../pika/request.js';
import { commandLabel } from './option-names.js';
/**
 * The words of /pika-admin's changes and refusals and of the audit-log channel, from the values
 * the moderation code returns. The moderator reads answers in their own language; the audit-log
 * channel belongs to the server and speaks the server's.
 */
import { messagesFor, type Locale } from '../i18n/index.js';
import type { Change, EditProblem } from '../moderation/settings-edits.js';
import { displayText } from './messages.js';

/** A change as a phrase: "blocked @ana", to follow "Done:" or the moderator's mention. */
export function renderChange(change: Change, locale: Locale): string {
  const t = messagesFor(locale);
  switch (change.kind) {
    case 'limits':
      return t.adminChanges({
        changes: [
          ...(change.reset ? [t.adminChangeLimitsReset] : []),
          ...change.set.map(({ field, value }) => t.adminChangeLimitSet({ label: t.adminLimitLabel({ field }), value })),
        ],
      });
    case 'required-role':
      return change.roleId ? t.adminChangeRequiredRole({ roleId: change.roleId }) : t.adminChangeNoRequiredRole;
    case 'role-cleared':
      return t.adminChangeRoleCleared({ roleId: change.roleId });
    case 'role-exempt':
      return change.exempt ? t.adminChangeRoleExempt({ roleId: change.roleId }) : t.adminChangeRoleNotExempt({ roleId: change.roleId });
    case 'role-allowance':
      return t.adminChangeRoleAllowance({ roleId: change.roleId, daily: change.daily, weekly: change.weekly });
    case 'user-blocked':
      return t.adminChangeBlocked({ userId: change.userId, reason: change.reason ? displayText(change.reason, 300) : null });
    case 'user-unblocked':
      return t.adminChangeUnblocked({ userId: change.userId });
    case 'word-banned':
      return t.adminChangeWordBanned;
    case 'word-allowed':
      return t.adminChangeWordAllowed;
    case 'channel-allowed':
      return t.adminChangeChannelAllowed({ channelId: change.channelId });
    case 'channel-disallowed':
      return t.adminChangeChannelDisallowed({ channelId: change.channelId, everywhere: change.everywhere });
    case 'every-channel':
      return t.adminChangeEveryChannel;
    case 'audit-channel':
      return change.channelId ? t.adminChangeAuditChannel({ channelId: change.channelId }) : t.adminChangeAuditOff;
    case 'bonus-granted':
      return t.adminChangeGranted({ userId: change.userId, videos: change.videos });
    case 'usage-reset':
      return t.adminChangeUsageReset({ userId: change.userId });
  }
}

/** The moderator's answer to an applied edit. */
export function renderDone(change: Change, locale: Locale): string {
  return messagesFor(locale).adminDone({ change: renderChange(change, locale) });
}

/** Why an edit was refused, for the moderator. */
export function renderEditProblem(problem: EditProblem, locale: Locale): string {
  const t = messagesFor(locale);
  switch (problem.kind) {
    case 'nothing-to-change':
      return t.adminNothingToChange;
    case 'concurrent-at-least-one':
      return t.adminConcurrentAtLeastOne;
    case 'invalid-limit':
      return t.adminLimitInvalid({ label: t.adminLimitLabel({ field: problem.field }), value: problem.value });
    case 'allowance-empty':
      return t.adminAllowanceEmpty;
    case 'not-blocked':
      return t.adminNotBlocked({ userId: problem.userId });
    case 'word-empty':
      return t.adminWordEmpty;
    case 'word-already-banned':
      return t.adminWordAlreadyBanned;
    case 'word-not-listed':
      return t.adminWordNotListed;
    case 'too-many-words':
      return t.adminTooManyWords({ max: problem.max });
  }
}

/** An audit-log line for a moderator's change. */
export function renderAuditChange(moderatorId: string, change: Change, locale: Locale): string {
  return messagesFor(locale).auditChange({ moderatorId, change: renderChange(change, locale) });
}

export interface GenerationRecord {
  userId: string;
  kind: GenerationKind;
  prompt: string;
  seed: number | undefined;
  messageUrl: string | undefined;
}

/** An audit-log entry for a video made. */
export function renderAuditGeneration(entry: GenerationRecord, locale: Locale): string {
  const t = messagesFor(locale);
  return [
    t.auditGeneration({ userId: entry.userId, command: commandLabel(entry.kind, locale) }),
    t.auditPrompt({ prompt: displayText(entry.prompt, 1500) }),
    t.auditSeed({ seed: entry.seed }),
    ...(entry.messageUrl ? [t.auditMessage({ url: entry.messageUrl })] : []),
  ].join('\n');
}

/** An audit-log entry for a video's message deleted by its button. */
export function renderAuditDeletion(deletedBy: string, requesterId: string, jobId: string, locale: Locale): string {
  return messagesFor(locale).auditDeleted({ moderatorId: deletedBy, userId: requesterId, jobId });
}
