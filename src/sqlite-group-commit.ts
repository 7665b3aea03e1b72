import KeyvSqlite from '@keyv/sqlite';
import type { StoredData } from 'keyv';
import { GroupCommits } from './util/group-commits.js';

/** What a group commit needs of @keyv/sqlite: its connection and its table. */
export interface SqliteConnection {
  query(sql: string, ...parameters: unknown[]): Promise<Array<{ key: string; value: string }>>;
  opts: { table?: string };
}

/**
 * Stores `rows` (key and serialized value) in one SQL statement, which SQLite applies whole or
 * not at all. The rows travel as one JSON parameter: a statement with a placeholder per value
 * would hit SQLite's limit on parameters in a large batch.
 */
export async function upsertRows(connection: SqliteConnection, rows: ReadonlyArray<readonly [key: string, value: string]>): Promise<void> {
  if (rows.length === 0) return;
  await connection.query(
    `INSERT INTO ${connection.opts.table} (key, value) SELECT json_extract(row.value, '$[0]'), json_extract(row.value, '$[1]') FROM json_each(?) AS row WHERE true ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
    JSON.stringify(rows),
  );
}

/** Deletes `keys` in one statement; answers those that were there. */
export async function deleteRows(connection: SqliteConnection, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const deleted = await connection.query(`DELETE FROM ${connection.opts.table} WHERE key IN (SELECT value FROM json_each(?)) RETURNING key`, JSON.stringify(keys));
  return new Set(deleted.map(({ key }) => key));
}

/**
 * @keyv/sqlite with group commits: the writes made while a commit is under way, or in the same
 * turn of the event loop, are stored together by the next one, one statement for the sets and
 * one for the deletes, instead of a statement each. Every SQL statement costs the event loop a
 * round trip through libuv's thread pool, and a job alone is written half a dozen times, so a
 * burst of commands otherwise keeps the loop busy when it should be answering Discord.
 *
 * Nothing is answered early: a write resolves once it is stored, and a read of a key being
 * written waits for that write, so callers see what they saw with the plain adapter.
 */
export class GroupCommitSqlite extends KeyvSqlite {
  /** Writes for the next commit, by key: a serialized value, or undefined to delete. */
  private readonly pending = new Map<string, string | undefined>();
  /** The commit each key waiting to be stored is in. */
  private readonly storing = new Map<string, Promise<Set<string>>>();
  private readonly commits = new GroupCommits<Set<string>>();

  override async set(key: string, value: string): Promise<void> {
    await this.enqueue(key, value);
  }

  override async delete(key: string): Promise<boolean> {
    // A key whose set is still waiting was there, as far as the caller can tell.
    const wasPendingSet = this.pending.get(key) !== undefined;
    const deleted = await this.enqueue(key, undefined);
    return wasPendingSet || deleted.has(key);
  }

  override async deleteMany(keys: string[]): Promise<boolean> {
    return (await Promise.all(keys.map((key) => this.delete(key)))).some(Boolean);
  }

  override async get<Value>(key: string): Promise<Value | undefined> {
    await this.stored([key]);
    return super.get<Value>(key);
  }

  override async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    await this.stored(keys);
    return super.getMany<Value>(keys);
  }

  override async has(key: string): Promise<boolean> {
    await this.stored([key]);
    return super.has(key);
  }

  override async clear(): Promise<void> {
    await this.commits.idle();
    return super.clear();
  }

  override async *iterator(namespace?: string): AsyncGenerator<unknown, void, unknown> {
    await this.commits.idle();
    yield* super.iterator(namespace);
  }

  override async disconnect(): Promise<void> {
    await this.commits.idle();
    return super.disconnect();
  }

  private enqueue(key: string, value: string | undefined): Promise<Set<string>> {
    this.pending.set(key, value);
    const commit = this.commits.soon(() => this.storePending());
    this.storing.set(key, commit);
    return commit;
  }

  /** Once the writes of `keys` under way are over (stored or failed: their callers hear which). */
  private async stored(keys: readonly string[]): Promise<void> {
    const commits = keys.flatMap((key) => this.storing.get(key) ?? []);
    if (commits.length > 0) await Promise.allSettled(commits);
  }

  /** Stores every pending write: the sets in one statement, then the deletes in another; answers the keys deleted. */
  private async storePending(): Promise<Set<string>> {
    const batch = [...this.pending];
    this.pending.clear();
    try {
      const sets = batch.filter((write): write is [string, string] => write[1] !== undefined);
      const deletes = batch.filter(([, value]) => value === undefined).map(([key]) => key);
      await upsertRows(this, sets);
      return await deleteRows(this, deletes);
    } finally {
      // A key written again meanwhile is pending again, and its reads wait for that next commit.
      for (const [key] of batch) if (!this.pending.has(key)) this.storing.delete(key);
    }
  }
}
