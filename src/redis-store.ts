import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import KeyvRedis from '@keyv/redis';
import { createClient, type RedisClientType } from '@redis/client';
import Keyv from 'keyv';
import { StoreInUseError, type StoreHolder } from './storage.js';
import { RedisUsageBackend } from './usage/redis-usage-backend.js';

const LOCK_KEY = 'pika:lock';
/** The lock lapses this long after its holder stops renewing it (a process killed with -9). */
const LOCK_TTL_MS = 10_000;
const LOCK_RENEW_MS = 3000;
/** Transactions of the usage store at once, each on a connection of its own (WATCH needs one). */
const POOL_SIZE = 8;

/** Deletes the lock only if it still holds the given value (this process's, or a dead holder's). */
const RELEASE_IF_OURS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const RENEW_IF_OURS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/**
 * The bot's storage on Redis (`STORE_URL=redis://…` or `rediss://…`): records through keyv's
 * Redis adapter, one keyv per namespace over one connection, and the usage store exact across
 * processes (RedisUsageBackend). For now, as on SQLite, one process at a time holds it: a lock
 * key renewed every few seconds (so a process killed with -9 frees it within LOCK_TTL_MS).
 * Jobs are resumed by the one process that holds the store; running several processes needs the
 * shared job pipeline, which is not built yet.
 */
export class RedisStore {
  private readonly spaces = new Map<string, Keyv>();
  private readonly renewal: NodeJS.Timeout;

  private constructor(
    private readonly client: RedisClientType,
    private readonly usage: RedisUsageBackend,
    private readonly holder: string,
    onLost: () => void,
  ) {
    this.renewal = setInterval(() => {
      void this.client.eval(RENEW_IF_OURS, { keys: [LOCK_KEY], arguments: [holder, String(LOCK_TTL_MS)] }).then(
        (renewed) => (renewed === 1 ? undefined : onLost()),
        () => {},
      );
    }, LOCK_RENEW_MS);
    this.renewal.unref();
  }

  /**
   * Connects, takes the lock (waiting out one left by a process that died), and proves the store
   * can be written and read. `onError` hears of connection errors later on (the client
   * reconnects by itself); `onLost` of a lock that another process took over.
   */
  static async open(url: string, onError: (error: unknown) => void, onLost: () => void): Promise<RedisStore> {
    const client: RedisClientType = createClient({ url });
    client.on('error', onError);
    let usage: RedisUsageBackend | undefined;
    try {
      await client.connect();
      usage = await RedisUsageBackend.connect(url, onError, { size: POOL_SIZE });
      const me: StoreHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      const holder = JSON.stringify(me);
      const deadline = Date.now() + LOCK_TTL_MS + LOCK_RENEW_MS;
      while ((await client.set(LOCK_KEY, holder, { condition: 'NX', expiration: { type: 'PX', value: LOCK_TTL_MS } })) !== 'OK') {
        const current = await client.get(LOCK_KEY);
        if (current && diedOnThisHost(JSON.parse(current) as StoreHolder)) {
          // Its holder was killed on this machine: no need to wait for the lock to lapse.
          await client.eval(RELEASE_IF_OURS, { keys: [LOCK_KEY], arguments: [current] });
          continue;
        }
        if (Date.now() > deadline) throw new StoreInUseError(redactUrl(url), current ? (JSON.parse(current) as StoreHolder) : undefined);
        await sleep(500);
      }
      const store = new RedisStore(client, usage, holder, onLost);
      const meta = store.namespace('meta');
      await meta.set('holder', me);
      if ((await meta.get('holder')) === undefined) throw new Error('a value written could not be read back');
      return store;
    } catch (error) {
      await Promise.allSettled([client.isOpen ? client.close() : undefined, usage?.close()]);
      if (error instanceof StoreInUseError) throw error;
      throw new Error(`Cannot open the store at ${redactUrl(url)}: ${(error as Error).message}`, { cause: error });
    }
  }

  namespace(name: string): Keyv {
    let space = this.spaces.get(name);
    if (!space) {
      space = new Keyv({ store: new KeyvRedis(this.client as never), namespace: `pika:${name}`, throwOnErrors: true });
      this.spaces.set(name, space);
    }
    return space;
  }

  usageBackend(): RedisUsageBackend {
    return this.usage;
  }

  async close(): Promise<void> {
    clearInterval(this.renewal);
    try {
      await this.client.eval(RELEASE_IF_OURS, { keys: [LOCK_KEY], arguments: [this.holder] });
    } finally {
      this.spaces.clear();
      await Promise.allSettled([this.client.close(), this.usage.close()]);
    }
  }
}

function diedOnThisHost(holder: StoreHolder): boolean {
  if (holder.host !== hostname() || holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured Redis';
  }
}
