import type Keyv from 'keyv';
import type { Logger } from './logger.js';
import { RedisStore } from './redis-store.js';
import { Storage } from './storage.js';
import type { UsageBackend } from './usage/usage-store.js';
import { KeyvUsageBackend } from './usage/usage-store.js';

/** What the bot keeps: records by namespace, and the usage store. SQLite by default, or Redis. */
export interface Store {
  namespace(name: string): Keyv;
  usageBackend(): UsageBackend;
  close(): Promise<void>;
}

/** Opens the store `STORE_URL` names: `sqlite://path` (the default) or `redis://` / `rediss://`. */
export async function openStore(url: string, logger: Logger): Promise<Store> {
  if (/^rediss?:\/\//i.test(url)) {
    return RedisStore.open(
      url,
      (error) => logger.warn('the Redis connection failed; reconnecting', { error }),
      () => logger.error('another process took the Redis store over; stop one of them'),
    );
  }
  const storage = await Storage.open(url);
  return {
    namespace: (name) => storage.namespace(name),
    usageBackend: () => new KeyvUsageBackend(storage.namespace('usage')),
    close: () => storage.close(),
  };
}
