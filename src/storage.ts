import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';

/**
 * The bot's persistent key-value storage: one keyv per namespace over the same SQLite file
 * (keyv adapters hold a single namespace each, so they are not shared).
 */
export class Storage {
  private readonly spaces = new Map<string, Keyv>();

  private constructor(private readonly sqlitePath: string) {}

  /** Opens (creating if needed) the store at `url` and proves it can be written and read. */
  static async open(url: string): Promise<Storage> {
    const match = /^sqlite:\/\/(.+)$/.exec(url);
    if (!match) throw new Error(`STORE_URL must look like sqlite://path/to/file.sqlite, got "${url}"`);
    const path = resolve(match[1]!);
    try {
      await mkdir(dirname(path), { recursive: true });
      const storage = new Storage(path);
      const probe = storage.namespace('meta');
      await probe.set('last-open', Date.now());
      if ((await probe.get('last-open')) === undefined) throw new Error('a value written could not be read back');
      return storage;
    } catch (error) {
      throw new Error(`Cannot open the store at ${path}: ${(error as Error).message}`, { cause: error });
    }
  }

  namespace(name: string): Keyv {
    let space = this.spaces.get(name);
    if (!space) {
      const adapter = new KeyvSqlite({ uri: `sqlite://${this.sqlitePath}`, busyTimeout: 5000 });
      // Write-ahead logging lets readers and the several connections work without blocking each
      // other; NORMAL sync is still durable across a crash of the bot (not of the machine).
      adapter
        .query('PRAGMA journal_mode = WAL')
        .then(() => adapter.query('PRAGMA synchronous = NORMAL'))
        .catch(() => {}); // an optimisation only: the default journal works too
      space = new Keyv({ store: adapter, namespace: name, throwOnErrors: true });
      this.spaces.set(name, space);
    }
    return space;
  }

  async close(): Promise<void> {
    await Promise.all([...this.spaces.values()].map((space) => space.disconnect()));
    this.spaces.clear();
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
  return error instanceof StoreTimeoutError || (typeof code === 'string' && code.startsWith('SQLITE_'));
}
