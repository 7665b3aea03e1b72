import type Keyv from 'keyv';
import type { GenerationDefaults } from '../config.js';
import type { DisplayRequest } from '../discord/messages.js';
import type { ReplyTarget } from '../discord/replies.js';
import type { Logger } from '../logger.js';
import { JOB_VERSION, type Job } from './job.js';
import type { JobStore } from './job-store.js';

const MIGRATED_KEY = 'migrated-to-jobs';

/** What versions before job records stored for a task in flight (namespace `tasks`). */
interface LegacyTaskRecord {
  id: string;
  state: 'starting' | 'running';
  pikaTaskId?: string;
  request: DisplayRequest;
  reply: ReplyTarget;
  reservation: Job['reservation'];
  createdAt: number;
  deadlineAt: number;
}

/**
 * Turns the task records of an earlier version into job records, once, before reconciliation,
 * so a video paid for before an upgrade is still delivered (its reservation, with the same id,
 * is what reconciliation finds). Those records kept only what a message shows: the options they
 * lack are the operator's defaults, and the job says it is `legacy`.
 */
export async function migrateLegacyTasks(legacy: Keyv, store: JobStore, defaults: GenerationDefaults, logger: Logger): Promise<number> {
  // Listing scans the whole store: done once, then remembered.
  if (await legacy.get(MIGRATED_KEY)) return 0;
  const records: Array<[string, LegacyTaskRecord]> = [];
  // By shape, not by key: processes starting together on one Redis each migrate, and one may
  // list the mark another has just set (under a key keyv's listing does not always unprefix).
  for await (const [key, value] of legacy.iterator?.(undefined) ?? []) if (isLegacyTask(value)) records.push([String(key), value]);
  for (const [key, task] of records) {
    const { imageCount: _count, ...shown } = task.request;
    const job: Job = {
      version: JOB_VERSION,
      id: task.reservation.id,
      state: task.state,
      request: { ...shown, frameRate: defaults.frameRate, guidanceScale: defaults.guidanceScale, motion: defaults.motion, images: [] },
      locale: 'en-US',
      guildLocale: null,
      reply: task.reply,
      reservation: task.reservation,
      ...(task.pikaTaskId ? { pikaTaskId: task.pikaTaskId } : {}),
      createdAt: task.createdAt,
      updatedAt: task.createdAt,
      deadlineAt: task.deadlineAt,
      legacy: true,
    };
    await store.save(job);
    await legacy.delete(key);
  }
  await legacy.set(MIGRATED_KEY, true);
  if (records.length > 0) logger.info('converted task records of an earlier version into jobs', { count: records.length });
  return records.length;
}

function isLegacyTask(value: unknown): value is LegacyTaskRecord {
  const task = value as Partial<LegacyTaskRecord> | null;
  return typeof task === 'object' && task !== null && typeof task.request === 'object' && typeof task.reservation === 'object';
}
