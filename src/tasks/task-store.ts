import type Keyv from 'keyv';
import type { DisplayRequest } from '../discord/messages.js';
import type { ReplyTarget } from '../discord/replies.js';
import type { Reservation } from '../usage/limits.js';

/**
 * A task the bot is responsible for, written before its generate call (so a crash in between is
 * visible) and updated once the upstream task id is known. Deleted when the task is settled.
 */
export interface TaskRecord {
  id: string;
  /** `starting`: generate was (maybe) sent, no id yet; `running`: polling the upstream task. */
  state: 'starting' | 'running';
  pikaTaskId?: string;
  request: DisplayRequest;
  reply: ReplyTarget;
  /** The allowance held for this task, settled exactly once when it ends. */
  reservation: Pick<Reservation, 'id' | 'guildId' | 'userId'>;
  createdAt: number;
  deadlineAt: number;
}

export class TaskStore {
  constructor(private readonly keyv: Keyv) {}

  save(record: TaskRecord): Promise<unknown> {
    return this.keyv.set(record.id, record);
  }

  get(id: string): Promise<TaskRecord | undefined> {
    return this.keyv.get<TaskRecord>(id);
  }

  delete(id: string): Promise<unknown> {
    return this.keyv.delete(id);
  }

  /** Every unsettled task, e.g. to resume after a restart. */
  async list(): Promise<TaskRecord[]> {
    const records: TaskRecord[] = [];
    if (!this.keyv.iterator) return records;
    for await (const [, value] of this.keyv.iterator(undefined)) {
      if (value) records.push(value as TaskRecord);
    }
    return records;
  }
}
