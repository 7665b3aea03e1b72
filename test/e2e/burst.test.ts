import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FakeInteraction } from '../fakes/discord.js';
import { isSettled, startWorld, type World } from '../support/world.js';

const BURST = 200;

describe(`a burst of ${BURST} commands`, () => {
  let world: World;
  let interactions: FakeInteraction[];

  before(async () => {
    world = await startWorld({ POLL_INTERVAL_MS: '100', POLL_CONCURRENCY: '16' });
    interactions = await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt: `burst ${i}` }, userId: String(10n ** 17n + BigInt(i)) }),
      ),
    );
    await Promise.all(interactions.map((i) => i.waitFor(isSettled, 60_000)));
  });
  after(async () => {
    await world?.close();
  });

  test('every command is acknowledged within 3 s', () => {
    const late = interactions.filter((i) => i.firstResponseAt === undefined || i.firstResponseAt - i.dispatchedAt >= 3000);
    assert.equal(late.length, 0, `${late.length} commands were not acknowledged in time`);
    assert.ok(interactions.every((i) => i.callbacks[0]?.type === 5));
    const delays = interactions.map((i) => i.firstResponseAt! - i.dispatchedAt).sort((a, b) => a - b);
    const spread = Math.max(...interactions.map((i) => i.dispatchedAt)) - Math.min(...interactions.map((i) => i.dispatchedAt));
    console.log(`acknowledgement of ${BURST} (dispatched within ${spread} ms): median ${delays[BURST / 2]} ms, p90 ${delays[Math.floor(BURST * 0.9)]} ms, slowest ${delays[BURST - 1]} ms`);
  });

  test('every command ends in its video, with one generate call each', () => {
    assert.equal(world.pika.generateCalls.length, BURST);
    assert.ok(interactions.every((i) => /done/.test(i.original!.embeds[0].title) && i.original!.attachments.length === 1));
  });

  test('interaction traffic never hit the REST client’s global limit', () => {
    const globalLimited = world.bot.lines.filter((line) => line.includes('discord rate limit') && line.includes('"global":true'));
    assert.deepEqual(globalLimited, []);
  });
});
