import { Routes, type REST, type RESTGetAPIGatewayBotResult } from 'discord.js';
import type { ShardPlan } from '../config.js';

/** The gateway shards this process runs, as discord.js takes them. */
export interface ShardAssignment {
  shards: number[];
  shardCount: number;
}

/**
 * Turns SHARD_COUNT and SHARD_IDS into the shards to run: `auto` asks Discord for its
 * recommended count (the bot needs more shards as it joins servers), and no SHARD_IDS means all.
 */
export async function resolveShards(plan: ShardPlan, rest: Pick<REST, 'get'>): Promise<ShardAssignment> {
  const shardCount = plan.count === 'auto' ? ((await rest.get(Routes.gatewayBot())) as RESTGetAPIGatewayBotResult).shards : plan.count;
  const shards = plan.ids ?? Array.from({ length: shardCount }, (_, id) => id);
  const outside = shards.filter((id) => id >= shardCount);
  if (outside.length > 0) {
    throw new Error(`SHARD_IDS ${outside.join(', ')} are not below the shard count ${shardCount} (Discord's recommendation; set SHARD_COUNT to choose the count)`);
  }
  return { shards, shardCount };
}
