/**
 * The custom ids of the bot's buttons and modals, encoded and decoded here only. They carry
 * everything a click needs (the job's id, a history page), so buttons keep working after a
 * restart and on old messages: nothing about them is held in memory. Discord caps them at 100
 * characters; a job id is a 36-character UUID.
 */
export type ComponentId =
  | { action: 'reroll' | 'remix' | 'delete' | 'details' | 'cancel'; jobId: string }
  | { action: 'history'; userId: string; page: number };

export type ComponentAction = ComponentId['action'];

const PREFIX = 'pika';
const JOB_ACTIONS = new Set<string>(['reroll', 'remix', 'delete', 'details', 'cancel']);
const JOB_ID = /^[0-9a-f-]{36}$/;

/** Whether `text` has the shape of a job id (a lowercase UUID), before any lookup. */
export function isJobId(text: string): boolean {
  return JOB_ID.test(text);
}
const SNOWFLAKE = /^\d{1,20}$/;

export function encodeComponentId(id: ComponentId): string {
  if (id.action === 'history') return [PREFIX, id.action, id.userId, id.page].join(':');
  return [PREFIX, id.action, id.jobId].join(':');
}

/** The id a button or modal of this bot carries, or undefined for anything else (another app's, a malformed one). */
export function decodeComponentId(customId: string): ComponentId | undefined {
  const [prefix, action, first, second, ...rest] = customId.split(':');
  if (prefix !== PREFIX || rest.length > 0 || !action || !first) return undefined;
  if (JOB_ACTIONS.has(action) && second === undefined && isJobId(first)) {
    return { action: action as 'reroll' | 'remix' | 'delete' | 'details' | 'cancel', jobId: first };
  }
  if (action === 'history' && SNOWFLAKE.test(first) && second !== undefined && /^\d{1,4}$/.test(second)) {
    return { action, userId: first, page: Number(second) };
  }
  return undefined;
}
