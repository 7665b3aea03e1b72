import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import sqlite3 from 'sqlite3';
import { GroupCommitSqlite } from './sqlite-group-commit.js';

/** The process that has the store open, as it recorded itself once it held the lock. */
export interface StoreHolder {
  pid: number;
  host: string;
  /** When it took the lock (ISO 8601). */
  since: string;
}

const HOLDER_KEY = 'holder';

/**
 * The bot's persistent key-value storage: one keyv per namespace over the same SQLite file
 * (keyv adapters hold a single namespace each, so they are not shared). One process at a time:
 * two bots on one store would spend the same allowances and settle each other's tasks.
 */
export class Storage {
  private readonly spaces = new Map<string, Keyv>();

  private constructor(
    private readonly sqlitePath: string,
    private readonly lock: StoreLock,
  ) {}

  /**
   * Takes the store's lock, then opens (creating if needed) the store at `url` and proves it can
   * be written and read. Throws StoreInUseError, having touched nothing, if another process has it.
   */
  static async open(url: string): Promise<Storage> {
    const match = /^sqlite:\/\/(.+)$/.exec(url);
    if (!match) throw new Error(`STORE_URL must look like sqlite://path/to/file.sqlite or redis://host:port, got "${url}"`);
    const path = resolve(match[1]!);
    let lock: StoreLock | undefined;
    try {
      await mkdir(dirname(path), { recursive: true });
      lock = await StoreLock.take(path);
    } catch (error) {
      throw cannotOpen(path, error);
    }
    if (!lock) throw new StoreInUseError(path, await readHolder(path));

    const storage = new Storage(path, lock);
    try {
      const meta = storage.namespace('meta');
      const holder: StoreHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      await meta.set(HOLDER_KEY, holder);
      if ((await meta.get(HOLDER_KEY)) === undefined) throw new Error('a value written could not be read back');
      return storage;
    } catch (error) {
      // The failure to open is what the operator needs to hear about, not a failure to close after it.
      await storage.close().catch(() => {});
      throw cannotOpen(path, error);
    }
  }

  namespace(name: string): Keyv {
    let space = this.spaces.get(name);
    if (!space) {
      const adapter = new GroupCommitSqlite({ uri: `sqlite://${this.sqlitePath}`, busyTimeout: 5000 });
      // Write-ahead logging lets readers and the several connections work without blocking each
      // other; NORMAL sync is still durable across a crash of the bot (not of the machine).
      adapter
        .query('PRAGMA journal_mode = WAL')
        .then(() => adapter.query('PRAGMA synchronous = NORMAL'))
        .catch(() => {}); // an optimisation only: the default journal works too
      space = new Keyv({ store: adapter, namespace: name, throwOnErrors: true, serialize: serializeAsKeyvDoes });
      this.spaces.set(name, space);
    }
    return space;
  }

  /** Closes every connection, then lets another process have the store. */
  async close(): Promise<void> {
    try {
      await Promise.all([...this.spaces.values()].map((space) => space.disconnect()));
    } finally {
      this.spaces.clear();
      await this.lock.release();
    }
  }
}

/**
 * keyv's own stored format (@keyv/serialize: JSON in which a string starting with ":" gets one
 * more, so that it cannot read as a tagged value), written by the native JSON.stringify: keyv's
 * serializer builds the string in JavaScript, a few times slower, and every job record and usage
 * commit goes through it. Records stored either way read back the same.
 */
export function serializeAsKeyvDoes(data: unknown): string {
  const plain = JSON.stringify(data) ?? 'null';
  return MAY_HOLD_COLON_STRING.test(plain) ? (JSON.stringify(data, escapeColonString) ?? 'null') : plain;
}

/**
 * A string starting with ":" opens right after the start, a ":", a "," or a "[" of the JSON
 * around it. Where nothing looks like one, nothing needs escaping, and the replacer (which makes
 * JSON.stringify several times slower) is skipped; a key that only looks like one costs that.
 */
const MAY_HOLD_COLON_STRING = /(?:^|[:,[])":/;

function escapeColonString(_key: string, value: unknown): unknown {
  return typeof value === 'string' && value.startsWith(':') ? `:${value}` : value;
}

/** Another process has the store open. */
export class StoreInUseError extends Error {
  override readonly name = 'StoreInUseError';
  constructor(
    readonly path: string,
    readonly holder: StoreHolder | undefined,
  ) {
    const who = holder ? `process ${holder.pid} on host ${holder.host} (since ${holder.since})` : 'another process';
    super(`the store at ${path} is in use by ${who}; stop it or point STORE_URL elsewhere`);
  }
}

function cannotOpen(path: string, error: unknown): Error {
  return new Error(`Cannot open the store at ${path}: ${(error as Error).message}`, { cause: error });
}

/**
 * Exclusive use of the store: a write transaction held open on a SQLite file beside it for as long
 * as the store is open. The operating system drops the file lock under it when the process ends,
 * however it ends (kill -9, out of memory, power), so a dead holder never blocks the next start;
 * a pid file could not tell a dead holder from a new process that was given the same pid (in a
 * container the bot is always pid 1).
 */
class StoreLock {
  private constructor(private readonly database: sqlite3.Database) {}

  /** The lock, or undefined when another process holds it. */
  static async take(storePath: string): Promise<StoreLock | undefined> {
    const database = await new Promise<sqlite3.Database>((resolve, reject) => {
      const opened: sqlite3.Database = new sqlite3.Database(`${storePath}.lock`, (error) => (error ? reject(error) : resolve(opened)));
    });
    // Refused at once: waiting would only make a second start look like a hang.
    database.configure('busyTimeout', 0);
    try {
      await new Promise<void>((resolve, reject) => database.run('BEGIN IMMEDIATE', (error) => (error ? reject(error) : resolve())));
      return new StoreLock(database);
    } catch (error) {
      await closeDatabase(database);
      if ((error as { code?: unknown }).code === 'SQLITE_BUSY') return undefined;
      throw error;
    }
  }

  /** Closing the connection ends its transaction, and with it the lock. */
  release(): Promise<void> {
    return closeDatabase(this.database);
  }
}

function closeDatabase(database: sqlite3.Database): Promise<void> {
  return new Promise((resolve, reject) => database.close((error) => (error ? reject(error) : resolve())));
}

/**
 * Who holds the store, for the refusal message; undefined if that cannot be told. A holder records
 * itself just after taking the lock, so one that is starting right now gets a moment to do so.
 */
async function readHolder(storePath: string): Promise<StoreHolder | undefined> {
  const meta = new Keyv<StoreHolder>({ store: new KeyvSqlite({ uri: `sqlite://${storePath}` }), namespace: 'meta' });
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      const holder = await meta.get(HOLDER_KEY);
      if (holder) return holder;
      await sleep(100);
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    await meta.disconnect().catch(() => {});
  }
}

/** The store did not answer in time. */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';
  constructor() {
    super('the store did not answer in time');
  }
}

/** An error of the store: a timeout, or from the database under keyv (SQLITE_READONLY…). */
export function isStoreError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof StoreTimeoutError || (typeof code === 'string' && code.startsWith('SQLITE_')) || isRedisUnavailable(error);
}

/** The errors of a Redis store that does not answer: told to users as "records unreachable". */
export function isRedisUnavailable(error: unknown): boolean {
  // By name: the Redis client is loaded only for a Redis store, and a SQLite bot never needs it.
  return error instanceof Error && REDIS_UNAVAILABLE_ERRORS.has(error.constructor.name);
}

/** @redis/client's errors of a connection that is down or not back yet. */
const REDIS_UNAVAILABLE_ERRORS = new Set(['ClientClosedError', 'ClientOfflineError', 'ConnectionTimeoutError', 'SocketClosedUnexpectedlyError']);
