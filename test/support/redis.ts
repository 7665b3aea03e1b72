import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { createClient } from '@redis/client';

export interface RedisServer {
  url: string;
  /** Empties every key, between tests that must not see each other's records. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Why Redis tests cannot run here, or undefined when `redis-server` is on PATH. Under `CI=true`
 * a missing Redis is an error (CI installs it), so the tests can never be skipped unnoticed there.
 */
export function redisMissing(): string | undefined {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.status === 0) return undefined;
  if (process.env.CI === 'true') throw new Error('redis-server is not on PATH, and CI must run the Redis tests (.ci/run installs it)');
  return 'redis-server is not on PATH: the Redis tests are skipped (apt-get install redis-server to run them)';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A real redis-server of its own on a free loopback port, with nothing persisted. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'pika-redis-'));
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const client = createClient({ url, socket: { reconnectStrategy: false } });
  client.on('error', () => {});
  for (let attempt = 0; ; attempt++) {
    try {
      await client.connect();
      break;
    } catch (error) {
      if (attempt > 100) throw new Error(`redis-server did not start on port ${port}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    async flush() {
      await client.flushAll();
    },
    async stop() {
      await client.close().catch(() => {});
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What a suite opens on its Redis and must close before the server stops. */
interface Closeable {
  close(): Promise<unknown>;
}

/**
 * A real redis-server for the enclosing describe, through its hooks: started before its tests,
 * and stopped after them once everything handed to `closeAfter` is closed.
 */
export function redisForSuite(): { readonly url: string; flush(): Promise<void>; closeAfter<T extends Closeable>(opened: T): T } {
  let server: RedisServer | undefined;
  const opened: Closeable[] = [];
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await Promise.allSettled(opened.map((closeable) => closeable.close()));
    await server?.stop();
  });
  return {
    get url() {
      return server!.url;
    },
    flush: () => server!.flush(),
    closeAfter(closeable) {
      opened.push(closeable);
      return closeable;
    },
  };
}
