import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createClient, type RedisClientType } from '@redis/client';
import Keyv from 'keyv';
import { emptyModeration } from '../../src/moderation/policy.js';
import { RedisStore } from '../../src/redis-store.js';
import { GuildSettingsStore, type GuildSettings } from '../../src/usage/guild-settings.js';
import type { GuildSettingsRecords, SettingsChangeListener } from '../../src/usage/guild-settings-records.js';
import { redisForSuite, redisMissing } from '../support/redis.js';

const skip = redisMissing();
const quiet = { connectionFailed: () => {}, notRecorded: () => {} };
/** What the brief promises moderators: a change is in force in every process within a second. */
const SEEN_WITHIN_MS = 1000;

/** Polls `read` until `expected(value)` holds; fails past `timeoutMs`. Answers how long it took. */
async function seenWithin<T>(read: () => T | Promise<T>, expected: (value: T) => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (expected(value)) return Date.now() - started;
    if (Date.now() - started > timeoutMs) assert.fail(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('servers’ settings shared by two processes on a real Redis', { skip }, () => {
  const redis = redisForSuite();
  let admin: RedisClientType;

  before(async () => {
    admin = redis.closeAfter(createClient({ url: redis.url }));
    await admin.connect();
  });
  beforeEach(async () => {
    await redis.flush();
  });

  /** Two processes: each its own store (connections, subscriber) and its own settings in memory. */
  async function twoProcesses(): Promise<Array<{ store: RedisStore; settings: GuildSettingsStore }>> {
    const opened = await Promise.all([RedisStore.open(redis.url, quiet), RedisStore.open(redis.url, quiet)]);
    opened.forEach((store) => redis.closeAfter(store));
    return opened.map((store) => ({ store, settings: new GuildSettingsStore(store.guildSettingsRecords()) }));
  }

  const dailyLimit = (settings: GuildSettings) => settings.limits.dailyLimit;

  test('a change made through one process is in force in the other within a second, though it had the old one in memory', async () => {
    const [a, b] = await twoProcesses();
    await a!.settings.update('g1', (settings) => void (settings.limits.dailyLimit = 3));
    await seenWithin(async () => dailyLimit(await b!.settings.get('g1')), (limit) => limit === 3, SEEN_WITHIN_MS, 'the first change');
    // b now holds g1 in memory; the next change must reach it all the same.
    assert.equal(dailyLimit(await b!.settings.get('g1')), 3);
    await a!.settings.update('g1', (settings) => {
      settings.limits.dailyLimit = 5;
      settings.moderation.bannedWords.push('forbidden');
    });
    const tookMs = await seenWithin(() => b!.settings.get('g1'), (settings) => settings.limits.dailyLimit === 5, SEEN_WITHIN_MS, 'the second change');
    assert.ok(tookMs < SEEN_WITHIN_MS);
    assert.deepEqual((await b!.settings.get('g1')).moderation.bannedWords, ['forbidden']);
    assert.equal(dailyLimit(await a!.settings.get('g1')), 5, 'the process that made it sees it too');
  });

  test('changes made at once through both processes are all kept', async () => {
    const [a, b] = await twoProcesses();
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`);
    await Promise.all(
      words.map((word, i) =>
        (i % 2 ? b! : a!).settings.update('g1', (settings) => {
          settings.moderation.bannedWords.push(word);
          settings.limits.dailyLimit = (settings.limits.dailyLimit ?? 0) + 1;
        }),
      ),
    );
    for (const process of [a!, b!]) {
      await seenWithin(() => process.settings.get('g1'), (s) => s.limits.dailyLimit === words.length, SEEN_WITHIN_MS, 'every change');
      assert.deepEqual([...(await process.settings.get('g1')).moderation.bannedWords].sort(), [...words].sort());
    }
  });

  test('what the change returns is what it made; a refused change stores nothing', async () => {
    const [a, b] = await twoProcesses();
    const { settings, result } = await a!.settings.update('g1', (current) => {
      current.moderation.requiredRoleId = 'r1';
      return 'made';
    });
    assert.equal(result, 'made');
    assert.equal(settings.moderation.requiredRoleId, 'r1');
    await assert.rejects(
      b!.settings.update('g1', (current) => {
        current.moderation.requiredRoleId = 'r2';
        throw new Error('refused');
      }),
      /refused/,
    );
    assert.equal((await a!.settings.get('g1')).moderation.requiredRoleId, 'r1');
  });

  test('word lost while a subscriber was disconnected: it drops what it held once it is back', async () => {
    const [a, b] = await twoProcesses();
    const heard = new Promise<void>((resolve) => b!.store.guildSettingsRecords().onChange((guildId) => guildId === 'g1' && resolve()));
    await a!.settings.update('g1', (settings) => void (settings.limits.dailyLimit = 1));
    await heard;
    assert.equal(dailyLimit(await b!.settings.get('g1')), 1);
    // A change whose word never came (as when it is published while the subscriber reconnects).
    await a!.store.namespace('guild-settings').set('g1', withLimit(2));
    assert.equal(dailyLimit(await b!.settings.get('g1')), 1, 'held in memory: no word came');
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    await seenWithin(async () => dailyLimit(await b!.settings.get('g1')), (limit) => limit === 2, 3000, 'the change after the reconnect');
  });

  test('records written before (by keyv, as the store always kept them) are read and changed in place', async () => {
    const [a, b] = await twoProcesses();
    const old: GuildSettings = { limits: { weeklyLimit: 9 }, moderation: { ...emptyModeration(), bannedWords: [':colon', 'plain'] } };
    await a!.store.namespace('guild-settings').set('g1', old);
    assert.equal((await b!.settings.get('g1')).limits.weeklyLimit, 9);
    await b!.settings.update('g1', (settings) => void (settings.limits.dailyLimit = 4));
    const stored = await a!.store.namespace('guild-settings').get<GuildSettings>('g1');
    assert.deepEqual(stored?.limits, { weeklyLimit: 9, dailyLimit: 4 });
    assert.deepEqual(stored?.moderation.bannedWords, [':colon', 'plain']);
  });

  test('close() closes every connection a store opened, its subscriber included', async () => {
    const connected = async () => (await admin.sendCommand(['CLIENT', 'LIST'])) as string;
    const count = async () => (await connected()).trim().split('\n').length;
    const before = await count();
    const store = await RedisStore.open(redis.url, quiet);
    assert.match(await connected(), /sub=1/, 'a subscriber connection is open');
    assert.ok((await count()) > before);
    await store.close();
    await seenWithin(count, (now) => now === before, 2000, 'the connections to close');
  });
});

/** Records whose reads the test answers by hand, to order them against word of changes. */
class HandRecords implements GuildSettingsRecords {
  listening = true;
  maxCacheAgeMs = Infinity;
  reads = 0;
  readonly answers: Array<(settings: GuildSettings | undefined) => void> = [];
  private listener: SettingsChangeListener = () => {};

  get(): Promise<GuildSettings | undefined> {
    this.reads++;
    return new Promise((resolve) => this.answers.push(resolve));
  }
  update(): Promise<never> {
    throw new Error('not used');
  }
  onChange(listener: SettingsChangeListener): void {
    this.listener = listener;
  }
  tell(guildId: string | null): void {
    this.listener(guildId);
  }
}

const withLimit = (dailyLimit: number): GuildSettings => ({ limits: { dailyLimit }, moderation: emptyModeration() });

describe('what a process keeps of the settings in memory', () => {
  test('it reads a guild once, and again after word of a change to it (only it)', async () => {
    const records = new HandRecords();
    const settings = new GuildSettingsStore(records);
    const first = settings.get('g1');
    records.answers.shift()!(withLimit(1));
    await first;
    await settings.get('g1');
    assert.equal(records.reads, 1);
    records.tell('g2');
    await settings.get('g1');
    assert.equal(records.reads, 1, 'word of another guild changes nothing');
    records.tell('g1');
    const again = settings.get('g1');
    records.answers.shift()!(withLimit(2));
    assert.equal((await again).limits.dailyLimit, 2);
    assert.equal(records.reads, 2);
  });

  test('a guild with no settings is kept too, and a burst of first reads waits for one read', async () => {
    const records = new HandRecords();
    const settings = new GuildSettingsStore(records);
    const burst = Array.from({ length: 20 }, () => settings.get('g1'));
    assert.equal(records.reads, 1);
    records.answers.shift()!(undefined);
    for (const read of await Promise.all(burst)) assert.equal(read.limits.dailyLimit, undefined);
    await settings.get('g1');
    assert.equal(records.reads, 1, 'its absence was kept');
    records.tell('g1');
    const again = settings.get('g1');
    records.answers.shift()!(withLimit(4));
    assert.equal((await again).limits.dailyLimit, 4);
    assert.equal(records.reads, 2);
  });

  test('a read that word of a change overtook is used once, not kept', async () => {
    const records = new HandRecords();
    const settings = new GuildSettingsStore(records);
    const pending = settings.get('g1');
    records.tell('g1'); // the change landed while the read was on its way: it may hold the old value
    records.answers.shift()!(withLimit(1));
    await pending;
    const next = settings.get('g1');
    assert.equal(records.reads, 2);
    records.answers.shift()!(withLimit(2));
    assert.equal((await next).limits.dailyLimit, 2);
  });

  test('word that may have been missed drops every guild; nothing is kept while word is not heard', async () => {
    const records = new HandRecords();
    const settings = new GuildSettingsStore(records);
    for (const guild of ['g1', 'g2']) {
      const read = settings.get(guild);
      records.answers.shift()!(withLimit(1));
      await read;
    }
    records.tell(null);
    records.listening = false;
    for (const guild of ['g1', 'g2', 'g1']) {
      const read = settings.get(guild);
      records.answers.shift()!(withLimit(1));
      await read;
    }
    assert.equal(records.reads, 5, 'both read again, and g1 not kept while deaf');
  });

  test('a copy older than the records allow is read again', async () => {
    const records = new HandRecords();
    records.maxCacheAgeMs = 1000;
    let clock = 0;
    const settings = new GuildSettingsStore(records, () => clock);
    const read = settings.get('g1');
    records.answers.shift()!(withLimit(1));
    await read;
    clock = 999;
    await settings.get('g1');
    assert.equal(records.reads, 1);
    clock = 1000;
    const again = settings.get('g1');
    records.answers.shift()!(withLimit(1));
    await again;
    assert.equal(records.reads, 2);
  });

  test('over a bare keyv (this process its only writer) a change is seen at once', async () => {
    const keyv = new Keyv();
    const settings = new GuildSettingsStore(keyv);
    assert.equal((await settings.get('g1')).limits.dailyLimit, undefined);
    await settings.update('g1', (current) => void (current.limits.dailyLimit = 3));
    assert.equal((await settings.get('g1')).limits.dailyLimit, 3);
    assert.deepEqual(await keyv.get('g1'), { limits: { dailyLimit: 3 }, moderation: emptyModeration() });
  });
});
