import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveShards } from '../../src/discord/shards.js';

describe('resolveShards', () => {
  const discordRecommends = (shards: number) => {
    const asked: string[] = [];
    return { asked, rest: { get: async (route: string) => (asked.push(route), { shards }) } as never };
  };

  test('auto asks Discord for its recommended count and runs every shard', async () => {
    const { asked, rest } = discordRecommends(3);
    assert.deepEqual(await resolveShards({ count: 'auto', ids: null }, rest), { shards: [0, 1, 2], shardCount: 3 });
    assert.deepEqual(asked, ['/gateway/bot']);
  });

  test('a set count is used as it is, without asking; SHARD_IDS picks some of them', async () => {
    const { asked, rest } = discordRecommends(8);
    assert.deepEqual(await resolveShards({ count: 4, ids: [1, 3] }, rest), { shards: [1, 3], shardCount: 4 });
    assert.deepEqual(asked, []);
  });

  test('SHARD_IDS beyond the recommended count stop the start with a clear error', async () => {
    const { rest } = discordRecommends(2);
    await assert.rejects(resolveShards({ count: 'auto', ids: [1, 2] }, rest), /SHARD_IDS 2 are not below the shard count 2/);
  });
});
